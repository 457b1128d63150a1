"""The benchmark jobs' models, written as a user would: the MLP is the user's own model that
trainforge loads by import path; ``SimpleCNN`` repeats trainforge's simple_cnn layer for layer
(for 3x32x32 inputs) so that the scripts without trainforge train the same network."""

from __future__ import annotations

from torch import Tensor, nn


class MLP(nn.Module):
    """64 → 1024 → 1024 → 10."""

    def __init__(self, in_features: int = 64, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, 1024),
            nn.ReLU(),
            nn.Linear(1024, 1024),
            nn.ReLU(),
            nn.Linear(1024, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


class SimpleCNN(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(3, 32), *_block(32, 32), nn.MaxPool2d(2),
            *_block(32, 64), *_block(64, 64), nn.MaxPool2d(2),
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.0), nn.Linear(64, num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
