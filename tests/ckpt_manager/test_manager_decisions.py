"""The pure decisions: best-by-metric, tags, prune plans, versions, state-dict comparison."""

from __future__ import annotations

import pytest
import torch

from trainforge.ckpt import semver
from trainforge.ckpt.assemble import compare_state
from trainforge.ckpt.lineage import LineageNode, format_chain, walk
from trainforge.ckpt.selection import (
    Candidate,
    best_tags,
    is_protected,
    last_name,
    plan_prune,
    select_best,
)
from trainforge.errors import UsageError


def files() -> list[Candidate]:
    return [
        Candidate("epoch_001.pth", 10, {"val_accuracy": 0.5, "val_loss": 2.0}),
        Candidate("epoch_002.pth", 20, {"val_accuracy": 0.9, "val_loss": 1.0}),
        Candidate("epoch_003.pth", 30, {"val_accuracy": 0.8, "val_loss": 0.9}),
        Candidate("best.pth", 20, {"val_accuracy": 0.9, "val_loss": 1.0}),
        Candidate("last.pth", 30, {"val_accuracy": 0.8, "val_loss": 0.9}),
    ]


def test_best_follows_the_metric_direction_and_prefers_best_pth_on_ties() -> None:
    assert select_best(files(), "val_accuracy", None).name == "best.pth"
    assert select_best(files(), "val_loss", None).name == "epoch_003.pth"
    assert select_best(files(), "val_loss", "max").name == "epoch_001.pth"


def test_unknown_metric_lists_the_recorded_ones() -> None:
    with pytest.raises(UsageError, match="recorded metrics: val_accuracy, val_loss"):
        select_best(files(), "val_f1", None)


def test_metric_without_known_direction_needs_mode() -> None:
    cands = [Candidate("a.pth", 1, {"custom": 1.0}), Candidate("b.pth", 2, {"custom": 2.0})]
    with pytest.raises(UsageError, match="--mode"):
        select_best(cands, "custom", None)
    assert select_best(cands, "custom", "min").name == "a.pth"


def test_nan_values_never_win() -> None:
    cands = [
        Candidate("a.pth", 1, {"val_loss": float("nan")}),
        Candidate("b.pth", 2, {"val_loss": 3.0}),
    ]
    assert select_best(cands, "val_loss", None).name == "b.pth"


def test_tags_mark_every_file_tied_for_best_and_skip_training_figures() -> None:
    cands = [*files(), Candidate("epoch_004.pth", 5, {"train_loss": 0.01})]
    tags = best_tags(cands)
    assert tags["best.pth"] == ["val_accuracy"] and tags["epoch_002.pth"] == ["val_accuracy"]
    assert tags["epoch_003.pth"] == ["val_loss"]
    assert tags["epoch_004.pth"] == []
    assert last_name(cands) == "last.pth"
    assert last_name(cands[:3]) == "epoch_003.pth"


def test_prune_keeps_best_n_last_m_and_never_best_or_last() -> None:
    plan = plan_prune(files(), metric="val_accuracy", mode=None, keep_best=1, keep_last=0)
    assert plan.delete == ["epoch_001.pth", "epoch_003.pth"]
    assert set(plan.keep) == {"best.pth", "last.pth", "epoch_002.pth"}
    plan = plan_prune(files(), metric=None, mode=None, keep_best=0, keep_last=1)
    assert plan.delete == ["epoch_001.pth", "epoch_002.pth"]
    plan = plan_prune(
        files(), metric=None, mode=None, keep_best=0, keep_last=0, untouchable=["x.pth"]
    )
    assert "x.pth" in plan.keep and "x.pth" not in plan.delete
    mine = [*files(), Candidate("my_copy.pth", 1, {"val_accuracy": 0.1})]
    plan = plan_prune(mine, metric=None, mode=None, keep_best=0, keep_last=0)
    assert "my_copy.pth" in plan.keep and "my_copy.pth" not in plan.delete
    assert is_protected("best_val_loss.pth") and not is_protected("epoch_001.pth")
    with pytest.raises(UsageError, match="--metric"):
        plan_prune(files(), metric=None, mode=None, keep_best=1, keep_last=0)


def test_versions_start_at_1_0_0_and_bump_minor_by_default() -> None:
    assert semver.next_version([], bump_part=None, explicit=None) == "1.0.0"
    assert semver.next_version(["1.0.0", "1.2.0"], bump_part=None, explicit=None) == "1.3.0"
    assert semver.next_version(["1.2.3"], bump_part="major", explicit=None) == "2.0.0"
    assert semver.next_version(["1.2.3"], bump_part="patch", explicit=None) == "1.2.4"
    assert semver.next_version(["1.2.3"], bump_part=None, explicit="v0.9.0") == "0.9.0"
    assert semver.latest(["1.10.0", "1.9.0"]) == semver.Version(1, 10, 0)
    with pytest.raises(UsageError, match="already registered"):
        semver.next_version(["1.0.0"], bump_part=None, explicit="1.0.0")
    with pytest.raises(UsageError, match=r"MAJOR\.MINOR\.PATCH"):
        semver.parse("1.0")


def test_compare_state_lists_missing_unexpected_and_shapes() -> None:
    expected = {"a": torch.zeros(2), "b": torch.zeros(3, 3)}
    report = compare_state(expected, {"b": torch.zeros(3, 4), "c": torch.zeros(1)})
    assert report.missing == ["a"] and report.unexpected == ["c"]
    assert report.mismatched == ["b: file [3, 4] vs model [3, 3]"]
    assert "missing 1: a" in report.describe()


class FakeRegistry:
    def __init__(self, entries: dict[str, dict[str, object]]) -> None:
        self.entries = entries

    def entry(self, name: str, version: str) -> dict[str, object] | None:
        return self.entries.get(f"{name}@{version}")

    def ref_for_path(self, path: str) -> str | None:
        return None

    def lineage_of_file(self, path: str) -> dict[str, object] | None:
        return None


def test_walk_follows_registered_parents_and_reports_missing_resumes() -> None:
    registry = FakeRegistry(
        {
            "ft@1.0.0": {
                "parent": "base@1.0.0",
                "lineage": {
                    "run_id": "r2",
                    "resumed_from": {"path": "/gone/last.pth", "run_id": "r1"},
                    "provenance": {"study": "s", "trial": 3},
                },
            },
            "base@1.0.0": {"parent": None, "lineage": {"run_id": "r0", "parent": None}},
        }
    )
    nodes = walk("ft", "1.0.0", registry)
    assert [(n.label, n.relation, n.kind) for n in nodes] == [
        ("ft@1.0.0", "model", "registry"),
        ("/gone/last.pth", "resumed from", "missing"),
        ("base@1.0.0", "parent", "registry"),
    ]
    text = format_chain(nodes)
    assert "study=s, trial=3" in text and text.rstrip().endswith("trained from scratch")
    assert isinstance(nodes[0], LineageNode) and nodes[0].as_dict()["run_id"] == "r2"
