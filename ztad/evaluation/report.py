"""``report.html`` (self-contained, plots embedded as base64 PNG) and ``metrics.json``.

The page opens with the split protocol and a summary table of ztad (walk-forward, and frozen
when measured) against the origin method (ROC-AUC, PR-AUC, recall at alert budgets, recall per
category at a 1 % false-positive rate), where ztad's cell is green when it beats the best origin
detector and orange when it is behind, and any recall under 50 % is marked as a miss. The details follow: false positives on
the hard negatives (with and without the known-network and cold-start logic, when measured),
the alert budget per day, every detector, the tuning sweep and every plot.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.evaluation.ablation import ALL_HARD_NEGATIVES
from ztad.evaluation.metrics import ORDINARY_SCENARIO, GroundTruth, budget_key
from ztad.reports.html import STYLE, figure_html

#: Every plot in the report: (element id, alt text). Tests check the HTML for each.
PLOTS: tuple[tuple[str, str], ...] = (
    ("plot-roc", "ROC curves of ztad and the origin method"),
    ("plot-pr", "Precision-recall curves of ztad and the origin method"),
    ("plot-category-recall", "Recall per anomaly category at a 1% false-positive rate"),
    ("plot-score-distributions", "Score distributions of normal and anomalous events"),
    ("plot-alerts-per-day", "Alerts per day at each operating threshold"),
    ("plot-label-distribution", "Label distribution"),
    ("plot-bytes", "Histogram of bytes transferred, log scale"),
    ("plot-login-hours", "Login hour distribution"),
    ("plot-shap", "SHAP summary of the Isolation Forest member of the ztad ensemble"),
)
#: A recall under this share is highlighted as a miss.
MISS_BELOW = 0.5
MAIN_BUDGET = budget_key(0.01)
FINAL = "final"


@dataclass
class ReportData:
    """The per-event arrays the plots need, aligned with ``truth``.

    Attributes
    ----------
    truth
        Labels of the evaluated events.
    scores
        Curve name (``ztad final``, ``ztad isolation_forest``, ``origin ocsvm`` ...) ->
        scores.
    events
        Events for the exploratory plots (labels, bytes, timestamps); all the data when known.
    explanations
        SHAP values of tree models on samples of events
        (:class:`ztad.evaluation.explain.TreeExplanation`), ztad's own model first.
    """

    truth: GroundTruth
    scores: dict[str, np.ndarray]
    events: pd.DataFrame
    explanations: list = field(default_factory=list)


# --------------------------------------------------------------------------- metrics.json


def jsonable(value):
    """A copy of ``value`` that :func:`json.dumps` accepts: NaN and infinity become null."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def write_metrics(metrics: dict, path: Path) -> Path:
    """Write every number as JSON (strict: no NaN literals)."""
    path.write_text(json.dumps(jsonable(metrics), indent=2, allow_nan=False))
    return path


# --------------------------------------------------------------------------- figures


def _anomaly_mask(events: pd.DataFrame) -> np.ndarray:
    from ztad.schema import is_anomaly_label

    return is_anomaly_label(events["event_label"]).fillna(False).to_numpy(dtype=bool)


def build_images(data: ReportData, metrics: dict) -> dict[str, str]:
    """Render every plot in :data:`PLOTS` to base64 PNG."""
    from ztad.reports import plots

    y = data.truth.is_anomaly
    curves = {name: (y, scores) for name, scores in data.scores.items()}
    # ztad's final decision against each origin detector; per-detector recall is in the tables.
    recalls = {
        name: {c: v["recall"] for c, v in m["at_budget"][MAIN_BUDGET]["per_category"].items()}
        for name, m in _detectors(metrics).items()
        if name == f"ztad {FINAL}" or name.startswith("origin ")
    }
    per_day = {
        name: m["operating"]["alerts_per_day"]["by_day"]
        for name, m in _detectors(metrics).items()
        if m.get("operating") and "alerts_per_day" in m["operating"]
    }
    events = data.events
    mask = _anomaly_mask(events)
    figures = {
        "plot-roc": lambda: plots.roc_curves(curves),
        "plot-pr": lambda: plots.pr_curves(curves),
        "plot-category-recall": lambda: plots.category_recall(
            recalls, "Recall per anomaly category at a 1% false-positive rate"
        ),
        "plot-score-distributions": lambda: plots.score_distributions(curves),
        "plot-alerts-per-day": lambda: plots.alerts_per_day(per_day),
        "plot-label-distribution": lambda: plots.label_distribution(events["event_label"]),
        "plot-bytes": lambda: plots.bytes_histogram(events.get("bytes_transferred"), mask),
        "plot-login-hours": lambda: plots.login_hours(events["timestamp"], mask),
    }
    images = {plot_id: plots.to_png_base64(figures[plot_id]()) for plot_id in figures}
    images.update(shap_images(data.explanations))
    return images


