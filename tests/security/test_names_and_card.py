"""Names that become paths are fully matched; text from configs and checkpoints renders
inertly in the model card."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from security_testing import assert_one_line_error, run_cli

from trainforge.ckpt.card import CardInputs, render_card
from trainforge.ckpt.registry import check_alias, check_name
from trainforge.ckpt.semver import is_version
from trainforge.errors import UsageError

HOSTILE = [
    "cat|dog",
    "<script>alert(1)</script>",
    "line\n---\ntitle: injected",
    "---",
    "a`b",
    "x\r\n| forged | row |",
]


@pytest.mark.parametrize("name", ["evil\n", "evil\r", "a" * 101, "../x", ".hidden", "a b", ""])
def test_names_that_are_not_whole_words_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="not a valid model name"):
        check_name(name)
    with pytest.raises(UsageError, match="cannot be used"):
        check_alias(name)


def test_valid_names_and_versions_pass() -> None:
    assert check_name("digits-cnn_2.0") == "digits-cnn_2.0"
    assert check_name("a" * 100) == "a" * 100
    assert is_version("v1.2.3") and not is_version("1.2.3.4") and not is_version("1" * 12 + ".0.0")


def test_a_newline_or_overlong_name_is_one_line_on_the_cli(tmp_path: Path) -> None:
    for name in ("evil\n", "n" * 300):
        done = run_cli(
            "ckpt", "--register", "--checkpoint", "none.pth", "--name", name, cwd=tmp_path
        )
        assert_one_line_error(done, "not a valid model name")
    assert not any(tmp_path.iterdir())


def _card() -> str:
    config = {
        "model": {"architecture": "mypkg:Net|<b>bold</b>"},
        "data": {"train_path": "data/train.csv\n# heading", "val_split": 0.1},
    }
    provenance = {"study": "s" * 150, "trial": 3, "note": "multi\nline"}
    return render_card(
        CardInputs(
            name="digits",
            version="1.0.0",
            config=config,
            spec={"class_names": HOSTILE, "task": "classification", "kind": "tabular"},
            metrics={"val_loss": 0.25},
            lineage={"provenance": provenance},
        )
    )


def test_hostile_class_names_render_inertly() -> None:
    card = _card()
    body = card.split("\n---\n", 1)[1]  # the front matter is YAML data, checked below
    assert "<script>" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    # The front matter is exactly the first block: two delimiters, and YAML that parses back.
    lines = card.splitlines()
    assert [i for i, line in enumerate(lines) if line == "---"] == [0, lines.index("---", 1)]
    meta = yaml.safe_load(card.split("\n---\n", 1)[0].removeprefix("---\n"))
    assert meta["architecture"] == "mypkg:Net|<b>bold</b>"
    assert meta["datasets"] == ["data/train.csv\n# heading"]
    # Every table row keeps exactly two cells (an escaped \| is not a separator).
    for line in lines:
        if line.startswith("|"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 3, line
    assert not any(line.startswith(("#  ", "title:", "# heading")) for line in lines)


def test_long_provenance_is_never_wrapped() -> None:
    card = _card()
    row = next(line for line in card.splitlines() if line.startswith("| provenance |"))
    assert "s" * 150 in row and "trial: 3" in row
