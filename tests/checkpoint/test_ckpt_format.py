"""Round trips, weights-only compatibility, the checksum and what a state may hold."""

from __future__ import annotations

import enum
import math
import os
from collections import OrderedDict, namedtuple
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from trainforge.checkpoint import (
    FORMAT_VERSION,
    is_valid_checkpoint,
    load_checkpoint,
    load_state_dict_file,
    save_checkpoint,
    verify_checkpoint,
)
from trainforge.checkpoint._canonical import compute_checksum
from trainforge.errors import CheckpointError


def _trained_state() -> dict[str, Any]:
    """A realistic state: model weights plus Adam-shaped optimizer state (int keys, tensors).

    Built by hand: the first real optimizer in a process costs a second of torch imports.
    """
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    params = list(model.parameters())
    optimizer = {
        "state": {
            index: {
                "step": torch.tensor(1.0),
                "exp_avg": torch.randn_like(p),
                "exp_avg_sq": torch.rand_like(p),
            }
            for index, p in enumerate(params)
        },
        "param_groups": [
            {
                "lr": 1e-3,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "amsgrad": False,
                "params": [0, 1, 2, 3],
            }
        ],
    }
    return {
        "model": model.state_dict(),
        "optimizer": optimizer,
        "trainer": {"epoch": 3, "global_step": 120, "stop_reason": None},
        "tensors": {
            "bf16": torch.randn(7, 3).to(torch.bfloat16),
            "bf16_scalar": torch.tensor(1.5, dtype=torch.bfloat16),
            "int": torch.arange(10, dtype=torch.int64),
            "bool": torch.tensor([True, False, True]),
            "empty": torch.empty(0, 3),
            "half": torch.ones(2, dtype=torch.float16),
        },
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
        "plain": [1, 2.5, "x", None, True, (1, "two"), {"nested": [float("inf")]}],
        "metrics": {"val_loss": float("nan")},
    }


def _assert_same(actual: Any, expected: Any) -> None:
    assert type(actual) is type(expected)
    if isinstance(expected, torch.Tensor):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        assert torch.equal(actual, expected)
    elif isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            _assert_same(actual[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            _assert_same(a, e)
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert actual == expected


def test_round_trip_keeps_every_value_and_type(tmp_path: Path) -> None:
    state = _trained_state()
    path = save_checkpoint(state, tmp_path / "last.pth")
    assert path == tmp_path / "last.pth"

    loaded = load_checkpoint(path)
    assert loaded["format_version"] == FORMAT_VERSION
    assert loaded["checksum"].startswith("sha256:")
    for key, value in state.items():
        _assert_same(loaded[key], value)
    assert "format_version" not in state and "checksum" not in state  # input left alone


def test_saved_file_loads_with_plain_weights_only_torch_load(tmp_path: Path) -> None:
    path = save_checkpoint(_trained_state(), tmp_path / "a.pth")
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    loaded = torch.load(path, weights_only=True)
    assert loaded["trainer"]["global_step"] == 120


def test_real_optimizer_state_restores_into_a_fresh_optimizer(tmp_path: Path) -> None:
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    path = save_checkpoint(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "a.pth"
    )
    fresh = torch.optim.Adam(torch.nn.Linear(4, 2).parameters(), lr=1e-3)
    fresh.load_state_dict(load_checkpoint(path)["optimizer"])
    assert torch.equal(
        fresh.state_dict()["state"][0]["exp_avg"], optimizer.state[model.weight]["exp_avg"]
    )


def test_resaving_a_loaded_checkpoint_keeps_its_checksum(tmp_path: Path) -> None:
    first = load_checkpoint(save_checkpoint(_trained_state(), tmp_path / "a.pth"))
    second = load_checkpoint(save_checkpoint(first, tmp_path / "b.pth"))
    assert second["checksum"] == first["checksum"]
    assert verify_checkpoint(tmp_path / "b.pth") == (True, "ok (format 1, checksum verified)")
    assert is_valid_checkpoint(tmp_path / "b.pth")


def test_overwrite_replaces_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "last.pth"
    save_checkpoint({"step": 1}, path)
    save_checkpoint({"step": 2}, path)
    assert load_checkpoint(path)["step"] == 2
    assert sorted(os.listdir(tmp_path)) == ["last.pth"]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (["ab"], ["a", "b"]),
        ([1], [1.0]),
        ([1], [True]),
        ([1, 2], (1, 2)),
        ([None], ["None"]),
        ({"a": 1}, {"a": "1"}),
        ([torch.zeros(2, dtype=torch.int32)], [torch.zeros(1, dtype=torch.int64)]),
        ([torch.zeros(2, 3)], [torch.zeros(3, 2)]),
        ([torch.tensor([1.0, 2.0])], [torch.tensor([1.0, 3.0])]),
    ],
)
def test_checksum_distinguishes_values_that_look_alike(left: Any, right: Any) -> None:
    assert compute_checksum({"v": left}) != compute_checksum({"v": right})


