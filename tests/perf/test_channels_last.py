"""training.channels_last: a CNN trained in NHWC on CPU (valid there) matches NCHW."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from fixtures import make_image_folder

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.train.memory_format import use_channels_last


def test_the_decision() -> None:
    assert use_channels_last("auto", "cuda", [3, 32, 32])
    assert not use_channels_last("auto", "cpu", [3, 32, 32])
    assert not use_channels_last("auto", "cuda", [64])  # flat rows: nothing to reorder
    assert use_channels_last(True, "cpu", [3, 32, 32])
    assert not use_channels_last(False, "cuda", [3, 32, 32])


@pytest.mark.parametrize("setting", [True, False])
def test_cnn_trains_the_same_in_channels_last(tmp_path: Path, setting: bool) -> None:
    root = make_image_folder(tmp_path / "imgs", n_per_class=6, size=16)

    def run(channels_last: bool | str, name: str) -> dict[str, torch.Tensor]:
        cfg: dict[str, Any] = {
            "model": {"architecture": "simple_cnn", "channels": [8, 16]},
            "data": {"train_path": str(root), "batch_size": 8},
            "training": {"epochs": 2, "channels_last": channels_last},
            "logging": {"progress_bar": "off", "tensorboard": False},
        }
        result = trainforge.fit(cfg, output=tmp_path / name)
        assert result.status == "completed"
        return dict(load_checkpoint(result.checkpoints["last"])["model"])

    nhwc = run(setting, "asked")
    nchw = run("auto", "auto")  # auto on CPU: off
    convs = [k for k, v in nhwc.items() if v.dim() == 4]
    assert convs
    # the saved weights keep the layout they were trained in
    assert all(nhwc[k].is_contiguous(memory_format=torch.channels_last) == setting for k in convs)
    assert not all(nchw[k].is_contiguous(memory_format=torch.channels_last) for k in convs)
    for name in nchw:
        torch.testing.assert_close(nhwc[name], nchw[name], rtol=1e-4, atol=1e-5)