def shap_images(explanations: list) -> dict[str, str]:
    """One SHAP summary per explained model: ``plot-shap`` for the first, ``plot-shap-2`` ..."""
    from ztad.reports import plots

    if not explanations:
        figure = plots.placeholder("no tree model was given to explain")
        return {"plot-shap": plots.to_png_base64(figure)}
    images = {}
    for i, item in enumerate(explanations, start=1):
        plot_id = "plot-shap" if i == 1 else f"plot-shap-{i}"
        title = f"{item.title} ({len(item.sample)} sampled events)"
        figure = plots.shap_summary(None, item.sample, title, values=item.values)
        images[plot_id] = plots.to_png_base64(figure)
    return images


def shap_notes(metrics: dict) -> str:
    """Which models the SHAP plots explain, and each one's three weightiest features."""
    shap = metrics.get("shap") or {}
    if not shap:
        return "<p>No tree model was explained.</p>"
    items = []
    for title, facts in shap.items():
        top = ", ".join(f"{html.escape(name)} ({value:.3f})" for name, value in list(facts["mean_abs_shap"].items())[:3])
        version = f" registered as <code>{html.escape(facts['model_version'])}</code>," if facts.get("model_version") else ""
        items.append(f"<li><b>{html.escape(title)}</b>:{version} {facts['rows']} events; largest mean |SHAP|: {top}</li>")
    return ("<p class='note'>ztad's plot explains its own registered model: the Isolation Forest member of "
            "the ensemble that scored the last day, loaded through the registry, on a sample of that "
            "day's behavioural features (the ensemble combines this member with the others).</p>"
            f"<ul>{''.join(items)}</ul>")


# --------------------------------------------------------------------------- HTML pieces


def _detectors(metrics: dict) -> dict[str, dict]:
    """Curve name -> detector metrics, ztad's first (final decision first, then its frozen
    mode's), then origin's."""
    out = {}
    for name, values in metrics.get("ztad", {}).items():
        out[f"ztad {name}"] = values
    for name, values in (metrics.get("ztad_frozen") or {}).items():
        out[f"ztad frozen {name}"] = values
    for name, values in metrics.get("origin", {}).items():
        out[f"origin {name}"] = values
    return out


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _summary_rows(metrics: dict) -> list[tuple[str, str, bool, object]]:
    """(row label, kind, higher is better, getter(detector metrics) -> value)."""
    op = lambda key: (lambda m: (m.get("operating") or {}).get(key))  # noqa: E731
    rows = [
        ("ROC-AUC", "score", True, lambda m: m["roc_auc"]),
        ("PR-AUC (average precision)", "score", True, lambda m: m["pr_auc"]),
        ("recall @ 1% FPR", "recall", True, lambda m: m["at_budget"][MAIN_BUDGET]["recall"]),
        # Not marked as misses: these budgets may allow fewer alerts than there are attacks.
        ("recall @ 0.1% FPR", "score", True,
         lambda m: m["at_budget"][budget_key(0.001)]["recall"]),
        ("recall @ top 0.5% of events", "score", True,
         lambda m: m["at_budget"]["top_0.005"]["recall"]),
        ("precision @ operating threshold", "score", True, op("precision")),
        ("recall @ operating threshold", "recall", True, op("recall")),
        ("F1 @ operating threshold", "score", True, op("f1")),
        ("false-positive rate @ operating threshold", "rate", False, op("fpr")),
        ("alerts per day @ operating threshold", "count", False,
         lambda m: ((m.get("operating") or {}).get("alerts_per_day") or {}).get("mean")),
        ("attacks caught @ operating threshold (per attack)", "recall", True,
         lambda m: ((m.get("operating") or {}).get("attacks") or {}).get("recall")),
        ("false incidents per day @ operating threshold", "count", False,
         lambda m: ((m.get("operating") or {}).get("incidents") or {}).get("false_per_day")),
        ("false incidents per day, first two weeks", "count", False,
         lambda m: ((m.get("operating") or {}).get("incidents") or {}).get("false_per_day_first_weeks")),
    ]
    final = metrics.get("ztad", {}).get(FINAL, {})
    categories = sorted(final.get("at_budget", {}).get(MAIN_BUDGET, {}).get("per_category", {}))
    per_category = final.get("at_budget", {}).get(MAIN_BUDGET, {}).get("per_category", {})
    for category in categories:
        rows.append((
            f"recall @ 1% FPR: {category} ({per_category[category]['events']} events)",
            "recall", True,
            lambda m, c=category: m["at_budget"][MAIN_BUDGET]["per_category"].get(c, {}).get(
                "recall"),
        ))
    return rows


