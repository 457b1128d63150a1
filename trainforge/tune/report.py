"""``--analyze``: one self-contained HTML file about a study (plotly.js embedded once, offline)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from trainforge._fileio import atomic_write_text
from trainforge.errors import UsageError
from trainforge.tune.engine import DEFAULT_STORAGE

GENERATOR = '<meta name="generator" content="trainforge tune --analyze">'


def load(study_name: str, storage: str | None) -> optuna.Study:
    """The study by name, from ``storage`` or the default file here, with one-line errors."""
    url = storage or DEFAULT_STORAGE
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if not path.is_file():
            raise UsageError(
                f"no study storage {path} in {Path.cwd()}; run the search from this folder "
                "first, or pass --storage URL"
            )
    from trainforge.tune.engine import make_storage

    store = make_storage(url)
    names = [s.study_name for s in optuna.get_all_study_summaries(store)]
    if study_name not in names:
        known = ", ".join(names) or "none"
        raise UsageError(f"no study '{study_name}' in {url} (studies there: {known})")
    return optuna.load_study(study_name=study_name, storage=store)


def analyze(study_name: str, storage: str | None, out: Path) -> Path:
    study = load(study_name, storage)
    if out.exists() and GENERATOR not in out.read_text(encoding="utf-8", errors="replace")[:2000]:
        raise UsageError(f"{out} exists and was not written by trainforge; choose another --output")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render(study, storage or DEFAULT_STORAGE))
    return out


def _for_display(study: optuna.Study) -> optuna.Study:
    """An in-memory copy whose parameter names and string values are HTML-escaped: plotly
    reads tags such as <b> in labels as markup, and a name must show as written."""
    from optuna.distributions import CategoricalDistribution

    e = html.escape

    def value(v: Any) -> Any:
        return e(v) if isinstance(v, str) else v

    copy = optuna.create_study(direction=study.direction)
    copy.set_user_attr("metric", e(str(study.user_attrs.get("metric", "objective"))))
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    for t in study.get_trials(deepcopy=False, states=done):
        dists = {}
        for name, dist in t.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                dist = CategoricalDistribution([value(c) for c in dist.choices])
            dists[e(name)] = dist
        copy.add_trial(
            optuna.create_trial(
                state=t.state,
                value=t.value,
                params={e(k): value(v) for k, v in t.params.items()},
                distributions=dists,
                intermediate_values=t.intermediate_values,
                user_attrs=t.user_attrs,
            )
        )
    return copy


def figures(study: optuna.Study) -> list[tuple[str, Any | str]]:
    """(title, plotly figure or the reason it cannot be drawn) for every plot of the report."""
    import optuna.visualization as vis
    from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator

    original_names = study.user_attrs.get("intermediate_metric")
    study = _for_display(study)
    if original_names:
        study.set_user_attr("intermediate_metric", html.escape(str(original_names)))
    metric = str(study.user_attrs.get("metric", "objective"))
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    plots: list[tuple[str, Any]] = [
        ("Optimisation history", lambda: vis.plot_optimization_history(study, target_name=metric)),
        (
            "Parameter importance (fANOVA)",
            lambda: vis.plot_param_importances(
                study, evaluator=FanovaImportanceEvaluator(seed=0), target_name=metric
            ),
        ),
        (
            "Parameter importance (PED-ANOVA)",
            lambda: vis.plot_param_importances(
                study, evaluator=PedAnovaImportanceEvaluator(), target_name=metric
            ),
        ),
        ("Parallel coordinates", lambda: vis.plot_parallel_coordinate(study, target_name=metric)),
        ("Slices", lambda: vis.plot_slice(study, target_name=metric)),
    ]
    top = _top_two(study)
    if top:
        plots.append(
            (
                f"Contour of the two most important parameters "
                f"({html.unescape(top[0])}, {html.unescape(top[1])})",
                lambda: vis.plot_contour(study, params=top, target_name=metric),
            )
        )
    plots.append(("Intermediate values (complete and pruned trials)", lambda: _intermediate(study)))
    out: list[tuple[str, Any | str]] = []
    for title, make in plots:
        if len(done) < 2 and "importance" in title.lower():
            out.append((title, "needs at least 2 complete trials"))
            continue
        try:
            out.append((title, make()))
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            out.append((title, f"not drawn: {exc}"))
    return out


def _top_two(study: optuna.Study) -> list[str]:
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    names = sorted({p for t in done for p in t.params})
    if len(names) < 2 or len(done) < 2:
        return []
    try:
        importance = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
        ranked = [n for n in importance if n in names]
    except (ValueError, RuntimeError):
        ranked = names
    return ranked[:2] if len(ranked) >= 2 else names[:2]


def _intermediate(study: optuna.Study) -> Any:
    """Each trial's reported values by epoch, pruned trials dashed (Optuna's own plot draws
    every trial alike)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for t in study.get_trials(deepcopy=False):
        if not t.intermediate_values:
            continue
        steps = sorted(t.intermediate_values)
        pruned = t.state == TrialState.PRUNED
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=[t.intermediate_values[s] for s in steps],
                mode="lines+markers",
                name=f"trial {t.number} ({t.state.name.lower()})",
                line={"dash": "dash" if pruned else "solid"},
            )
        )
    name = str(study.user_attrs.get("intermediate_metric", "intermediate value"))
    fig.update_layout(
        title="Intermediate values",
        xaxis_title="epoch",
        yaxis_title=f"{name} (negated when it runs against the study's direction)",
    )
    return fig


