"""torchvision classification models by name, with their head and input layer fitted to the data.

torchvision is imported inside the functions: importing it costs about a second, and most
runs (simple_cnn, mlp) never need it.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from torch import nn

from trainforge.config import ModelConfig
from trainforge.errors import ModelError
from trainforge.models._spec import SpecLike, image_shape

# Keys trainforge sets itself; letting model.kwargs set them too would make two sources of truth.
_RESERVED_KWARGS = {
    "num_classes": "it comes from model.num_classes or the data",
    "weights": "use model.pretrained",
    "pretrained": "use model.pretrained",
}

# These two return a (logits, aux logits) tuple in training mode unless aux_logits is off,
# which the training loop cannot use; and they warn unless init_weights is given.
_PLAIN_OUTPUT_DEFAULTS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}


@cache
def torchvision_names() -> tuple[str, ...]:
    """Classification models only: detection/segmentation/video live in torchvision submodules."""
    import torchvision

    return tuple(sorted(torchvision.models.list_models(module=torchvision.models)))


def is_torchvision_name(name: str) -> bool:
    return name in torchvision_names()


def build_torchvision(name: str, cfg: ModelConfig, spec: SpecLike, outputs: int) -> nn.Module:
    import torchvision

    in_channels, _, _ = image_shape(spec, name)
    for key, why in _RESERVED_KWARGS.items():
        if key in cfg.kwargs:
            raise ModelError(f"model.kwargs.{key} is not allowed for {name}: {why}")
    kwargs = {**_PLAIN_OUTPUT_DEFAULTS.get(name, {}), **cfg.kwargs}
    try:
        model: nn.Module = torchvision.models.get_model(name, weights=None, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"torchvision's {name} rejected model.kwargs {cfg.kwargs}: {exc}") from exc
    replace_head(model, outputs)
    adapt_input_channels(model, in_channels)
    return model


def replace_head(model: nn.Module, outputs: int) -> str:
    """Swap the classifier's last layer for one with ``outputs`` units; returns its name.

    The last nn.Linear is the head in every torchvision classifier (fc, classifier[-1],
    heads.head, ...), except squeezenet, whose head is a 1x1 convolution.
    """
    name = last_module_of(model, nn.Linear) or last_module_of(model, nn.Conv2d)
    if name is None:
        raise ModelError(f"{type(model).__name__} has no Linear or Conv2d layer to use as its head")
    old = model.get_submodule(name)
    new: nn.Module
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, outputs, bias=old.bias is not None)
    else:
        assert isinstance(old, nn.Conv2d)  # narrowed by last_module_of
        new = resized_conv(old, old.in_channels, outputs)
    set_module(model, name, new)
    return name


def adapt_input_channels(model: nn.Module, in_channels: int) -> str | None:
    """Give the first convolution ``in_channels`` inputs (grayscale: 1); returns its name.

    Weights for it are re-derived from RGB ones at load time (see ``_pretrained``).
    """
    name = first_conv_name(model)
    if name is None:
        return None
    old = model.get_submodule(name)
    assert isinstance(old, nn.Conv2d)
    if old.in_channels == in_channels:
        return name
    if old.groups != 1:
        raise ModelError(
            f"cannot adapt {type(model).__name__}'s grouped first convolution to "
            f"{in_channels} input channels; convert the images to {old.in_channels} channels"
        )
    set_module(model, name, resized_conv(old, in_channels, old.out_channels))
    return name


def resized_conv(old: nn.Conv2d, in_channels: int, out_channels: int) -> nn.Conv2d:
    """A new, freshly initialised Conv2d like ``old`` but with other channel counts."""
    pair = tuple[int, int]  # Conv2d stores 2-tuples; its annotations say tuple[int, ...]
    return nn.Conv2d(
        in_channels,
        out_channels,
        cast(pair, old.kernel_size),
        stride=cast(pair, old.stride),
        padding=cast("str | tuple[int, int]", old.padding),
        dilation=cast(pair, old.dilation),
        bias=old.bias is not None,
        padding_mode=old.padding_mode,
    )


def first_conv_name(model: nn.Module) -> str | None:
    """The convolution that sees the image: the first Conv2d in registration order."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name
    return None


def last_module_of(model: nn.Module, kind: type[nn.Module]) -> str | None:
    found = None
    for name, module in model.named_modules():
        if isinstance(module, kind):
            found = name
    return found


def set_module(model: nn.Module, dotted_name: str, module: nn.Module) -> None:
    # setattr on the parent also works for nn.Sequential children ("classifier.3").
    parent_name, _, child = dotted_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def default_weights(name: str) -> tuple[str, str, dict[str, Any]]:
    """(weights name, url, state dict) of torchvision's DEFAULT weights for ``name``.

    Downloads (or reads torch's hub cache); offline it fails within seconds.
    """
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError) as exc:
        raise ModelError(f"torchvision has no pretrained weights for {name}: {exc}") from exc
    try:
        state: dict[str, Any] = weights.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # URLError, socket errors, hash mismatch, truncated file...
        raise ModelError(
            f"could not download torchvision's pretrained weights for {name} from {weights.url} "
            f"({type(exc).__name__}: {exc}); without network access, download that file on "
            "another machine and set model.pretrained: path/to/weights.pth"
        ) from exc
    return str(weights), weights.url, state