def _cell(value, kind: str, extra_class: str = "") -> str:
    classes = [extra_class] if extra_class else []
    if kind == "recall" and value is not None and value < MISS_BELOW:
        classes.append("miss")
    attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attr}>{_fmt(value, 1 if kind == 'count' else 3)}</td>"


def summary_table(metrics: dict) -> str:
    """ztad's final decision against each origin detector, one row per headline number."""
    final = metrics.get("ztad", {}).get(FINAL)
    frozen = (metrics.get("ztad_frozen") or {}).get(FINAL)
    origin = metrics.get("origin", {})
    if final is None:
        return "<p>No ztad scores were evaluated.</p>"
    header = "".join(f"<th>origin {html.escape(n)}</th>" for n in origin)
    frozen_header = "<th>ztad frozen</th>" if frozen is not None else ""
    lines = [
        "<table class='summary'><tr><th></th><th>ztad (walk-forward)</th>" + frozen_header + header
        + "<th>ztad vs best origin</th></tr>"
    ]
    for label, kind, higher_better, get in _summary_rows(metrics):
        mine = get(final)
        others = [get(m) for m in origin.values()]
        known = [v for v in others if v is not None]
        best = (max(known) if higher_better else min(known)) if known else None
        verdict, css = "", ""
        if mine is not None and best is not None:
            ahead = mine > best if higher_better else mine < best
            css = "tie" if mine == best else "win" if ahead else "behind"
            verdict = f"{mine - best:+.3f}" if kind != "count" else f"{mine - best:+.1f}"
        cells = _cell(mine, kind, css)
        if frozen is not None:
            cells += _cell(_safe(get, frozen), kind)
        cells += "".join(_cell(v, kind) for v in others)
        lines.append(
            f"<tr><th>{html.escape(label)}</th>{cells}<td class='{css}'>{verdict}</td></tr>"
        )
    lines.append("</table>")
    return "\n".join(lines)


def attacks_table(metrics: dict) -> str:
    """ztad's attacks caught per category and its incidents, at its operating threshold."""
    operating = ((metrics.get("ztad") or {}).get(FINAL) or {}).get("operating") or {}
    attacks, incidents = operating.get("attacks"), operating.get("incidents")
    if not attacks:
        return "<p>No attack-level figures (no operating decisions).</p>"
    rows = [("all attacks", attacks)] + sorted(attacks["per_category"].items())
    lines = ["<table><tr><th>category</th><th>attacks</th><th>caught</th><th>recall</th></tr>"]
    for name, v in rows:
        lines.append(f"<tr><th>{html.escape(name)}</th><td>{v['attacks']}</td><td>{v['caught']}</td>"
                     f"{_cell(v['recall'], 'recall')}</tr>")
    lines.append("</table>")
    if incidents:
        later = incidents["false_per_day_later"]
        lines.append(
            f"<p>{incidents['incidents']} incidents over {incidents['scored_days']} scored days, "
            f"{incidents['false_incidents']} of them false: {incidents['false_per_day']:.1f} false "
            f"incidents per day ({incidents['false_per_day_first_weeks']:.1f} in the first two weeks"
            + ("" if later is None else f", {later:.1f} later") + ").</p>"
        )
    return "\n".join(lines)


