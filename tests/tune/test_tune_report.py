"""The --analyze report: one offline HTML file, every plot drawn in headless Chromium, names
escaped. The study is a real Optuna study in a real SQLite file, with hostile names."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest
from browser import render_html
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState
from tune_helpers import BASE, tune

from trainforge.config import load_config

NAME = '<script>alert("study")</script> & co'
PARAM = "model.kwargs.<b>width</b>"


def _study(folder: Path) -> None:
    storage = f"sqlite:///{folder}/trainforge_studies.db"
    study = optuna.create_study(study_name=NAME, storage=storage, direction="maximize")
    tuning = {
        "search_space": {
            "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
            PARAM: {"type": "categorical", "choices": [8, 16]},
            "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
        },
        "optimization": {"metric": "val_accuracy"},
    }
    study.set_user_attr("metric", "val_accuracy")
    study.set_user_attr("intermediate_metric", "val_loss")
    study.set_user_attr("tuning_config", tuning)
    study.set_user_attr("base_config", load_config(BASE).model_dump(mode="json"))
    dists = {
        "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
        PARAM: CategoricalDistribution([8, 16]),
        "optimizer": CategoricalDistribution(["adam", "sgd"]),
    }
    rng = __import__("random").Random(0)
    for i in range(12):
        lr = 10 ** rng.uniform(-4, -1)
        params = {
            "learning_rate": lr,
            PARAM: rng.choice([8, 16]),
            "optimizer": rng.choice(["adam", "sgd"]),
        }
        value = 0.5 + 0.4 * (lr > 1e-3) + 0.01 * rng.random()
        pruned = i % 4 == 3
        study.add_trial(
            optuna.create_trial(
                params=params,
                distributions=dists,
                value=None if pruned else value,
                state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                intermediate_values={1: -1.0 + value / 2, 2: -1.0 + value}
                if not pruned
                else {1: -2.0},
                user_attrs={
                    "epochs": 1 if pruned else 2,
                    "reason": "<i>pruned</i>" if pruned else "",
                },
            )
        )


@pytest.mark.slow
def test_report_renders_every_plot_offline_with_names_escaped(tmp_path: Path) -> None:
    _study(tmp_path)
    result = tune(["--analyze", "--study", NAME, "--output", "analysis_report.html"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    page = (tmp_path / "analysis_report.html").read_text()
    assert page.count("plotly.js v") == 1
    assert not re.search(r"<script[^>]*\bsrc=", page)  # nothing loaded from anywhere
    assert '<script>alert("study")' not in page and "&lt;script&gt;alert" in page
    assert "<b>width</b>" not in page.replace("\\u003cb\\u003e", "")
    assert "<i>pruned</i>" not in page
    rendered = render_html(tmp_path / "analysis_report.html", tmp_path / "browser")
    assert rendered.errors == []
    plots = re.findall(r'<div id="(plot\d+)" class="plotly-graph-div', rendered.dom)
    # history, fANOVA, PED-ANOVA, parallel coordinates, slices, contour, intermediate values
    assert len(plots) == 7, plots
    drawn = rendered.dom.count('class="main-svg"')
    assert drawn >= 2 * len(plots)  # plotly draws two svg layers into every plot it renders
    assert "not drawn" not in rendered.dom
    # plotly reads <b> in a label as bold: the name must show as written, tags and all
    assert re.search(r"<text[^>]*>[^<]*model\.kwargs\.&lt;b&gt;width", rendered.dom)
    assert 'id="best-config"' in rendered.dom and "provenance" in rendered.dom
    assert rendered.dom.count("<tr>") == 13  # the header and 12 trials
    assert rendered.screenshot.is_file()


def test_analyze_names_the_studies_it_has(tmp_path: Path) -> None:
    optuna.create_study(study_name="real", storage=f"sqlite:///{tmp_path}/trainforge_studies.db")
    result = tune(["--analyze", "--study", "typo", "--output", "r.html"], tmp_path)
    assert result.returncode == 2
    assert "no study 'typo'" in result.stderr and "real" in result.stderr
