"""The daily report: what the nightly job found on one day, as one self-contained HTML page.

It is read by the people who act on the findings, so it uses no labels: only what the
findings database holds. It shows the day's volumes (rows read, quarantined, scored,
flagged), the categories of the reasons behind its findings, its top incidents (its top
findings when the database has no incidents), and the alerts per day over the trailing weeks,
drawn with the figures and page style it shares with the evaluation report (:mod:`ztad.reports.html` and
:mod:`ztad.reports.plots`).
"""

from __future__ import annotations

import html
import os
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

#: Plot ids of the report's figures and their alt texts.
PLOTS: tuple[tuple[str, str], ...] = (
    ("plot-categories", "Findings of the day per category of their main reason"),
    ("plot-alerts-per-day", "Findings per day over the trailing days"),
)
#: Incidents (or findings) listed in the top table.
TOP = 10
#: The run counts shown as the day's volumes, in order.
VOLUMES: tuple[tuple[str, str], ...] = (
    ("rows_read", "rows read"),
    ("rows_quarantined", "rows quarantined (bad input)"),
    ("rows_duplicate", "exact duplicates dropped"),
    ("rows_scored", "events scored"),
    ("rows_flagged", "events flagged (findings)"),
)
UNCATEGORISED = "(none)"


class DailyReportError(ValueError):
    """The report cannot be built as asked (the message says what to change)."""


@dataclass
class DailyReportData:
    """What the report shows about one day, read from the findings database.

    Attributes
    ----------
    day
        The reported day.
    run
        The day's latest successful run record, ``None`` when it has none.
    findings
        The day's findings.
    incidents
        The day's incidents; ``None`` when the database has no incidents table.
    alerts_per_day
        Findings per day (index: ISO day) over the trailing window, the day included, from
        the latest successful run of each day.
    """

    day: date
    run: dict | None
    findings: pd.DataFrame
    incidents: pd.DataFrame | None
    alerts_per_day: pd.Series


# --------------------------------------------------------------------------- reading


def _latest_successful_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per day: its most recently finished successful run."""
    done = runs[runs["status"] == "success"]
    if done.empty:
        return done
    return done.sort_values(["day", "finished_at"], kind="stable").groupby("day").tail(1)


def _incidents(store, day: date) -> pd.DataFrame | None:
    """The day's incidents, or ``None`` when this database has no incidents table."""
    from sqlalchemy import inspect

    read = getattr(store, "incidents", None)
    if read is None or not inspect(store.engine).has_table("incidents"):
        return None
    return read(day=day)


def collect(store, day: date, trailing_days: int = 30) -> DailyReportData:
    """Read what the report of ``day`` shows from a :class:`ztad.store.FindingsStore`.

    Raises
    ------
    DailyReportError
        When ``trailing_days`` is not positive.
    """
    if trailing_days < 1:
        raise DailyReportError(f"trailing_days must be at least 1, not {trailing_days}")
    latest = _latest_successful_runs(store.runs())
    of_day = latest[latest["day"] == day]
    run = None if of_day.empty else of_day.iloc[-1].to_dict()
    first = day - timedelta(days=trailing_days - 1)
    window = latest[(latest["day"] >= first) & (latest["day"] <= day)]
    alerts = pd.Series(
        window["rows_flagged"].fillna(0).astype("int64").to_numpy(),
        index=[d.isoformat() for d in window["day"]],
        dtype="int64",
    )
    return DailyReportData(
        day=day,
        run=run,
        findings=store.findings(day=day),
        incidents=_incidents(store, day),
        alerts_per_day=alerts,
    )


# --------------------------------------------------------------------------- summaries


def _first_code(reasons) -> str | None:
    if isinstance(reasons, list) and reasons and isinstance(reasons[0], dict):
        return reasons[0].get("code")
    return None


def finding_categories(findings: pd.DataFrame) -> pd.Series:
    """Each finding's category: its stored ``category``, else the code of its first reason."""
    first = findings["reasons"].map(_first_code) if "reasons" in findings else pd.Series(
        None, index=findings.index, dtype=object
    )
    stored = findings["category"] if "category" in findings else first
    return stored.where(stored.notna(), first).fillna(UNCATEGORISED).astype(str)


def category_counts(findings: pd.DataFrame) -> pd.Series:
    """Findings per category, most frequent first (ties by name)."""
    counts = finding_categories(findings).value_counts()
    return counts.sort_index().sort_values(ascending=False, kind="stable")


def top_incidents(incidents: pd.DataFrame, top: int = TOP) -> pd.DataFrame:
    """The most severe incidents, then those with most findings."""
    columns = [
        c for c in ("severity", "severity_level", "kind", "user_id", "source_ip", "category",
                    "finding_count", "user_count", "first_time", "last_time", "summary")
        if c in incidents.columns
    ]
    keys = [c for c in ("severity", "finding_count") if c in incidents.columns]
    ordered = incidents.sort_values(keys, ascending=False, kind="stable") if keys else incidents
    return ordered[columns].head(top).reset_index(drop=True)


