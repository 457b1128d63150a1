"""The per-step gradient norm and training.gradient_clip: the same numbers as torch's
``clip_grad_norm_``, bit for bit, without its pass over the gradients when nothing is clipped."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import trainforge
from trainforge.logging import read_jsonl
from trainforge.train.grad_norm import clip_to, grad_norm, needs_clipping


def _net_with_grads(seed: int, scale: float) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3), nn.Linear(3, 3))
    net[3].weight.requires_grad_(False)  # a parameter without a gradient is skipped
    x = torch.randn(32, 8) * scale
    net(x).pow(2).mean().backward()
    return net


def _grads(net: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in net.parameters() if p.grad is not None]


def test_norm_is_clip_grad_norm_s_and_zero_without_gradients() -> None:
    net = _net_with_grads(0, 3.0)
    expected = torch.nn.utils.clip_grad_norm_(net.parameters(), float("inf"))
    assert torch.equal(grad_norm(net.parameters()), expected)
    assert float(grad_norm(nn.Linear(2, 2).parameters())) == 0.0


@pytest.mark.parametrize("ratio", [0.01, 0.5, 0.999999, 1.0, 1.000001, 2.0, 100.0])
def test_clipping_only_when_needed_is_bit_identical_to_torch(ratio: float) -> None:
    reference = _net_with_grads(1, 2.0)
    ours = _net_with_grads(1, 2.0)
    norm = grad_norm(ours.parameters())
    max_norm = float(norm) * ratio
    torch.nn.utils.clip_grad_norm_(reference.parameters(), max_norm)
    if needs_clipping(float(norm), max_norm):
        clip_to(ours.parameters(), max_norm, norm)
    assert all(torch.equal(a, b) for a, b in zip(_grads(reference), _grads(ours), strict=True))
    if ratio >= 2.0:  # well under the limit: torch multiplied by exactly 1, we skipped it
        assert not needs_clipping(float(norm), max_norm)


def test_needs_clipping_decisions() -> None:
    assert not needs_clipping(5.0, None) and not needs_clipping(5.0, 0.0)
    assert needs_clipping(5.0, 1.0) and needs_clipping(1.0, 1.0)
    assert not needs_clipping(0.5, 1.0)


class Wide(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_a_run_with_gradient_clip_moves_the_weights_at_most_lr_times_the_limit(
    tmp_path: Path,
) -> None:
    """Plain SGD, one step of one batch: the update is lr x the clipped gradient, so its
    norm is at most lr x gradient_clip while the logged (pre-clip) norm is far above it."""
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    data = TensorDataset(torch.tensor(x, dtype=torch.float32) * 10, torch.tensor(y))
    torch.manual_seed(0)
    model = Wide()
    before = [p.detach().clone() for p in model.parameters()]
    clip, lr = 0.01, 0.5
    training = {"epochs": 1, "optimizer": "sgd", "learning_rate": lr, "gradient_clip": clip}
    result = trainforge.fit(
        {
            "data": {"batch_size": 150, "shuffle": False},
            "training": {**training, "momentum": 0.0},
            "logging": {"progress_bar": "off", "log_every_n_steps": 1},
        },
        model=model,
        train_data=data,
        val_data=data,
        output=tmp_path / "clip",
    )
    assert result.global_step == 1
    moved = torch.linalg.vector_norm(
        torch.cat(
            [(p.detach() - b).flatten() for p, b in zip(model.parameters(), before, strict=True)]
        )
    )
    assert 0 < float(moved) <= lr * clip * (1 + 1e-4)
    steps = [r for r in read_jsonl(result.run_dir / "logs" / "metrics.json") if r["type"] == "step"]
    assert steps[0]["grad_norm"] > 100 * clip  # the norm logged is the one measured before