def _safe(get, values: dict):
    """``get(values)``, or ``None`` when the mode lacks that number (a category it never saw)."""
    try:
        return get(values)
    except (KeyError, TypeError):
        return None


def misses_list(metrics: dict) -> str:
    """Plain sentences on where ztad still misses and where it raises false alarms."""
    final = metrics.get("ztad", {}).get(FINAL)
    if final is None:
        return ""
    items = []
    budget = final["at_budget"][MAIN_BUDGET]
    for category, v in budget["per_category"].items():
        if v["recall"] < MISS_BELOW:
            items.append(
                f"<b>{html.escape(category)}</b>: {v['detected']} of {v['events']} detected "
                f"at a 1% false-positive rate (recall {v['recall']:.2f})"
            )
    operating = final.get("operating") or {}
    for kind, v in operating.get("false_positives_by_scenario", {}).items():
        if v["false_positives"] and kind != ORDINARY_SCENARIO:
            items.append(
                f"hard negative <b>{html.escape(kind)}</b>: {v['false_positives']} of "
                f"{v['events']} normal events flagged at the operating threshold "
                f"({v['rate']:.1%})"
            )
    if not items:
        return "<p>No category under 50% recall and no false positive on marked normal events.</p>"
    return "<ul class='misses'>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def detector_table(metrics: dict) -> str:
    """Every detector's ranking, budget and operating metrics with its confusion matrix."""
    head = (
        "<tr><th>detector</th><th>ROC-AUC</th><th>PR-AUC</th><th>recall @1% FPR</th>"
        "<th>recall @0.1% FPR</th><th>recall @top 0.5%</th><th>precision</th><th>recall</th>"
        "<th>F1</th><th>FPR</th><th>alerts/day</th><th>TP</th><th>FP</th><th>TN</th>"
        "<th>FN</th></tr>"
    )
    lines = ["<table>", head]
    for name, m in _detectors(metrics).items():
        op = m.get("operating") or {}
        cm = op.get("confusion", {})
        per_day = (op.get("alerts_per_day") or {}).get("mean")
        values = [
            m["roc_auc"], m["pr_auc"], m["at_budget"][MAIN_BUDGET]["recall"],
            m["at_budget"][budget_key(0.001)]["recall"], m["at_budget"]["top_0.005"]["recall"],
            op.get("precision"), op.get("recall"), op.get("f1"), op.get("fpr"),
        ]
        cells = "".join(f"<td>{_fmt(v)}</td>" for v in values)
        cells += f"<td>{_fmt(per_day, 1)}</td>"
        cells += "".join(f"<td>{_fmt(cm.get(k))}</td>" for k in ("tp", "fp", "tn", "fn"))
        lines.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    lines.append("</table>")
    lines.append(
        "<p class='note'>Operating columns are each detector's own decisions (– where a "
        "detector makes none on its own); TP/FP/TN/FN are its confusion matrix with the "
        "anomaly as the positive class.</p>"
    )
    return "\n".join(lines)


def scenario_table(metrics: dict) -> str:
    """False positives per hard-negative kind, at the operating threshold and at 1% FPR."""
    detectors = _detectors(metrics)
    kinds = sorted({
        kind
        for m in detectors.values()
        for kind in m["at_budget"][MAIN_BUDGET]["false_positives_by_scenario"]
    })
    if not kinds:
        return "<p>The data marks no normal events.</p>"
    header = "".join(f"<th>{html.escape(k)}</th>" for k in kinds)
    lines = [f"<table><tr><th>detector</th><th>threshold</th>{header}</tr>"]
    for name, m in detectors.items():
        for where, block in (("operating", m.get("operating")),
                             ("1% FPR", m["at_budget"][MAIN_BUDGET])):
            if not block:
                continue
            by_kind = block["false_positives_by_scenario"]
            cells = "".join(
                "<td>{}/{} ({:.1%})</td>".format(
                    by_kind[k]["false_positives"], by_kind[k]["events"], by_kind[k]["rate"]
                ) if k in by_kind else "<td>–</td>"
                for k in kinds
            )
            lines.append(f"<tr><th>{html.escape(name)}</th><td>{where}</td>{cells}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _verdict(held) -> str:
    if held is None:
        return "<td>–</td>"
    return "<td class='win'>yes</td>" if held else "<td class='behind'>no</td>"


def _pct(value) -> str:
    return "–" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.2%}"


