"""Damaged, foreign and malicious files each get their own one-line CheckpointError."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from trainforge.checkpoint import (
    is_valid_checkpoint,
    load_checkpoint,
    load_state_dict_file,
    save_checkpoint,
    verify_checkpoint,
)
from trainforge.errors import CheckpointError

# Distinct 4-byte values, so a 64-byte window of the data occurs once in the file.
_KNOWN = torch.arange(200_000, dtype=torch.int32)


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    return save_checkpoint({"w": _KNOWN, "epoch": 7}, tmp_path / "epoch_007.pth")


def _one_line_naming(error: CheckpointError, path: Path) -> str:
    message = str(error)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_a_flipped_bit_in_tensor_data_fails_the_checksum(good_file: Path) -> None:
    data = bytearray(good_file.read_bytes())
    window = _KNOWN.numpy().tobytes()[400_000:400_064]  # from the middle of the tensor
    offset = data.find(window)
    assert offset > 0 and data.find(window, offset + 1) == -1
    data[offset + 10] ^= 0x01
    good_file.write_bytes(bytes(data))

    # torch itself does not notice: the damage would flow silently into training.
    assert not torch.equal(torch.load(good_file, weights_only=True)["w"], _KNOWN)
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(good_file)
    message = _one_line_naming(raised.value, good_file)
    assert "failed its checksum (the file was modified or corrupted)" in message
    assert verify_checkpoint(good_file)[0] is False


@pytest.mark.parametrize("keep", [1, 10, 100, 0.25, 0.5, 0.9, -30, -1])
def test_a_truncated_file_is_reported_as_damaged(good_file: Path, keep: float) -> None:
    data = good_file.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    good_file.write_bytes(data[:cut])
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(good_file)
    message = _one_line_naming(raised.value, good_file)
    assert "is damaged (truncated or corrupted: " in message
    assert "use another checkpoint, e.g. an epoch_NNN.pth" in message
    assert not is_valid_checkpoint(good_file)


def test_an_empty_file_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "last.pth"
    path.touch()
    with pytest.raises(CheckpointError, match=r"is damaged .*the file is empty"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "content",
    [b"not a checkpoint at all\n" * 10, os.urandom(4096), pickle.dumps({"a": 1}, protocol=4)],
    ids=["text", "random", "plain-pickle"],
)
def test_files_that_are_not_torch_checkpoints_are_damaged(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "last.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as raised:
        load_state_dict_file(path)
    expected = "is a text file, not a checkpoint" if content.startswith(b"not a") else "is damaged"
    assert expected in _one_line_naming(raised.value, path)


class _RunsCode:
    """Unpickling this runs a shell command: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


class _Custom:
    def __init__(self) -> None:
        self.value = 1


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_pickled_code_is_refused_and_never_runs(tmp_path: Path, zip_format: bool) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"format_version": 1, "model": {"w": torch.ones(2)}, "x": _RunsCode(marker)}
    torch.save(payload, path, _use_new_zipfile_serialization=zip_format)

    for load in (load_checkpoint, load_state_dict_file):
        with pytest.raises(CheckpointError) as raised:
            load(path)
        message = _one_line_naming(raised.value, path)
        assert "contains pickled Python objects that trainforge refuses to load" in message
        assert "(it could run code; it references " in message
        assert "system" in message  # names what it references
    assert verify_checkpoint(path)[0] is False
    assert not marker.exists()


def test_a_pickled_custom_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "custom.pth"
    torch.save({"obj": _Custom()}, path)
    with pytest.raises(CheckpointError, match=r"refuses to load .*references .*_Custom"):
        load_checkpoint(path, require_trainforge=False)
