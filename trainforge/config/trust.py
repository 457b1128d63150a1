"""Which code a config names, and whether the loader's user chose it.

A config the user wrote (``--config``, ``--set``, a dict passed to ``fit``) names code the user
chose: ``model.architecture: "pkg.mod:Net"`` and ``data.source: "pkg.mod:load"`` are imported as
asked. A config read back out of a checkpoint or a registry entry is data from elsewhere: its
import paths are imported only when the user says so (``--trust_model_code``,
``trust_model_code=True``), in the spirit of Hugging Face's ``trust_remote_code``. trainforge's
own builders (simple_cnn, mlp, torchvision names) import nothing a file can choose, so they
never need trust.
"""

from __future__ import annotations

from trainforge.config.schema import TrainConfig
from trainforge.errors import ModelError

TRUST_FLAG = "--trust_model_code"


def is_import_path(value: str) -> bool:
    """``"package.module:Name"``: code to import, as opposed to a built-in name."""
    return ":" in value


def code_references(cfg: TrainConfig, *, data: bool = False) -> list[tuple[str, str]]:
    """``(key, import path)`` of the code the config would import: the model class, and with
    ``data`` the data source function (only training calls it)."""
    found: list[tuple[str, str]] = []
    architecture = cfg.model.architecture.strip()
    if is_import_path(architecture) and not architecture.startswith("object:"):
        found.append(("model.architecture", architecture))
    if data and cfg.data.source:
        found.append(("data.source", cfg.data.source))
    return found


def require_trust(
    cfg: TrainConfig, origin: str, trusted: bool, *, data: bool = False, how: str = ""
) -> None:
    """Refuse a config from ``origin`` (a checkpoint, a registry entry) that names code to
    import, unless ``trusted``. Nothing is imported either way: this only reads strings."""
    if trusted:
        return
    found = code_references(cfg, data=data)
    if not found:
        return
    key, path = found[0]
    module = path.partition(":")[0]
    also = f"{how} or " if how else ""
    raise ModelError(
        f"{origin} names code to run ({key}: {path}); trainforge imports module '{module}' "
        f"only if you trust where the file came from: {also}pass {TRUST_FLAG} "
        "(trust_model_code=True in Python)"
    )