def top_findings(findings: pd.DataFrame, top: int = TOP) -> pd.DataFrame:
    """The highest-scoring findings with their category and first reason."""
    ordered = findings.assign(
        category=finding_categories(findings),
        first_reason=findings["reasons"].map(
            lambda r: r[0].get("text") if isinstance(r, list) and r else None
        ),
    ).sort_values("score", ascending=False, kind="stable")
    columns = ["event_time", "user_id", "ip_address", "location", "resource", "score",
               "category", "first_reason"]
    return ordered[[c for c in columns if c in ordered.columns]].head(top).reset_index(drop=True)


# --------------------------------------------------------------------------- HTML


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def table_html(frame: pd.DataFrame, empty: str) -> str:
    """``frame`` as an HTML table (every value escaped), or ``empty`` in words."""
    if frame.empty:
        return f"<p>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def _volumes(data: DailyReportData) -> str:
    if data.run is None:
        return f"<p>No successful run is recorded for {data.day}.</p>"
    rows = [(label, data.run.get(key)) for key, label in VOLUMES]
    rows += [
        ("model", data.run.get("model_version")),
        ("model decision", data.run.get("model_action")),
        ("alert threshold", data.run.get("threshold")),
        ("run", data.run.get("run_id")),
    ]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{_cell(v)}</td></tr>" for k, v in rows)
    return f"<table class='protocol'>{cells}</table>"


def _incident_section(data: DailyReportData) -> str:
    if data.incidents is None:
        return (
            "<p class='note'>This database has no incidents table; the top findings are "
            "shown instead.</p>"
            + table_html(top_findings(data.findings), "No findings on this day.")
        )
    return table_html(top_incidents(data.incidents), "No incidents on this day.")


def build_images(data: DailyReportData) -> dict[str, str]:
    """The report's figures as base64 PNG, by plot id."""
    from ztad.reports import plots

    counts = category_counts(data.findings)
    return {
        "plot-categories": plots.to_png_base64(
            plots.category_counts(counts.to_dict(), f"Findings of {data.day} per category")
        ),
        "plot-alerts-per-day": plots.to_png_base64(
            plots.alerts_per_day({"findings": data.alerts_per_day.to_dict()})
        ),
    }


def render_html(data: DailyReportData, images: dict[str, str]) -> str:
    """The whole report as one self-contained HTML page."""
    from ztad.reports.html import figure_html, html_page

    counts = category_counts(data.findings)
    categories = pd.DataFrame({
        "category": counts.index,
        "findings": counts.to_numpy(),
        "share": (counts / max(int(counts.sum()), 1)).round(3).to_numpy(),
    })
    figures = {plot_id: figure_html(plot_id, alt, images) for plot_id, alt in PLOTS}
    incidents = "no incidents table" if data.incidents is None else len(data.incidents)
    body = f"""<h1>ztad daily report: {data.day}</h1>
<p>{len(data.findings)} findings, incidents: {html.escape(str(incidents))}.</p>
<h2>Volumes</h2>
{_volumes(data)}
<h2>Categories of the reasons</h2>
{table_html(categories, "No findings on this day.")}
{figures["plot-categories"]}
<h2>Top incidents</h2>
{_incident_section(data)}
<h2>Alerts per day</h2>
{figures["plot-alerts-per-day"]}
<p class="note">Built from the findings database only (no labels). A finding's category is
the code of its weightiest reason; alerts per day come from each day's latest successful
run.</p>"""
    return html_page(f"ztad daily report {data.day}", body)


def report_path(out_dir: Path | str, day: date) -> Path:
    """Where the report of ``day`` is written in ``out_dir``."""
    return Path(out_dir) / f"daily-{day.isoformat()}.html"


def write_daily_report(store, day: date, out_dir: Path | str, trailing_days: int = 30) -> dict:
    """Write the report of ``day`` into ``out_dir`` (replacing an earlier one) and say what
    it holds: ``{"day", "path", "findings", "incidents", "categories"}``.

    ``incidents`` is ``None`` when the database has no incidents table.
    """
    data = collect(store, day, trailing_days)
    path = report_path(out_dir, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(render_html(data, build_images(data)), encoding="utf-8")
    tmp.replace(path)
    return {
        "day": day.isoformat(),
        "path": str(path),
        "findings": int(len(data.findings)),
        "incidents": None if data.incidents is None else int(len(data.incidents)),
        "categories": {k: int(v) for k, v in category_counts(data.findings).items()},
    }
