"""One tuning trial as a hand-written PyTorch loop: an MLP on scikit-learn's digits.

The network is trainforge's ``mlp`` (flatten, Linear-ReLU-Dropout per hidden size, linear
head), Adam with the trial's learning rate and weight decay, the trial's batch size, inputs
scaled to [0, 1] then standardised with the training split's statistics, a stratified split
of 20 % for validation. Every trial trains from the same seed, as trainforge's trials do, so
trials differ only by their parameters. Used by ``bench_tuner.py`` (pruning, in-process) and by
``optuna_loop.py`` (the plain Optuna script of the overhead comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

VAL_FRACTION = 0.2


@dataclass(frozen=True)
class Params:
    """A trial's values, under the training-config keys trainforge maps them to."""

    learning_rate: float
    hidden: int
    dropout: float
    weight_decay: float
    batch_size: int

    @classmethod
    def from_overrides(cls, keys: dict[str, object]) -> Params:
        hidden = keys["model.hidden_sizes"]
        return cls(
            learning_rate=float(keys["training.learning_rate"]),  # type: ignore[arg-type]
            hidden=int(hidden[0] if isinstance(hidden, list) else hidden),  # type: ignore[call-overload]
            dropout=float(keys["model.dropout"]),  # type: ignore[arg-type]
            weight_decay=float(keys["training.weight_decay"]),  # type: ignore[arg-type]
            batch_size=int(keys["data.batch_size"]),  # type: ignore[call-overload]
        )


@lru_cache(maxsize=1)
def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train x, train y, val x, val y): 1,438 / 359 digits, stratified, standardised."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = torch.tensor(bunch.data / 16.0, dtype=torch.float32)
    y = torch.tensor(bunch.target, dtype=torch.int64)
    tr, va = train_test_split(
        range(len(y)), test_size=VAL_FRACTION, stratify=bunch.target, random_state=0
    )
    tx, vx = x[tr], x[va]
    mean, std = tx.mean(0), tx.std(0).clamp_min(1e-6)
    return (tx - mean) / std, y[tr], (vx - mean) / std, y[va]


def network(hidden: int, dropout: float) -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 10)
    )


def train(
    params: Params,
    epochs: int,
    on_epoch: Callable[[int, float, float, nn.Module], bool],
    seed: int = 0,
    fused: bool = False,
) -> int:
    """Train; after each epoch call ``on_epoch(epoch, val_accuracy, val_loss, model)`` (epoch
    1-based), which returns True to stop (pruned). Returns the epochs run. ``fused``: Adam's fused CPU kernel
    (a third faster on this tiny network; the pruning comparison uses it)."""
    tx, ty, vx, vy = digits()
    torch.manual_seed(seed)
    model = network(params.hidden, params.dropout)
    opt = torch.optim.Adam(
        model.parameters(),
        lr=params.learning_rate,
        weight_decay=params.weight_decay,
        fused=fused or None,
    )
    loss_fn = nn.CrossEntropyLoss()
    order_rng = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        model.train()
        for idx in torch.randperm(len(ty), generator=order_rng).split(params.batch_size):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(tx[idx]), ty[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            logits = model(vx)
            loss = float(loss_fn(logits, vy))
            accuracy = float((logits.argmax(1) == vy).float().mean())
        if loss != loss:  # NaN: a diverged trial reports its accuracy and stops
            return epoch
        if on_epoch(epoch, accuracy, loss, model):
            return epoch
    return epochs
