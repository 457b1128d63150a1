"""Weight files: a weights-only PyTorch state dict (``.pth``) and safetensors."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from trainforge.ckpt.export._base import WeightsExporter, export_errors


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    # clone: shared storage (tied weights) would make safetensors refuse the file, and
    # contiguous copies keep torch.save from storing the views' whole base tensors.
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


class PytorchExporter(WeightsExporter):
    """``model.state_dict()`` saved with torch.save; loads with ``torch.load(weights_only=True)``."""

    name = "pytorch"
    suffix = ".pth"
    runtime = "torch.load(weights_only=True)"

    def export(self, model: nn.Module, example: torch.Tensor, path: Path) -> list[Path]:
        with export_errors(self.name, path):
            torch.save(_tensors(model), path)
        return [path]

    def read_state(self, path: Path) -> dict[str, torch.Tensor]:
        return torch.load(path, map_location="cpu", weights_only=True)  # type: ignore[no-any-return]


class SafetensorsExporter(WeightsExporter):
    """The network's tensors in the safetensors format (no pickle at all)."""

    name = "safetensors"
    suffix = ".safetensors"
    runtime = "safetensors.torch.load_file"

    def export(self, model: nn.Module, example: torch.Tensor, path: Path) -> list[Path]:
        with export_errors(self.name, path):
            from safetensors.torch import save_file

            save_file(_tensors(model), str(path), metadata={"format": "pt"})
        return [path]

    def read_state(self, path: Path) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")

    def runtime_version(self) -> str:
        import safetensors

        return f"safetensors {safetensors.__version__}"
