"""Start-up cost: what each command imports, checked in a fresh interpreter via sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fixtures import make_train_val_csvs

ROOT = Path(__file__).resolve().parents[2]


def modules_after(code: str, cwd: Path) -> set[str]:
    """The modules loaded once ``code`` has run in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def cli(*args: str) -> str:
    return (
        "import contextlib, io\nfrom trainforge.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    try:\n        main({list(args)!r})\n    except SystemExit:\n        pass"
    )


def test_help_validate_and_config_errors_do_not_import_torch(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("data:\n  train_path: builtin:digits\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  architecure: mlp\ndata:\n  train_path: x.csv\n")
    for args in (
        ("--help",),
        ("train", "--help"),
        ("config", "validate", str(good)),
        ("config", "validate", str(bad)),
        ("train", "--config", str(bad), "--output", str(tmp_path / "run")),
    ):
        loaded = modules_after(cli(*args), ROOT)
        assert "trainforge.cli.main" in loaded
        assert "torch" not in loaded, args


def test_a_csv_run_imports_only_what_its_config_uses(tmp_path: Path) -> None:
    train, val = make_train_val_csvs(tmp_path / "data")
    config = {
        "model": {"architecture": "mlp", "hidden_sizes": [16]},
        "data": {"train_path": str(train), "val_path": str(val), "batch_size": 64},
        "training": {"epochs": 1},
        "logging": {"progress_bar": "off", "tensorboard": False},
    }
    run = tmp_path / "run"
    loaded = modules_after(
        f"import trainforge\ntrainforge.fit({config!r}, output={str(run)!r})", ROOT
    )
    assert (run / "checkpoints" / "last.pth").is_file()
    for heavy in ("sklearn", "torchvision", "tensorboard", "wandb", "mlflow", "optuna"):
        assert heavy not in loaded, heavy
    # torch's optimizers import part of torch._inductor anyway (through torch._dynamo); a
    # run with determinism and compile off must not import more of it than a bare loop does.
    bare = modules_after(
        "import torch\nmodel = torch.nn.Linear(4, 2)\nopt = torch.optim.AdamW(model.parameters())\n"
        "model(torch.zeros(1, 4)).sum().backward()\nopt.step()",
        tmp_path,
    )
    extra = {m for m in loaded - bare if m.startswith(("torch._inductor", "torch._dynamo"))}
    assert not extra, sorted(extra)[:10]


def test_determinism_off_does_not_import_inductor(tmp_path: Path) -> None:
    setup = "from trainforge.train.seeding import configure_determinism\n"
    off = modules_after(setup + "configure_determinism(False, False)", ROOT)
    assert "torch" in off and "torch._inductor" not in off
    # switching it back off after it was on still goes through torch's own switch
    code = setup + (
        "import torch\nconfigure_determinism(True, False)\nconfigure_determinism(False, False)\n"
        "assert not torch.are_deterministic_algorithms_enabled()"
    )
    assert "torch._inductor" in modules_after(code, ROOT)
