"""Lineage recorded without user effort, and --lineage showing the whole chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from manager_testing import call, cli, config, train

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.ckpt.registry import Registry

PROVENANCE = {"study": "my_tuning", "trial": 7}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """base run -> digits@1.0.0 -> fine-tuned run (registry:digits@1.0.0, from a tuning trial)
    -> resumed into a new folder -> digits-ft@1.0.0; plus runs started from file paths."""
    root = tmp_path_factory.mktemp("lineage")
    registry = root / "models"
    base = train(root / "base").run_dir
    Registry(registry).register(base / "checkpoints" / "best.pth", "digits", evaluate=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRAINFORGE_REGISTRY", str(registry))
        ft_cfg = config(
            model={"pretrained": "registry:digits@1.0.0"},
            training={"epochs": 1},
            provenance=PROVENANCE,
        )
        ft = train(root / "ft", ft_cfg).run_dir
    resumed = trainforge.fit(
        None,  # type: ignore[arg-type]  # the checkpoint's config
        {"training.epochs": 2},
        resume=ft / "checkpoints" / "last.pth",
        output=root / "ft_resumed",
    ).run_dir
    Registry(registry).register(resumed / "checkpoints" / "last.pth", "digits-ft", evaluate=False)
    by_path = train(
        root / "by_path",
        config(
            model={"pretrained": str(registry / "digits_v1.0.0" / "checkpoint.pth")},
            training={"epochs": 1},
        ),
        fast_dev_run=True,
    ).run_dir
    Registry(registry).register(by_path / "checkpoints" / "last.pth", "by-path", evaluate=False)
    from_run = train(
        root / "from_run",
        config(
            model={"pretrained": str(base / "checkpoints" / "epoch_001.pth")},
            training={"epochs": 1},
        ),
        fast_dev_run=True,
    ).run_dir
    Registry(registry).register(from_run / "checkpoints" / "last.pth", "from-run", evaluate=False)
    return {"root": root, "registry": registry, "base": base, "ft": ft, "resumed": resumed}


def test_a_fine_tuned_run_records_its_registry_parent(world: dict[str, Path]) -> None:
    lineage = load_checkpoint(world["ft"] / "checkpoints" / "last.pth")["lineage"]
    parent = lineage["parent"]
    assert parent["kind"] == "registry"
    assert (parent["name"], parent["version"]) == ("digits", "1.0.0")
    base_run = load_checkpoint(world["base"] / "checkpoints" / "best.pth")["lineage"]["run_id"]
    assert parent["run_id"] == base_run
    assert lineage["provenance"] == PROVENANCE and lineage["data_hash"]
    meta = json.loads((world["ft"] / "metadata.json").read_text())
    assert meta["parent"]["version"] == "1.0.0"


def test_registering_links_the_versions(world: dict[str, Path]) -> None:
    index = json.loads((world["registry"] / "registry.json").read_text())
    models = index["models"]
    assert models["digits-ft"]["versions"]["1.0.0"]["parent"] == "digits@1.0.0"
    assert models["by-path"]["versions"]["1.0.0"]["parent"] == "digits@1.0.0"
    assert models["from-run"]["versions"]["1.0.0"]["parent"] is None  # not a registered file
    card = (world["registry"] / "digits-ft_v1.0.0" / "model_card.md").read_text()
    assert "base_model: digits@1.0.0" in card and "my_tuning" in card


def test_lineage_shows_resume_parent_provenance_and_data_hash(world: dict[str, Path]) -> None:
    proc = cli(
        "--lineage", "digits-ft@1.0.0", "--registry", str(world["registry"]), cwd=world["root"]
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.index("digits-ft@1.0.0") < text.index("resumed from") < text.index("digits@1.0.0")
    assert "study=my_tuning, trial=7" in text
    assert "training data sha256" in text and text.rstrip().endswith("trained from scratch")


def test_lineage_json_and_a_parent_that_is_another_runs_checkpoint(
    world: dict[str, Path], capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("TRAINFORGE_REGISTRY", str(world["registry"]))
    code, out, _ = call(
        "--lineage", "digits-ft@1.0.0", "--format", "json",
        cwd=world["root"], capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0
    nodes = json.loads(out)
    assert [n["relation"] for n in nodes] == ["model", "resumed from", "parent"]
    assert nodes[1]["kind"] == "checkpoint" and nodes[1]["path"].endswith("last.pth")
    assert nodes[0]["run_id"] != nodes[1]["run_id"]

    code, out, _ = call(
        "--lineage", "from-run@1.0.0", "--format", "json",
        cwd=world["root"], capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    nodes = json.loads(out)
    assert nodes[1]["relation"] == "parent" and nodes[1]["kind"] == "checkpoint"
    assert nodes[1]["path"].endswith("epoch_001.pth")
    base_run = load_checkpoint(world["base"] / "checkpoints" / "best.pth")["lineage"]["run_id"]
    assert nodes[1]["run_id"] == base_run


def test_pretrained_may_name_a_registry_alias(
    world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Registry(world["registry"]).promote("digits@1.0.0", "production")
    monkeypatch.setenv("TRAINFORGE_REGISTRY", str(world["registry"]))
    for ref in ("production", "latest"):
        run = train(
            tmp_path / ref,
            config(model={"pretrained": f"registry:digits@{ref}"}, training={"epochs": 1}),
            fast_dev_run=True,
        ).run_dir
        parent = load_checkpoint(run / "checkpoints" / "last.pth")["lineage"]["parent"]
        assert (parent["name"], parent["version"]) == ("digits", "1.0.0")
