"""The benchmark jobs as the plain PyTorch script a user writes by hand.

Each epoch: train (shuffled batches, Adam, the running loss read with ``.item()``), validate
(loss and accuracy), print a line, save ``last.pth`` and, when the validation loss improved,
``best.pth`` (model and optimizer state). Writes a JSON report of its own timings.

    python hand_written.py --job mlp|cnn --data DIR --out DIR --epochs N --workers W --report F
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset
from user_models import MLP, SimpleCNN


def csv_tensors(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    frame = pd.read_csv(path)
    x = torch.tensor(frame.drop(columns="label").to_numpy(), dtype=torch.float32)
    return x.view(-1, 1, 8, 8), torch.tensor(frame["label"].to_numpy())


def mlp_job(data: Path, workers: int) -> tuple[nn.Module, DataLoader[Any], DataLoader[Any]]:
    x, y = csv_tensors(data / "train.csv")
    vx, vy = csv_tensors(data / "val.csv")
    mean, std = x.mean(), x.std()  # standardised with the training split's statistics
    train = DataLoader(TensorDataset((x - mean) / std, y), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset((vx - mean) / std, vy), batch_size=256)
    return MLP(), train, val


def cnn_job(data: Path, workers: int) -> tuple[nn.Module, DataLoader[Any], DataLoader[Any]]:
    from torchvision import datasets, transforms

    norm = transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    train_tf = transforms.Compose(
        [
            transforms.RandomHorizontalFlip(),
            transforms.RandomCrop(32, padding=4),
            transforms.ToTensor(),
            norm,
        ]
    )
    val_tf = transforms.Compose([transforms.ToTensor(), norm])
    root = data / "images"
    order = torch.randperm(
        len(datasets.ImageFolder(root)), generator=torch.Generator().manual_seed(0)
    )
    n_val = len(order) // 10
    train = Subset(datasets.ImageFolder(root, train_tf), order[n_val:].tolist())
    val = Subset(datasets.ImageFolder(root, val_tf), order[:n_val].tolist())
    opts: dict[str, Any] = {"num_workers": workers, "persistent_workers": workers > 0}
    return (
        SimpleCNN(),
        DataLoader(train, batch_size=64, shuffle=True, **opts),
        DataLoader(val, batch_size=256, **opts),
    )


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
    model, train, val = (mlp_job if args.job == "mlp" else cnn_job)(args.data, args.workers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    args.out.mkdir(parents=True, exist_ok=True)
    best = float("inf")
    accuracy = 0.0
    loop_start = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        running = 0.0
        for x, y in train:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(y)
        model.eval()
        val_loss = correct = total = 0.0
        with torch.no_grad():
            for x, y in val:
                out = model(x)
                val_loss += float(loss_fn(out, y)) * len(y)
                correct += int((out.argmax(1) == y).sum())
                total += len(y)
        val_loss, accuracy = val_loss / total, correct / total
        print(f"epoch {epoch} train_loss {running / len(train.dataset):.4f} "  # type: ignore[arg-type]
              f"val_loss {val_loss:.4f} val_accuracy {accuracy:.4f}")  # fmt: skip
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
        torch.save(state, args.out / "last.pth")
        if val_loss < best:
            best = val_loss
            torch.save(state, args.out / "best.pth")
    report = {
        "loop_start": loop_start,
        "loop_end": time.time(),
        "val_accuracy": accuracy,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    args.report.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
