"""Image-folder training: trainforge vs the torchvision ImageFolder + DataLoader loop people write.

The job: the 1797 digits written as 32x32 RGB PNGs in class folders, simple_cnn, batch 64,
random flip + random crop, 2 loader workers, a validation every epoch. Both sides decode the
same files with the same number of workers; rounds alternate and the median is reported.

    .venv/bin/python benchmarks/bench_image_folder.py [--epochs 3] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from rounds import alternate
from torch import nn
from torch.utils.data import DataLoader, Subset

import trainforge
from trainforge.config import load_config
from trainforge.models import build_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fixtures import make_image_folder


def config(root: Path, epochs: int, workers: int) -> dict[str, Any]:
    return {
        "model": {"architecture": "simple_cnn"},
        "data": {
            "train_path": str(root),
            "batch_size": 64,
            "num_workers": workers,
            "persistent_workers": workers > 0,
            "augmentation": {"random_flip": True, "random_crop": True, "normalize": "dataset"},
        },
        "training": {"epochs": epochs, "learning_rate": 0.003},
        "checkpointing": {"monitor": "val_accuracy"},
        "logging": {"progress_bar": "off"},
    }


def hand_written(root: Path, epochs: int, workers: int) -> float:
    from torchvision import datasets, transforms

    train_tf = transforms.Compose(
        [
            transforms.RandomHorizontalFlip(),
            transforms.RandomCrop(32, padding=4),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )
    val_tf = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    full_train = datasets.ImageFolder(root, train_tf)
    full_val = datasets.ImageFolder(root, val_tf)
    order = torch.randperm(len(full_train), generator=torch.Generator().manual_seed(0))
    n_val = len(order) // 10
    train = Subset(full_train, order[n_val:].tolist())
    val = Subset(full_val, order[:n_val].tolist())
    loader = DataLoader(
        train, batch_size=64, shuffle=True, num_workers=workers, persistent_workers=workers > 0
    )
    val_loader = DataLoader(
        val, batch_size=256, num_workers=workers, persistent_workers=workers > 0
    )
    cfg = load_config(config(root, epochs, workers))

    class Spec:
        kind, shape, task, num_classes = "image", [3, 32, 32], "classification", 10

    torch.manual_seed(0)
    model = build_model(cfg.model, Spec())
    opt = torch.optim.AdamW(model.parameters(), lr=0.003)
    loss_fn = nn.CrossEntropyLoss()
    acc = 0.0
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            loss.item()
        model.eval()
        correct = total = 0
        with torch.inference_mode():
            for x, y in val_loader:
                correct += int((model(x).argmax(1) == y).sum())
                total += len(y)
        acc = correct / total
    return acc


def with_trainforge(root: Path, epochs: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        result = trainforge.fit(config(root, epochs, workers), output=Path(tmp) / "run")
    return result.final_metrics["val_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_image_folder(Path(tmp) / "digits", n_per_class=180, size=32)
        contenders = {
            "hand-written: ImageFolder + DataLoader": lambda: hand_written(
                root, args.epochs, args.workers
            ),
            "trainforge (TensorBoard, checkpoints)": lambda: with_trainforge(
                root, args.epochs, args.workers
            ),
        }
        times, accs = alternate(contenders, args.rounds)
    base = times["hand-written: ImageFolder + DataLoader"]
    print(
        f"\n{args.epochs} epochs, 32x32 RGB image folder, {args.workers} workers, "
        f"median of {args.rounds} rounds"
    )
    print(f"{'contender':42} {'seconds':>8} {'s/epoch':>8} {'ratio':>7} {'val acc':>8}")
    for name, t in times.items():
        print(f"{name:42} {t:8.2f} {t / args.epochs:8.3f} {t / base:6.2f}x {accs[name]:8.4f}")


if __name__ == "__main__":
    main()
