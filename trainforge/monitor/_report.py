"""``--analyze``: one self-contained HTML diagnostics report of a run folder.

Offline by construction: figures are PNGs inlined as data URIs, styles inline, no scripts.
Every string that comes from the run folder (metric names, messages, config, paths) is
HTML-escaped, so a hostile log cannot inject markup.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from html import escape
from typing import Any

from trainforge.health.rules import Finding
from trainforge.logging import format_number
from trainforge.monitor import _plots
from trainforge.monitor._background import Background, Prefetch
from trainforge.monitor._run import (
    RunFolder,
    checkpoints,
    findings_for,
    load_run_log,
    read_alerts,
)
from trainforge.monitor._verdicts import Verdict, verdicts

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1em;max-width:1200px;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top;font-size:14px} th{background:#f4f4f4}
.verdict{border-left:6px solid #2a7;padding:.4em .8em;margin:.6em 0;background:#f6fbf8}
.verdict.bad{border-color:#d33;background:#fdf5f5} .verdict.unknown{border-color:#aaa;
background:#f7f7f7} .fix{color:#555} img{max-width:100%} pre{background:#f7f7f7;
padding:.6em;overflow:auto;font-size:13px} .muted{color:#777}
"""


def analyze(run: RunFolder, reading: Prefetch) -> tuple[str, list[Verdict]]:
    """The report of ``run`` (whose log ``reading`` is reading) as HTML text, and its
    verdicts."""
    _plots.import_in_background("trainforge.health.checks")  # the rules' config schema
    log = load_run_log(run, reading)
    # The rules (numpy's loops, which release the GIL) run while the figures are drawn.
    finding = Background(findings_for, log, run.config, name="monitor-rules")
    curves = _img(_plots.png_bytes(_plots.draw(_plots.curve_panels(log.series))), "learning curves")
    resources = _plots.resource_panels(log.series)
    resources_img = _img(_plots.png_bytes(_plots.draw(resources)), "resources") if resources else ""
    findings = finding.result()
    alerts = read_alerts(run.log_dir)
    judged = verdicts(log.series, findings, log.events, alerts)
    parts = [
        f"<h1>Diagnostics: {escape(run.path.name)}</h1>",
        _status_line(run, log.records, log.torn),
        "<h2>Verdicts</h2>",
        *(_verdict_html(v) for v in judged),
        "<h2>Learning curves</h2>",
        curves,
    ]
    if resources:
        parts += ["<h2>Resources</h2>", resources_img]
    parts += [
        "<h2>Alert timeline</h2>",
        _alert_table(alerts, findings),
        "<h2>Checkpoints</h2>",
        _checkpoint_table(checkpoints(run, log)),
        "<h2>Config</h2>",
        f"<pre>{escape(run.config_text or '(no config.yaml)')}</pre>",
        "<h2>System</h2>",
        _mapping_table(run.metadata.get("system") or {}),
        "<h2>Metadata</h2>",
        _mapping_table({k: v for k, v in run.metadata.items() if k not in ("system", "versions")}),
        "<h2>Package versions</h2>",
        _mapping_table(run.metadata.get("versions") or {}),
    ]
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>trainforge diagnostics: {escape(run.path.name)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    return page, judged


def _status_line(run: RunFolder, records: int, torn: bool) -> str:
    meta = run.metadata
    bits = [
        f"status <b>{escape(run.status)}</b>",
        f"{meta.get('epochs_completed', '?')} epoch(s)",
        f"{meta.get('global_step', '?')} steps",
        f"{records} log records",
    ]
    if meta.get("duration_s") is not None:
        bits.append(f"{float(meta['duration_s']):.1f} s")
    if torn:
        bits.append("last log line incomplete (run still writing or killed)")
    return f"<p class='muted'>{escape(str(run.path))}: {' · '.join(bits)}</p>"


def _verdict_html(v: Verdict) -> str:
    cls = "verdict bad" if v.bad else ("verdict unknown" if v.answer == "unknown" else "verdict")
    evidence = "".join(f"<li>{escape(e)}</li>" for e in v.evidence)
    fix = f"<div class='fix'>Suggested fix: {escape(v.fix)}</div>" if v.fix and v.bad else ""
    return (
        f"<div class='{cls}'><b>{escape(v.question)}</b> {escape(v.answer)}: "
        f"{escape(v.summary)}<ul>{evidence}</ul>{fix}</div>"
    )


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{data}'>"


def _when(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(float(value), tz=_dt.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
    return ""


def _alert_table(alerts: list[dict[str, Any]], findings: list[Finding]) -> str:
    """alerts.jsonl as raised live, plus findings of the rules the live run did not raise
    (a run with monitoring off, or an older trainforge)."""
    raised = {(str(a.get("rule")), a.get("step"), a.get("epoch")) for a in alerts}
    rows = [
        (
            a.get("time"),
            a.get("step"),
            a.get("epoch"),
            a.get("rule"),
            a.get("level"),
            a.get("message"),
            a.get("fix"),
            "live",
        )
        for a in alerts
    ]
    rows += [
        (None, f.step, f.epoch, f.rule, f.level, f.message, f.fix, "report")
        for f in findings
        if f.key() not in raised
    ]
    if not rows:
        return "<p>No alerts.</p>"
    rows.sort(key=lambda r: r[1] if isinstance(r[1], (int, float)) else -1)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(_cell(c))}</td>"
            for c in (_when(t), step, epoch, rule, level, message, fix, source)
        )
        + "</tr>"
        for t, step, epoch, rule, level, message, fix, source in rows
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("time (UTC)", "step", "epoch", "rule", "severity", "evidence", "fix", "from")
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _checkpoint_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>No checkpoint files.</p>"
    body = "".join(
        f"<tr><td>{escape(r['name'])}</td><td>{r['size_mb']:.2f}</td>"
        f"<td>{escape(_cell(r['epoch']))}</td><td>{escape(_cell(r['step']))}</td>"
        f"<td>{escape(_when(r['time']))}</td></tr>"
        for r in rows
    )
    return (
        "<table><tr><th>file</th><th>MB</th><th>epoch</th><th>step</th><th>saved (UTC)</th></tr>"
        f"{body}</table>"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _mapping_table(mapping: dict[str, Any]) -> str:
    if not mapping:
        return "<p class='muted'>(not recorded)</p>"
    body = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(_cell(v))}</td></tr>" for k, v in mapping.items()
    )
    return f"<table>{body}</table>"