def render(study: optuna.Study, storage: str) -> str:
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    e = html.escape
    sections: list[str] = []
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    for i, (title, fig) in enumerate(figures(study)):
        if isinstance(fig, str):
            body = f'<p class="note">{e(fig)}</p>'
        else:
            body = pio.to_html(
                fig, full_html=False, include_plotlyjs=False, div_id=f"plot{i}", validate=False
            )
        sections.append(f'<section class="plot"><h2>{e(title)}</h2>{body}</section>')
    best = _best(study)
    summary = _summary(study, storage, best)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        GENERATOR,
        f"<title>Study {e(study.study_name)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        ".note{color:#a60}pre{background:#f6f6f6;padding:1em}</style>",
        f"<script>{get_plotlyjs()}</script>",
        "</head><body>",
        f"<h1>Study {e(study.study_name)}</h1>",
        summary,
        *sections,
        "<h2>Trials</h2>",
        _trials_table(study),
        "<h2>Validation of the best configuration</h2>",
        _validation(study),
        "<h2>Best configuration</h2>",
        _best_config(study, best, storage),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:
        return None


def _summary(study: optuna.Study, storage: str, best: Any) -> str:
    e = html.escape
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    metric = study.user_attrs.get("metric", "objective")
    line = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    text = (
        f"<p>Storage {e(storage)}; {e(str(metric))}, {study.direction.name.lower()}; "
        f"trials: {e(line)}.</p>"
    )
    if best is not None:
        text += f"<p>Best: trial {best.number}, {e(str(metric))} = {best.value:.6g}.</p>"
    return text


def _trials_table(study: optuna.Study) -> str:
    e = html.escape
    trials = study.get_trials(deepcopy=False)
    names = sorted({p for t in trials for p in t.params})
    head = ["trial", "state", "value", *names, "epochs", "seconds", "reason", "host"]
    rows = ["<tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    for t in trials:
        cells = [
            str(t.number),
            t.state.name.lower(),
            "" if t.value is None else f"{t.value:.6g}",
            *[str(t.params.get(n, "")) for n in names],
            str(t.user_attrs.get("epochs", "")),
            str(t.user_attrs.get("duration_s", "")),
            str(t.user_attrs.get("reason", "")),
            str(t.user_attrs.get("host", "")),
        ]
        rows.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    return '<table id="trials">' + "".join(rows) + "</table>"


def _validation(study: optuna.Study) -> str:
    from trainforge.tune.validation import describe

    record = study.user_attrs.get("validation")
    if not record:
        return "<p>Not run (use --validate_best N).</p>"
    lines = "".join(f"<li>{html.escape(describe(r))}</li>" for r in record.get("trials", []))
    chosen = record.get("selected_trial")
    return (
        f"<ul>{lines}</ul><p>best_config.yaml is trial {chosen} ({record.get('select_best')}).</p>"
    )


def _best_config(study: optuna.Study, best: Any, storage: str) -> str:
    if best is None:
        return "<p>No trial completed.</p>"
    tuning_raw = study.user_attrs.get("tuning_config")
    base_raw = study.user_attrs.get("base_config")
    if not tuning_raw or not base_raw:
        text = json.dumps(best.params, indent=2, default=str)
    else:
        from trainforge.config import TrainConfig, dump_config, validate
        from trainforge.config.tuning import TuneConfig
        from trainforge.tune.outputs import best_config

        tuning = validate(tuning_raw, TuneConfig, source="")
        base = validate(base_raw, TrainConfig, source="")
        text = dump_config(best_config(base, tuning, best, study.study_name, storage))
    return f'<pre id="best-config">{html.escape(text)}</pre>'