def _budget_cells(part: dict, keys: tuple[str, ...]) -> str:
    """Alerts, actual / expected, held; false positives, FPR on normal, FP / budget, held."""
    alerts, ratio, within, fp, fpr, fp_ratio, fp_within = (part[k] for k in keys)
    return (f"<td>{alerts}</td><td>{_fmt(ratio, 2)}</td>{_verdict(within)}"
            f"<td>{fp}</td><td>{_pct(fpr)}</td><td>{_fmt(fp_ratio, 2)}</td>{_verdict(fp_within)}")


_DAY_KEYS = ("alerts", "ratio", "within", "fp", "fpr", "fp_ratio", "fp_within")
_TOTAL_KEYS = ("alerts", "ratio", "within", "false_positives", "fpr", "fp_ratio", "fp_within")


def budget_table(metrics: dict) -> str:
    """Expected against actual alerts and false positives per scored day and in total, for the
    ensemble alone and for the final decision with rules."""
    budget = metrics.get("budget")
    if not budget:
        return "<p>No alert budget was checked (the scored events carry no model decisions).</p>"
    tolerance = budget["tolerance"]
    columns = ("<th>alerts</th><th>alerts / expected</th><th>held</th><th>false positives</th>"
               "<th>FPR on normal</th><th>FP / budget</th><th>held</th>")
    head = (
        "<tr><th rowspan='2'>day</th><th rowspan='2'>events</th><th rowspan='2'>normal</th>"
        "<th rowspan='2'>target FPR</th><th rowspan='2'>expected alerts</th>"
        "<th colspan='7'>ensemble alone</th><th colspan='7'>final (with rules)</th></tr>"
        f"<tr>{columns * 2}</tr>"
    )
    lines = ["<table class='budget'>", head]
    for row in budget["by_day"]:
        cells = f"<td>{row['events']}</td><td>{row['normal_events']}</td>"
        cells += f"<td>{_pct(row['target_fpr'])}</td><td>{_fmt(row['expected_alerts'], 1)}</td>"
        for name in ("model", "final"):
            cells += _budget_cells({k: row[f"{name}_{k}"] for k in _DAY_KEYS}, _DAY_KEYS)
        lines.append(f"<tr><th>{html.escape(str(row['day']))}</th>{cells}</tr>")
    total = budget["total"]
    cells = f"<td>{total['events']}</td><td>{total['normal_events']}</td>"
    cells += f"<td>{_pct(total['target_fpr'])}</td><td>{_fmt(total['expected_alerts'], 1)}</td>"
    for name in ("model", "final"):
        cells += _budget_cells(total[name], _TOTAL_KEYS)
    lines.append(f"<tr class='best'><th>all {total['days']} days</th>{cells}</tr>")
    lines.append("</table>")
    model = total["model"]
    lines.append(
        f"<p class='note'>Expected alerts are the target false-positive rate times the events "
        f"scored, as each day's run record kept it; the budget is held when actual / expected "
        f"lies within ±{tolerance:.0%}. Alerts include the attacks, so the false positives are "
        f"also set against the budget on their own (FP / budget: false positives over target "
        f"FPR x normal events). Ensemble alone over all days: {model['alerts']} alerts for "
        f"{_fmt(total['expected_alerts'], 1)} expected (ratio {_fmt(model['ratio'], 2)}), "
        f"{model['false_positives']} false positives for {_fmt(total['expected_fp'], 1)} allowed "
        f"(ratio {_fmt(model['fp_ratio'], 2)}).</p>"
    )
    return "\n".join(lines)


def _point_title(point: str) -> str:
    """``operating point`` or ``at 0.01 FPR`` for an ablation comparison point."""
    return "operating point" if point == "operating" else f"at {point.removeprefix('fpr_')} FPR"


