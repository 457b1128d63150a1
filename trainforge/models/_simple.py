"""The two built-in architectures: ``simple_cnn`` for images and ``mlp`` for anything.

Both always contain their Dropout layers (p=0 is a no-op) so that the state-dict keys depend
only on the layer sizes: a checkpoint trained with dropout loads into a model without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import Tensor, nn

from trainforge.config import ModelConfig
from trainforge.errors import ModelError
from trainforge.models._spec import SpecLike, flat_size, image_shape

# Images larger than this are first shrunk by strided convolutions: the conv blocks cost
# grows with the pixel count, and 224x224 would be ~12x slower than 64x64 for little gain.
STEM_TARGET_SIZE = 64
# A block only pools while the feature map keeps at least this size afterwards halved.
MIN_POOL_INPUT = 4

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


def stem_plan(height: int, width: int, target: int = STEM_TARGET_SIZE) -> tuple[int, int]:
    """(number of stride-2 stem convs, smaller side after them): shrink to at most ``target``."""
    size, halvings = min(height, width), 0
    while size > target:
        size = (size + 1) // 2  # a 3x3, stride 2, padding 1 conv rounds up
        halvings += 1
    return halvings, size


def pooling_plan(size: int, blocks: int, min_input: int = MIN_POOL_INPUT) -> list[bool]:
    """Per block, whether it ends with a 2x2 max-pool; pooling stops before maps get tiny."""
    plan = []
    for _ in range(blocks):
        pool = size >= min_input
        plan.append(pool)
        if pool:
            size //= 2
    return plan


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    # No conv bias: the BatchNorm right after it has its own shift.
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class SimpleCNN(nn.Module):
    """Strided stem (large images only), conv blocks of 2x (conv3x3-BN-ReLU) with optional
    max-pool, then global average pool, dropout and a linear head."""

    def __init__(
        self,
        in_channels: int,
        height: int,
        width: int,
        num_outputs: int,
        channels: Sequence[int] = (32, 64),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        current = in_channels
        halvings, size = stem_plan(height, width)
        for _ in range(halvings):
            layers += conv_bn_relu(current, channels[0], stride=2)
            current = channels[0]
        for width_out, pool in zip(channels, pooling_plan(size, len(channels)), strict=True):
            layers += conv_bn_relu(current, width_out) + conv_bn_relu(width_out, width_out)
            if pool:
                layers.append(nn.MaxPool2d(2))
            current = width_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(current, num_outputs),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.head(self.features(x))
        return out


class MLP(nn.Module):
    """Flatten, then Linear-activation-Dropout per hidden size, then a linear head."""

    def __init__(
        self,
        in_features: int,
        num_outputs: int,
        hidden_sizes: Sequence[int] = (128, 64),
        dropout: float = 0.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        current = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(current, hidden), ACTIVATIONS[activation](), nn.Dropout(dropout)]
            current = hidden
        layers.append(nn.Linear(current, num_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out


def _positive_sizes(values: Sequence[int], key: str) -> list[int]:
    bad = [v for v in values if v < 1]
    if bad:
        raise ModelError(f"{key} must hold positive sizes, got {list(values)}")
    return list(values)


# Far beyond what these builders are for (4 GB of float32 weights), and small enough that an
# absurd size from a config or a forged checkpoint fails here instead of exhausting memory.
MAX_PARAMETERS = 2**30


def check_size(estimate: int, what: str) -> None:
    """Refuse to allocate a model that would have more than ``MAX_PARAMETERS`` parameters."""
    if estimate > MAX_PARAMETERS:
        raise ModelError(
            f"{what} would make a model of about {estimate:,} parameters, more than trainforge "
            f"builds ({MAX_PARAMETERS:,}); choose smaller sizes"
        )


def build_simple_cnn(cfg: ModelConfig, spec: SpecLike, outputs: int) -> SimpleCNN:
    in_channels, height, width = image_shape(spec, "simple_cnn")
    channels = _positive_sizes(cfg.channels, "model.channels")
    if not channels:
        raise ModelError("model.channels is empty; give at least one block width, e.g. [32, 64]")
    widths = [in_channels, channels[0], *channels]  # stem, then two 3x3 convs per block
    estimate = sum(18 * a * b for a, b in pairwise(widths))
    check_size(estimate + channels[-1] * outputs, f"model.channels {channels}")
    return SimpleCNN(in_channels, height, width, outputs, channels, cfg.dropout)


def build_mlp(cfg: ModelConfig, spec: SpecLike, outputs: int) -> MLP:
    hidden = _positive_sizes(cfg.hidden_sizes, "model.hidden_sizes")
    sizes = [flat_size(spec), *hidden, outputs]
    estimate = sum(a * b + b for a, b in pairwise(sizes))
    check_size(estimate, f"model.hidden_sizes {hidden} on inputs of {sizes[0]:,} values")
    return MLP(flat_size(spec), outputs, hidden, cfg.dropout, cfg.activation)
