"""The column reader of big logs: every line that is no plain step comes back whole, however
its length was found (from its fields, measured on its own, or by a newline scan)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainforge.errors import LogError
from trainforge.monitor._background import Prefetch
from trainforge.monitor._steps import read_steps


def step(i: int) -> bytes:
    record = {
        "type": "step",
        "schema_version": 1,
        "time": 1.5 + i,
        "step": i,
        "epoch": 1 + i // 10,
        "loss": 1 / i,
        "grad_norm": 2.0,
    }
    return json.dumps(record).encode()


OTHERS = [
    # Short records: their length follows from their fields.
    b'{"type": "event", "schema_version": 1, "event": "start", "step": 0}',
    # Commas inside strings, an empty field between two commas, nested objects.
    b'{"type": "event", "schema_version": 1, "event": "note", "message": "a,,b, c,"}',
    # Longer than the columns read: measured on its own.
    b'{"type": "epoch", "schema_version": 1, "step": 10, "epoch": 1, "metrics": {'
    + b", ".join(b'"m%d": %d' % (k, k) for k in range(40))
    + b"}}",
    b'{"type": "resources", "schema_version": 1, "step": 10, "gpus": ['
    + b", ".join(b'{"index": %d, "utilization": 50}' % k for k in range(8))
    + b"]}",
    # Steps that are no plain steps.
    b'{"type": "step", "schema_version": 1, "time": 1.0, "step": 7, "epoch": 1, "loss": null}',
    b'{"type": "step", "schema_version": 1, "time": 1.0, "step": 7, "epoch": 1, "loss": 1, '
    b'"grad_norm": 2.0, "extra": 3}',
    b"not json",
]


def build(order: list[int], steps: int = 30, blank: bool = False) -> tuple[bytes, list[bytes]]:
    lines: list[bytes] = []
    expected: list[bytes] = []
    for i in range(1, steps + 1):
        lines.append(step(i))
        if i % 3 == 0 and order:
            other = OTHERS[order.pop(0)]
            lines.append(other)
            expected.append(other)
        if blank and i == 5:
            lines.append(b"")
    return b"\n".join(lines) + b"\n", expected


@pytest.mark.parametrize("blank", [False, True])
def test_other_lines_come_back_whole_in_file_order(blank: bool) -> None:
    data, expected = build(list(range(len(OTHERS))) * 1, blank=blank)
    read = read_steps(data, ("step", "loss", "grad_norm"))
    assert read is not None
    steps, others = read
    assert others == expected
    np.testing.assert_array_equal(steps["step"], np.arange(1, 31, dtype=np.float64))
    np.testing.assert_array_equal(steps["loss"], 1 / np.arange(1, 31))


def test_lengths_that_do_not_add_up_fall_back_to_a_newline_scan() -> None:
    # Carriage returns (which the CSV reader drops) and a trailing empty field.
    data, expected = build([0, 6, 1])
    data = data.replace(b"\n", b"\r\n", 3) + b"not json, at all,,\n"
    read = read_steps(data, ("step", "loss"))
    assert read is not None
    steps, others = read
    assert others == [*expected, b"not json, at all,,"]
    assert len(steps["step"]) == 30


def test_a_log_read_on_a_side_thread_hands_back_its_bytes_or_its_error(tmp_path: Path) -> None:
    data, _ = build([0])
    (tmp_path / "metrics.json").write_bytes(data)
    assert Prefetch(tmp_path / "metrics.json").result() == data
    with pytest.raises(LogError, match="no metrics log at"):
        Prefetch(tmp_path / "missing.json").result()
    with pytest.raises(LogError, match="is a folder"):
        Prefetch(tmp_path).result()