def ablation_table(metrics: dict) -> str:
    """False positives per hard-negative kind with and without the known-network and
    cold-start logic, at the operating point and at 1% FPR."""
    ablation = metrics.get("ablation")
    if not ablation:
        return ("<p>Not measured: run <code>ztad evaluate --ablation</code> to score the same "
                "days without the known-network and cold-start logic.</p>")
    points = ablation["points"]
    kinds = list(next(iter(points.values())))
    titles = "".join(f"<th colspan='4'>{html.escape(_point_title(point))}</th>" for point in points)
    columns = ("<th>FP with</th><th>FP without</th><th>with / without</th>"
               f"<th>&le; {ablation['max_ratio']:g}</th>") * len(points)
    head = (f"<tr><th rowspan='2'>normal events</th><th rowspan='2'>events</th>{titles}</tr>"
            f"<tr>{columns}</tr>")
    lines = ["<table class='ablation'>", head]
    for kind in kinds:
        first = next(iter(points.values()))[kind]
        cells = f"<td>{first['events']}</td>"
        for table in points.values():
            row = table[kind]
            cells += (f"<td>{row['with']}</td><td>{row['without']}</td>"
                      f"<td>{_fmt(row['ratio'], 2)}</td>" + _verdict(row["met"]))
        css = " class='best'" if kind == ALL_HARD_NEGATIVES else ""
        lines.append(f"<tr{css}><th>{html.escape(kind.replace('_', ' '))}</th>{cells}</tr>")
    lines.append("</table>")
    runs = ablation["runs"]
    lines.append(
        "<p class='note'>Without: the same days scored again through the same pipeline with "
        f"{', '.join(html.escape(n) for n in ablation['logic_off'])} switched off, in a folder of "
        f"its own. ROC-AUC {_fmt(runs['with']['roc_auc'])} with the logic, "
        f"{_fmt(runs['without']['roc_auc'])} without; PR-AUC {_fmt(runs['with']['pr_auc'])} "
        f"and {_fmt(runs['without']['pr_auc'])}. Each run's 1% FPR threshold is set on its own "
        "normal scores; the ordinary row is shown for comparison and not judged.</p>"
    )
    return "\n".join(lines)


def sweep_table(sweep: list[dict], about: dict | None = None) -> str:
    """The origin tuning sweep on its validation events, best F1 per detector in bold."""
    about = about or {}
    if not sweep:
        reason = about.get("reason")
        return f"<p>The tuning sweep was not run{': ' + html.escape(reason) if reason else ''}.</p>"
    frame = pd.DataFrame(sweep)
    best = frame.groupby("detector")["f1"].transform("max")
    lines = [
        "<table><tr><th>detector</th><th>parameter</th><th>value</th><th>precision</th>"
        "<th>recall</th><th>F1</th><th>FPR</th><th>alerts</th><th>PR-AUC</th><th>rows</th></tr>"
    ]
    for (_, row), top in zip(frame.iterrows(), (frame["f1"] == best).to_numpy()):
        css = " class='best'" if top else ""
        lines.append(
            f"<tr{css}><td>{html.escape(str(row['detector']))}</td>"
            f"<td>{html.escape(str(row['parameter']))}</td><td>{row['value']:g}</td>"
            + "".join(f"<td>{_fmt(row[k])}</td>" for k in ("precision", "recall", "f1", "fpr"))
            + f"<td>{int(row['alerts'])}</td><td>{_fmt(row['pr_auc'])}</td>"
            f"<td>{int(row['rows'])}</td></tr>"
        )
    lines.append("</table>")
    lines.append(
        f"<p class='note'>Measured on validation events held out of the origin method's history, "
        f"never on scored events: {html.escape(str(about.get('validation', 'validation events')))} "
        f"({about.get('validation_events', '?')} events, {about.get('validation_anomalies', '?')} "
        "anomalous). The bold setting is the one this validation would pick; the scored days' "
        "results above use the notebook's own settings.</p>"
    )
    return "\n".join(lines)


def protocol_block(metrics: dict) -> str:
    """Which split was used and how many events each side had."""
    p = metrics.get("protocol", {})
    facts = [
        ("split protocol", p.get("split")),
        ("description", p.get("description")),
        ("cut-off (first scored day)", p.get("cutoff")),
        ("scored days", p.get("scored_days")),
        ("ztad (walk-forward)", p.get("ztad")),
        ("ztad frozen", p.get("ztad_frozen")),
        ("models that scored the days", _models_used(metrics)),
        ("origin training events", p.get("origin_train_events")),
        ("evaluated events", p.get("evaluated_events")),
        ("anomalous / normal", f"{p.get('anomalies')} / {p.get('normals')}"),
        ("unlabelled events left out", p.get("unlabelled_events")),
        ("ztad events without an origin score (left out)", p.get("ztad_only_events")),
    ]
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in facts
        if v is not None
    )
    return f"<table class='protocol'>{rows}</table>"


