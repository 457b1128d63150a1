"""A prepared check for a lent GPU: resnet18 training throughput, hand-written loop vs trainforge,
with the GPU fast paths (AMP fp16 + GradScaler, AMP bf16, channels_last, torch.compile,
pinned memory with non-blocking copies), then a real CUDA out-of-memory error, met by
trainforge's training.oom_policy: shrink, and data.batch_size: auto on the card.

    python benchmarks/gpu_check.py              # on a CUDA machine (a few minutes)
    python benchmarks/gpu_check.py --cpu-smoke  # every code path on CPU in seconds, tiny sizes

Prints one line per setting: samples/s of each side and their ratio, plus the OOM outcome.
Synthetic images (random tensors held in host memory, as a DataLoader would hand them over);
torchvision's resnet18 without pretrained weights (nothing is downloaded).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


@dataclass(frozen=True)
class Setting:
    name: str
    precision: str = "fp32"  # fp32, fp16 (with a GradScaler) or bf16
    channels_last: bool = False
    compile: bool = False
    pin_memory: bool = True


SETTINGS = [
    Setting("fp32"),
    Setting("amp fp16 + GradScaler", precision="fp16"),
    Setting("amp bf16", precision="bf16"),
    Setting("amp bf16 + channels_last", precision="bf16", channels_last=True),
    Setting("amp bf16 + compile", precision="bf16", compile=True),
    Setting("fp32, pageable memory", pin_memory=False),
]


def resnet18() -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10)


def images(n: int, size: int) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, size, size, generator=generator)
    return TensorDataset(x, torch.randint(0, 10, (n,), generator=generator))


def hand_written(s: Setting, data: TensorDataset, batch: int, epochs: int, device: str) -> float:
    """Samples per second of the last epoch of a plain loop with the setting's fast paths."""
    model = resnet18().to(device)
    if s.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    step_model: Any = torch.compile(model) if s.compile else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    use_amp = s.precision != "fp32"
    dtype = torch.float16 if s.precision == "fp16" else torch.bfloat16
    scaler = torch.amp.GradScaler(device, enabled=s.precision == "fp16")
    loader = DataLoader(data, batch_size=batch, shuffle=True, pin_memory=s.pin_memory)
    rate = 0.0
    for _ in range(epochs):
        seen, start = 0, time.perf_counter()
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            if s.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device, dtype=dtype, enabled=use_amp):
                loss = nn.functional.cross_entropy(step_model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            seen += len(y)
        if device == "cuda":
            torch.cuda.synchronize()
        rate = seen / (time.perf_counter() - start)
    return rate


def with_trainforge(s: Setting, data: TensorDataset, batch: int, epochs: int, device: str) -> float:
    """Samples per second of trainforge's last epoch (its own metrics.json record)."""
    import trainforge

    config = {
        "data": {"batch_size": batch, "pin_memory": s.pin_memory and device == "cuda"},
        "training": {
            "epochs": epochs,
            "optimizer": "adamw",
            "mixed_precision": s.precision if s.precision != "fp32" else False,
            "compile": s.compile,
            "channels_last": s.channels_last,  # explicit: auto would turn it on for every CNN
            "device": device,
        },
        "checkpointing": {"save_best": False, "save_last": False},
        "logging": {"progress_bar": "off", "tensorboard": False},
    }
    val = TensorDataset(data.tensors[0][:batch], data.tensors[1][:batch])
    with tempfile.TemporaryDirectory() as tmp:
        result = trainforge.fit(
            config, model=resnet18(), train_data=data, val_data=val, output=Path(tmp) / "run"
        )
        lines = (result.run_dir / "logs" / "metrics.json").read_text().splitlines()
        epochs_done = [json.loads(line) for line in lines if '"type": "epoch"' in line]
    return float(epochs_done[-1]["samples_per_sec"])


def out_of_memory(device: str) -> str:
    """A real CUDA OOM: a batch far beyond the card's memory, caught, memory released."""
    if device != "cuda":
        return "skipped (no CUDA device)"
    _, total = torch.cuda.mem_get_info()
    model = resnet18().to(device)
    batch = 64
    try:
        while True:  # double until the card refuses
            x = torch.randn(batch, 3, 224, 224, device=device)
            model(x).sum().backward()
            del x
            batch *= 2
    except torch.OutOfMemoryError:
        torch.cuda.empty_cache()
        return f"out of memory at batch {batch} ({total / 2**30:.0f} GiB card); memory released"


def trainforge_run(config: dict[str, Any], data: TensorDataset) -> tuple[Any, dict[str, Any]]:
    """One short trainforge run of resnet18 on ``data``; its result and metadata.json."""
    import trainforge

    config = {
        **config,
        "checkpointing": {"save_best": False, "save_last": False},
        "logging": {"progress_bar": "off", "tensorboard": False},
    }
    val = TensorDataset(data.tensors[0][:8], data.tensors[1][:8])
    with tempfile.TemporaryDirectory() as tmp:
        result = trainforge.fit(
            config, model=resnet18(), train_data=data, val_data=val, output=Path(tmp) / "run"
        )
        meta = json.loads((result.run_dir / "metadata.json").read_text())
    return result, meta


def oom_shrink(device: str, size: int) -> str:
    """training.oom_policy: shrink on a real out-of-memory: a batch the card cannot hold."""
    if device != "cuda":
        return "skipped (no CUDA device; tests/perf/test_oom_policy.py covers the control flow)"
    batch = 4096  # resnet18 at 224x224 in fp32: several hundred GiB of activations
    data = images(batch, size)
    config = {
        "data": {"batch_size": batch},
        "training": {"epochs": 1, "max_steps": 2, "oom_policy": "shrink", "device": device},
    }
    started = time.perf_counter()
    result, meta = trainforge_run(config, data)
    memory = meta.get("memory", {})
    return (
        f"{result.status} in {time.perf_counter() - started:.1f} s; batch {batch} -> micro-batch "
        f"{memory.get('micro_batch_size')} x {memory.get('gradient_accumulation_steps')} "
        f"({memory.get('oom_shrinks')} shrinks)"
    )


def auto_batch(device: str, n: int, size: int) -> str:
    """data.batch_size: auto: the size the trial steps choose, and how long they took."""
    config = {"data": {"batch_size": "auto"}, "training": {"epochs": 1, "device": device}}
    started = time.perf_counter()
    _, meta = trainforge_run(config, images(n, size))
    search = meta["batch_size_search"]
    return (
        f"chose {search['batch_size']} ({search['method']}, {len(search['trials'])} trials, "
        f"run with the search {time.perf_counter() - started:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on CPU")
    parser.add_argument("--epochs", type=int, default=3, help="the last one is timed")
    args = parser.parse_args()
    if args.cpu_smoke:
        device, n, size, batch, epochs = "cpu", 16, 32, 8, 1
        settings = [s for s in SETTINGS if s.precision != "fp16"]  # fp16 autocast is CUDA's
    else:
        if not torch.cuda.is_available():
            sys.exit("no CUDA device: run with --cpu-smoke to exercise the code paths on CPU")
        device, n, size, batch, epochs = "cuda", 2048, 224, 128, args.epochs
        settings = SETTINGS
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU (smoke run, not a figure)"
    print(f"torch {torch.__version__} on {name}; resnet18, {n} images {size}x{size}, batch {batch}")
    data = images(n, size)
    print(f"{'setting':28} {'hand-written':>13} {'trainforge':>11} {'ratio':>7}")
    for s in settings:
        hand = hand_written(s, data, batch, epochs, device)
        ours = with_trainforge(s, data, batch, epochs, device)
        if ours != ours:  # NaN: a setting trainforge does not offer
            print(f"{s.name:28} {hand:11.1f}/s {'(no option)':>11} {'':>7}")
        else:
            print(f"{s.name:28} {hand:11.1f}/s {ours:9.1f}/s {ours / hand:6.2f}x")
    print(f"out of memory: {out_of_memory(device)}")
    print(f"oom_policy shrink: {oom_shrink(device, size)}")
    print(f"batch_size auto: {auto_batch(device, n, size)}")


if __name__ == "__main__":
    main()
