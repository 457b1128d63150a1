"""trainforge vs a hand-written PyTorch loop vs PyTorch Lightning, side by side, same job.

The job: simple_cnn on scikit-learn's digits (1617 train / 180 val), batch 32, AdamW, a
validation every epoch. Every contender trains the same architecture on the same tensors
from a fresh model with the same seed. Rounds alternate the contenders so machine noise hits
all of them alike; the median wall time per contender is reported, with ratios against the
hand-written loops.

    .venv/bin/python benchmarks/bench_overhead.py [--epochs 10] [--rounds 3]

Lightning runs only when installed (pip install lightning); it is not a trainforge dependency.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rounds import alternate
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import trainforge
from trainforge.config import load_config
from trainforge.data import build_data
from trainforge.models import build_model

CONFIG: dict[str, Any] = {
    "model": {"architecture": "simple_cnn"},
    "data": {"train_path": "builtin:digits", "batch_size": 32},
    "training": {"epochs": 10, "optimizer": "adamw", "learning_rate": 0.003},
    "checkpointing": {"monitor": "val_accuracy"},
    "logging": {"progress_bar": "off"},
    "reproducibility": {"seed": 0},
}


def tensors(cfg: Any) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    bundle = build_data(cfg.data, seed=0, device="cpu")
    xs, ys = zip(*bundle.train.epoch(0), strict=True)
    vx, vy = zip(*bundle.val.epoch(0), strict=True)
    return bundle.spec, torch.cat(xs), torch.cat(ys), torch.cat(vx), torch.cat(vy)


def fresh_model(cfg: Any, spec: Any) -> nn.Module:
    torch.manual_seed(0)
    return build_model(cfg.model, spec)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.inference_mode():
        correct = sum(
            int((model(x[i : i + 256]).argmax(1) == y[i : i + 256]).sum())
            for i in range(0, len(y), 256)
        )
    model.train()
    return correct / len(y)


def hand_written(cfg: Any, data: tuple[Any, ...], epochs: int, loader: bool) -> float:
    spec, x, y, vx, vy = data
    model = fresh_model(cfg, spec)
    opt = torch.optim.AdamW(model.parameters(), lr=0.003)
    loss_fn = nn.CrossEntropyLoss()
    batches = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    acc = 0.0
    for _ in range(epochs):
        model.train()
        if loader:
            epoch_batches = iter(batches)
        else:
            order = torch.randperm(len(y))
            epoch_batches = (
                (x[order[i : i + 32]], y[order[i : i + 32]]) for i in range(0, len(y), 32)
            )
        for xb, yb in epoch_batches:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            loss.item()  # a loop that shows its loss syncs once per step, as trainforge does
        acc = accuracy(model, vx, vy)
    return acc


def with_trainforge(cfg: Any, data: tuple[Any, ...], epochs: int, lean: bool) -> float:
    overrides = [f"training.epochs={epochs}"]
    if lean:
        overrides += [
            "logging.tensorboard=false",
            "checkpointing.save_best=false",
            "checkpointing.save_last=false",
        ]
    with tempfile.TemporaryDirectory() as tmp:
        result = trainforge.fit(CONFIG, overrides, output=Path(tmp) / "run")
    return result.final_metrics["val_accuracy"]


def with_lightning(cfg: Any, data: tuple[Any, ...], epochs: int) -> float:
    import lightning as L

    spec, x, y, vx, vy = data

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = fresh_model(cfg, spec)
            self.loss_fn = nn.CrossEntropyLoss()

        def training_step(self, batch: Any, _: int) -> torch.Tensor:
            loss = self.loss_fn(self.net(batch[0]), batch[1])
            self.log("train_loss", loss, prog_bar=False)
            return loss

        def validation_step(self, batch: Any, _: int) -> None:
            out = self.net(batch[0])
            self.log("val_loss", self.loss_fn(out, batch[1]))
            self.log("val_accuracy", (out.argmax(1) == batch[1]).float().mean())

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.parameters(), lr=0.003)

    module = Module()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            devices=1,
            default_root_dir=tmp,
            enable_progress_bar=False,
            enable_model_summary=False,
            logger=L.pytorch.loggers.TensorBoardLogger(tmp),
            log_every_n_steps=50,
        )
        trainer.fit(
            module,
            DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True),
            DataLoader(TensorDataset(vx, vy), batch_size=256),
        )
    return accuracy(module.net, vx, vy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cfg = load_config(CONFIG)
    data = tensors(cfg)
    contenders: dict[str, Callable[[], float]] = {
        "hand-written, tensor slicing": lambda: hand_written(cfg, data, args.epochs, loader=False),
        "hand-written, DataLoader": lambda: hand_written(cfg, data, args.epochs, loader=True),
        "trainforge (TensorBoard, checkpoints)": lambda: with_trainforge(
            cfg, data, args.epochs, False
        ),
        "trainforge (no TensorBoard, no checkpoints)": lambda: with_trainforge(
            cfg, data, args.epochs, True
        ),
    }
    try:
        import lightning  # noqa: F401

        contenders["PyTorch Lightning (TensorBoard, checkpoints)"] = lambda: with_lightning(
            cfg, data, args.epochs
        )
    except ImportError:
        print("PyTorch Lightning not installed: skipped (pip install lightning)")
    times, accs = alternate(contenders, args.rounds)
    base_slice = times["hand-written, tensor slicing"]
    base_loader = times["hand-written, DataLoader"]
    print(
        f"\n{args.epochs} epochs of simple_cnn on digits, {torch.get_num_threads()} threads, "
        f"median of {args.rounds} rounds"
    )
    print(
        f"{'contender':48} {'seconds':>8} {'s/epoch':>8} {'vs slicing':>11} {'vs DataLoader':>14} {'val acc':>8}"
    )
    for name, t in times.items():
        print(
            f"{name:48} {t:8.2f} {t / args.epochs:8.3f} {t / base_slice:10.2f}x "
            f"{t / base_loader:13.2f}x {accs[name]:8.4f}"
        )


if __name__ == "__main__":
    main()
