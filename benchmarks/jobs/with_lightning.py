"""The benchmark jobs with PyTorch Lightning and its defaults (TensorBoard logger, progress bar,
model summary), plus a checkpoint callback that keeps best and last like the other two.

    python with_lightning.py --job mlp|cnn --data DIR --out DIR --epochs N --workers W --report F
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hand_written import cnn_job, mlp_job
from torch import nn


class Classifier(L.LightningModule):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.loss_fn = nn.CrossEntropyLoss()

    def training_step(self, batch: Any, _: int) -> torch.Tensor:
        loss = self.loss_fn(self.net(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, _: int) -> None:
        out = self.net(batch[0])
        self.log("val_loss", self.loss_fn(out, batch[1]))
        self.log("val_accuracy", (out.argmax(1) == batch[1]).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class LoopTimes(L.Callback):
    """Wall clock at the start of the first epoch and at the end of training."""

    def __init__(self) -> None:
        self.start = self.end = 0.0

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.start = time.time()

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.end = time.time()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", choices=["mlp", "cnn"], required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    net, train, val = (mlp_job if args.job == "mlp" else cnn_job)(args.data, args.workers)
    times = LoopTimes()
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(monitor="val_loss", save_last=True)
    trainer = L.Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        devices=1,
        default_root_dir=args.out,
        callbacks=[times, checkpoints],
    )
    trainer.fit(Classifier(net), train, val)
    report = {
        "loop_start": times.start,
        "loop_end": times.end,
        "val_accuracy": float(trainer.callback_metrics["val_accuracy"]),
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    args.report.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
