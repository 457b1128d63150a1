"""Config loading and validation: SPEC's files verbatim, errors that say where and how to fix."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trainforge.config import load_config
from trainforge.errors import ConfigError

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "SPEC.md"
ROOT = Path(__file__).resolve().parents[2]


def spec_yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", SPEC.read_text(), re.S)


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.skipif(not SPEC.exists(), reason="shared/SPEC.md is not beside the checkout")
def test_spec_training_config_validates_verbatim(tmp_path: Path) -> None:
    blocks = spec_yaml_blocks()
    training = next(b for b in blocks if b.startswith("# Model configuration"))
    cfg = load_config(write(tmp_path, training))
    assert cfg.model.architecture == "resnet18"
    assert cfg.model.pretrained is True
    assert cfg.logging.val_every_n_epochs == 1
    assert cfg.checkpointing.monitor == "val_accuracy"
    assert cfg.checkpointing.mode == "max"
    assert cfg.early_stopping.mode == "min"
    assert cfg.lr_scheduler.min_lr == pytest.approx(1e-6)


@pytest.mark.skipif(not SPEC.exists(), reason="shared/SPEC.md is not beside the checkout")
def test_spec_tips_snippets_validate(tmp_path: Path) -> None:
    tips = [b for b in spec_yaml_blocks() if not b.startswith(("# Model", "# Search"))]
    assert len(tips) == 4
    for text in tips:
        cfg = load_config(
            write(
                tmp_path,
                text + "data:\n  train_path: builtin:digits\n"
                if "data:" not in text
                else text + "  train_path: builtin:digits\n",
            )
        )
        assert cfg is not None
    accum = next(t for t in tips if "gradient_accumulation_steps" in t)
    cfg = load_config(write(tmp_path, accum), ["data.train_path=builtin:digits"])
    assert cfg.data.batch_size == 16 and cfg.training.gradient_accumulation_steps == 4


@pytest.mark.skipif(not SPEC.exists(), reason="shared/SPEC.md is not beside the checkout")
def test_workflow1_config_validates() -> None:
    text = SPEC.read_text()
    body = re.search(r"cat > config.yaml << EOF\n(.*?)EOF", text, re.S)
    assert body is not None
    cfg = load_config({**__import__("yaml").safe_load(body.group(1))})
    assert cfg.data.train_path == "data/train.csv" and cfg.training.epochs == 50


def test_batch_size_alias_conflict(tmp_path: Path) -> None:
    path = write(
        tmp_path, "data:\n  train_path: x.csv\n  batch_size: 32\ntraining:\n  batch_size: 16\n"
    )
    with pytest.raises(ConfigError, match=r"differ; set only one"):
        load_config(path)
    same = write(
        tmp_path, "data:\n  train_path: x.csv\n  batch_size: 16\ntraining:\n  batch_size: 16\n"
    )
    assert load_config(same).data.batch_size == 16


def test_unknown_key_did_you_mean_with_line(tmp_path: Path) -> None:
    path = write(tmp_path, "model:\n  architecure: mlp\ndata:\n  train_path: x.csv\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "model.architecure (line 2)" in msg and "did you mean 'architecture'" in msg
    assert "\n" not in msg


def test_wrong_type_names_path_value_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, "data:\n  train_path: x.csv\ntraining:\n  learning_rate: fast\n")
    with pytest.raises(
        ConfigError, match=r"training.learning_rate \(line 4\).*valid number.*'fast'"
    ):
        load_config(path)


def test_unknown_metric_direction_needs_mode() -> None:
    with pytest.raises(ConfigError, match=r"set early_stopping.mode"):
        load_config({"data": {"train_path": "x"}, "early_stopping": {"metric": "val_bleu"}})
    cfg = load_config(
        {"data": {"train_path": "x"}, "early_stopping": {"metric": "val_bleu", "mode": "max"}}
    )
    assert cfg.early_stopping.mode == "max"


def test_overrides_precedence_and_types(tmp_path: Path) -> None:
    path = write(tmp_path, "data:\n  train_path: x.csv\nreproducibility:\n  seed: 1\n")
    assert load_config(path).reproducibility.seed == 1
    assert load_config(path, seed=7).reproducibility.seed == 7
    cfg = load_config(path, ["reproducibility.seed=9", "training.learning_rate=3e-4"], seed=7)
    assert cfg.reproducibility.seed == 9 and cfg.training.learning_rate == pytest.approx(3e-4)
    with pytest.raises(ConfigError, match=r"training.epochs"):
        load_config(path, ["training.epochs=many"])
    with pytest.raises(ConfigError, match=r"not of the form"):
        load_config(path, ["training.epochs"])
    with pytest.raises(ConfigError, match=r"did you mean 'epochs'"):
        load_config(path, ["training.epoch=3"])


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"line 2: invalid YAML"):
        load_config(write(tmp_path, "model:\n  architecture: a: b\n"))
    with pytest.raises(ConfigError, match=r"must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match=r"train_path"):
        load_config(write(tmp_path, "model:\n  architecture: mlp\n")).require_data()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainforge", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_cli_validate_and_schema_without_torch(tmp_path: Path) -> None:
    good = write(tmp_path, "data:\n  train_path: builtin:digits\n")
    probe = (
        "import sys; from trainforge.cli.main import main; rc = main(['config', 'validate', "
        f"{str(good)!r}]); assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "valid training config" in done.stdout
    schema = json.loads(run_cli("config", "schema").stdout)
    assert "training" in schema["properties"]
    assert schema["$defs"]["TrainingConfig"]["properties"]["learning_rate"]["description"]


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, "model:\n  architecure: mlp\ndata:\n  train_path: x.csv\n")
    done = run_cli("train", "--config", str(bad), "--output", str(tmp_path / "run"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "did you mean 'architecture'" in done.stderr
    flag = run_cli("train", "--confg", str(bad))
    assert flag.returncode == 2 and "Traceback" not in flag.stderr
    assert len(flag.stderr.strip().splitlines()) == 1


def test_every_field_has_a_description() -> None:
    from trainforge.config import TrainConfig

    def walk(model: type) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            ann = field.annotation
            if hasattr(ann, "model_fields"):
                missing += [f"{name}.{m}" for m in walk(ann)]
            elif not field.description:
                missing.append(name)
        return missing

    assert walk(TrainConfig) == []


def test_readme_config_reference_is_current() -> None:
    from trainforge.config.reference import reference_markdown

    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- config-reference:start -->") + len("<!-- config-reference:start -->")
    end = readme.index("<!-- config-reference:end -->")
    assert readme[start:end].strip() == reference_markdown().strip(), (
        "README's config reference is stale: paste the output of `trainforge config reference`"
    )


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        lines.append(
            f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]"
        )
    lines.append("provenance: {bomb: *h}")
    lines.append("data: {train_path: builtin:iris}")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_config(write(tmp_path, "\n".join(lines) + "\n"))
    anchors = "data: &d {train_path: builtin:iris}\nprovenance: {copy: *d}\n"
    assert load_config(write(tmp_path, anchors, "anchors.yaml")).provenance == {
        "copy": {"train_path": "builtin:iris"}
    }
