"""Deployable exports of a checkpoint, each verified against PyTorch in its own runtime.

``export_checkpoint(checkpoint, fmt, output)`` is the entry; every format is one small
``Exporter`` (pytorch, safetensors, onnx, torch_export, torchscript) whose heavy libraries
load only when it runs.
"""

from trainforge.ckpt.export._base import Exporter
from trainforge.ckpt.export._export import FORMATS, export_checkpoint, make_exporter
from trainforge.ckpt.export._verify import TOLERANCE

__all__ = ["FORMATS", "TOLERANCE", "Exporter", "export_checkpoint", "make_exporter"]