def test_checksum_ignores_key_order_and_the_checksum_key() -> None:
    one = {"a": 1, 2: "b", "t": torch.arange(3)}
    other = {"t": torch.arange(3), 2: "b", "a": 1, "checksum": "anything"}
    assert compute_checksum(one) == compute_checksum(other)


def test_load_without_verify_skips_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "a.pth"
    state = load_checkpoint(save_checkpoint({"step": 1}, path))
    state["checksum"] = "sha256:0"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="failed its checksum"):
        load_checkpoint(path)
    assert load_checkpoint(path, verify=False)["step"] == 1


def test_plain_state_dict_is_not_a_trainforge_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "weights.pth"
    weights = torch.nn.Linear(2, 2).state_dict()
    torch.save(weights, path)
    with pytest.raises(CheckpointError, match=r"not a trainforge checkpoint .*plain PyTorch"):
        load_checkpoint(path)
    assert not is_valid_checkpoint(path)
    _assert_same(load_state_dict_file(path), weights)
    _assert_same(load_checkpoint(path, require_trainforge=False), weights)


def test_state_dict_loader_still_verifies_a_trainforge_checkpoint(tmp_path: Path) -> None:
    path = save_checkpoint({"model": {"w": torch.ones(2)}}, tmp_path / "a.pth")
    assert torch.equal(load_state_dict_file(path)["model"]["w"], torch.ones(2))


def test_newer_format_asks_for_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "future.pth"
    torch.save({"format_version": FORMAT_VERSION + 1, "checksum": "sha256:0"}, path)
    with pytest.raises(CheckpointError, match=r"format 2, newer .* upgrade trainforge"):
        load_checkpoint(path)


def test_a_file_holding_no_dict_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    torch.save([torch.ones(1)], path)
    with pytest.raises(CheckpointError, match="holds a list, not a dict"):
        load_state_dict_file(path)


def test_missing_file_and_folder_are_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nope\.pth does not exist"):
        load_checkpoint(tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="is a folder, not a checkpoint file"):
        load_checkpoint(tmp_path)
    ok, reason = verify_checkpoint(tmp_path / "nope.pth")
    assert not ok and "does not exist" in reason


class _Color(enum.IntEnum):
    RED = 1


_Pair = namedtuple("_Pair", "a b")  # a namedtuple pickles as a class reference


@pytest.mark.parametrize(
    ("state", "where", "what"),
    [
        ({"rng": {"numpy": np.zeros(3)}}, "state['rng']['numpy']", "numpy.ndarray"),
        ({"run_dir": Path("/tmp/x")}, "state['run_dir']", "PosixPath"),
        ({"metrics": [1.0, np.float32(2.0)]}, "state['metrics'][1]", "numpy.float32"),
        ({"m": {Path("k"): 1}}, "state['m']", "has a key of type pathlib.PosixPath"),
        ({"color": _Color.RED}, "state['color']", "_Color"),
        ({"pair": _Pair(1, 2)}, "state['pair']", "_Pair"),
        ({"dtype": torch.float32}, "state['dtype']", "torch.dtype"),
        ({"s": {1, 2}}, "state['s']", "is a set"),
    ],
)
def test_unsupported_values_are_rejected_before_writing(
    tmp_path: Path, state: dict[str, Any], where: str, what: str
) -> None:
    target = tmp_path / "a.pth"
    with pytest.raises(CheckpointError) as raised:
        save_checkpoint(state, target)
    message = str(raised.value)
    assert where in message and what in message and str(target) in message
    assert "\n" not in message
    assert os.listdir(tmp_path) == []


def test_reference_cycles_and_sparse_tensors_are_rejected(tmp_path: Path) -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(CheckpointError, match=r"state\['loop'\]\[1\] contains itself"):
        save_checkpoint({"loop": loop}, tmp_path / "a.pth")
    sparse = torch.eye(3).to_sparse()
    with pytest.raises(CheckpointError, match=r"to_dense"):
        save_checkpoint({"w": sparse}, tmp_path / "a.pth")
    shared = [1, 2]
    save_checkpoint({"x": shared, "y": shared}, tmp_path / "b.pth")  # sharing is not a cycle


def test_save_into_a_missing_folder_or_onto_a_folder_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        save_checkpoint({"a": 1}, tmp_path / "missing" / "a.pth")
    (tmp_path / "taken.pth").mkdir()
    with pytest.raises(CheckpointError, match="is an existing folder"):
        save_checkpoint({"a": 1}, tmp_path / "taken.pth")


def test_a_value_trainforge_never_writes_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "odd.pth"
    torch.save({"format_version": 1, "checksum": "sha256:0", "dtype": torch.float32}, path)
    with pytest.raises(
        CheckpointError, match=r"it holds a torch.dtype, which trainforge never writes"
    ):
        load_checkpoint(path)