def _models_used(metrics: dict) -> str | None:
    modes = metrics.get("ztad_modes") or {}
    if not modes:
        return None
    return "; ".join(
        f"{name.replace('_', '-')}: {facts['distinct_models']} model(s), trained on "
        f"{', '.join(facts['trained_days']) or 'no scored day'}"
        for name, facts in modes.items()
    )


def render_html(metrics: dict, images: dict[str, str]) -> str:
    """The whole report as one HTML page."""
    img = {plot_id: figure_html(plot_id, alt, images) for plot_id, alt in PLOTS}
    shap = "".join(
        figure_html(plot_id, f"SHAP summary {plot_id.rsplit('-', 1)[-1]}", images)
        if plot_id != "plot-shap" else img[plot_id]
        for plot_id in images
        if plot_id.startswith("plot-shap")
    )
    protocol = metrics.get("protocol", {}).get("split", "?")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ztad evaluation ({html.escape(str(protocol))} split)</title><style>{STYLE}</style></head>
<body>
<h1>ztad evaluation: ztad vs the origin method</h1>
{protocol_block(metrics)}
<h2>Summary</h2>
<p class="note">Green: ztad beats the best origin detector; orange: ztad is behind; no colour:
a tie; red bold: recall under {MISS_BELOW:.0%} (a miss). Budget thresholds are set on the evaluated
normal events; the operating threshold is each method's own, set without labels.</p>
{summary_table(metrics)}
<h2>Attacks caught and false incidents (what the analyst sees)</h2>
<p class="note">An attack is caught when at least one of its events is flagged (events sharing an
attack_id are one attack; without attack ids each anomalous event is one). An incident is the
flagged events of one user's day (or of one attacking source); it is false when none of them is
an attack.</p>
{attacks_table(metrics)}
<h2>Where ztad still misses</h2>
{misses_list(metrics)}
<h2>Ranking: ROC and precision-recall</h2>
{img["plot-roc"]}{img["plot-pr"]}
<h2>Recall per anomaly category</h2>
<p class="note">A combined label such as a+b counts for category a and for category b.</p>
{img["plot-category-recall"]}
<h2>False positives on hard negatives (normal events marked by scenario)</h2>
{scenario_table(metrics)}
<h2>Hard negatives without the known-network and cold-start logic</h2>
{ablation_table(metrics)}
<h2>Alert budget: expected and actual alerts per day</h2>
{budget_table(metrics)}
<h2>Every detector</h2>
{detector_table(metrics)}
{img["plot-score-distributions"]}
{img["plot-alerts-per-day"]}
<h2>Origin method: tuning sweep (on validation days before the cut-off)</h2>
{sweep_table(metrics.get("origin_sweep", []), metrics.get("origin_sweep_protocol"))}
<h2>Data (the origin notebook's exploratory plots)</h2>
{img["plot-label-distribution"]}{img["plot-bytes"]}{img["plot-login-hours"]}
<h2>What drives the tree models' scores (SHAP)</h2>
{shap_notes(metrics)}
{shap}
<h2>Definitions</h2>
<p class="note">An event is flagged when its score is strictly above the threshold. At a
false-positive budget f the threshold is the (k+1)-th largest normal score, k = floor(f x
normal events), so the achieved false-positive rate never exceeds f and ties at the threshold
are not flagged; at the top 0.5% budget it is the (k+1)-th largest score of all events, k =
ceil(0.005 x events). PR-AUC is average precision. The label "normal" is trusted; every other
label is an anomaly. Unlabelled events are left out.</p>
</body></html>
"""


def write_report(report_dir: Path, metrics: dict, data: ReportData) -> dict[str, Path]:
    """Write ``report.html`` and ``metrics.json`` into ``report_dir`` and return their paths."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    images = build_images(data, metrics)
    page = report_dir / "report.html"
    page.write_text(render_html(metrics, images), encoding="utf-8")
    return {"report": page, "metrics": write_metrics(metrics, report_dir / "metrics.json")}
