"""``build_model``: pick the builder for ``model.architecture`` and check the result runs."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from trainforge.config import ModelConfig
from trainforge.errors import ModelError
from trainforge.models._simple import build_mlp, build_simple_cnn
from trainforge.models._spec import SpecLike, did_you_mean, num_outputs
from trainforge.models._torchvision import build_torchvision, is_torchvision_name, torchvision_names
from trainforge.models._user import build_user_model, is_import_path

BUILTIN = {"simple_cnn": build_simple_cnn, "mlp": build_mlp}


def list_architectures() -> list[str]:
    """Every name ``model.architecture`` accepts, besides 'package.module:Class'."""
    return [*BUILTIN, *torchvision_names()]


def build_model(cfg: ModelConfig, spec: SpecLike) -> nn.Module:
    """A freshly initialised model for ``spec``'s data: logits [N, num_classes] for
    classification, [N, 1] for regression. Weights from ``cfg.pretrained`` are applied
    separately, by ``load_pretrained``."""
    outputs = num_outputs(cfg, spec)
    architecture = cfg.architecture.strip()
    if is_import_path(architecture):
        model = build_user_model(architecture, cfg, spec, outputs)
    else:
        name = architecture.lower()
        if name in BUILTIN:
            model = BUILTIN[name](cfg, spec, outputs)
        elif is_torchvision_name(name):
            model = build_torchvision(name, cfg, spec, outputs)
        else:
            raise ModelError(
                f"unknown model.architecture '{architecture}'"
                f"{did_you_mean(name, list_architectures())}; use simple_cnn, mlp, a torchvision "
                "classification model (resnet18, mobilenet_v3_small, efficientnet_b0, ...; "
                "trainforge.models.list_architectures() lists them) or your own class as "
                "'package.module:Class'"
            )
    check_forward(model, spec, outputs, architecture)
    return model


def parameter_count(model: nn.Module) -> int:
    """The one definition of a model's size that trainforge reports (log, checkpoint, card,
    registry): values in its parameters, trainable or frozen. Buffers such as BatchNorm's
    running statistics are state, not parameters, and are not counted."""
    return sum(p.numel() for p in model.parameters())


def count_state_parameters(state: dict[str, object]) -> int:
    """For checkpoints written before they recorded ``parameters``: the state dict's
    values less BatchNorm's buffers (the only buffers trainforge's builders create)."""
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    return sum(
        int(value.numel())
        for key, value in state.items()
        if isinstance(value, Tensor) and not key.endswith(buffers)
    )


def check_forward(model: nn.Module, spec: SpecLike, outputs: int, architecture: str) -> None:
    """Run two blank samples through the model, so that an input the architecture cannot
    take, or a wrong output width, fails here with a clear message instead of mid-training."""
    was_training = model.training
    model.eval()  # no dropout, no BatchNorm statistics update: the model is left untouched
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, *spec.shape))
    except Exception as exc:
        hint = (
            "; resize the images (data.augmentation.resize) or choose a smaller architecture"
            if spec.kind == "image"
            else ""
        )
        raise ModelError(
            f"model.architecture '{architecture}' cannot take inputs of shape "
            f"{list(spec.shape)}: {type(exc).__name__}: {exc}{hint}"
        ) from exc
    finally:
        model.train(was_training)
    if not isinstance(out, Tensor) or tuple(out.shape) != (2, outputs):
        got = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ModelError(
            f"model.architecture '{architecture}' returns {got} for a batch of 2, expected "
            f"[2, {outputs}] (batch, {'classes' if outputs > 1 else 'outputs'}); "
            "a model class should take num_classes in its constructor"
        )
