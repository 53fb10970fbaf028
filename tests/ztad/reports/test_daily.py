"""The label-free daily report, read from a real PostgreSQL findings database."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import text

from ztad.reports.daily import (
    PLOTS,
    DailyReportError,
    category_counts,
    collect,
    finding_categories,
    report_path,
    top_incidents,
    write_daily_report,
)
from ztad.store import FindingsStore, RunRecord

DAY = date(2026, 3, 18)
pytestmark = pytest.mark.postgres


def finding(event_id: str, user: str, score: float, code: str, hour: int = 10) -> dict:
    return {
        "event_id": event_id,
        "event_time": datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=timezone.utc),
        "user_id": user,
        "ip_address": "203.0.113.7",
        "location": "Lagos, Nigeria",
        "resource": "vpn",
        "score": score,
        "threshold": 2.0,
        "detectors": [f"rule:{code}"],
        "detector_scores": {"final": score},
        "reasons": [{"code": code, "text": f"{code} <b>with</b> 12 users"}],
    }


def run(day: date, flagged: int, run_id: str, status: str = "success", hour: int = 1) -> RunRecord:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1, hours=hour)
    return RunRecord(
        run_id=run_id, day=day, status=status, rows_read=1000 + flagged, rows_quarantined=3,
        rows_duplicate=1, rows_scored=996 + flagged, rows_flagged=flagged, model_version="m-1",
        model_action="loaded", threshold=2.0, started_at=start, finished_at=start + timedelta(minutes=5),
    )


def incidents_of(day: date) -> pd.DataFrame:
    at = datetime(day.year, day.month, day.day, 10, tzinfo=timezone.utc)
    return pd.DataFrame([
        {"incident_id": f"{day}:source:203.0.113.7", "kind": "source", "source_ip": "203.0.113.7",
         "category": "password_spray", "severity": 80, "severity_level": "critical",
         "first_time": at, "last_time": at, "finding_count": 3, "user_count": 3,
         "summary": "203.0.113.7 against 3 users"},
        {"incident_id": f"{day}:user:carol", "kind": "user", "user_id": "carol",
         "category": "impossible_travel", "severity": 40, "severity_level": "medium",
         "first_time": at, "last_time": at, "finding_count": 1, "user_count": 1,
         "summary": "carol: 1 finding"},
    ])


def fill(url: str, with_incidents: bool = True) -> None:
    """Three days of runs (one failed, one rerun) and the findings of DAY."""
    findings = pd.DataFrame([
        finding("e1", "alice", 5.0, "password_spray"),
        finding("e2", "bob", 4.0, "password_spray"),
        finding("e3", "dave", 3.5, "password_spray"),
        finding("e4", "carol", 9.0, "impossible_travel"),
    ])
    with FindingsStore(url) as store:
        store.create_schema()
        store.replace_day(run(DAY - timedelta(days=2), 7, "r-16"), pd.DataFrame(), None)
        store.record_run(run(DAY - timedelta(days=1), 0, "r-17-failed", status="failed"))
        store.replace_day(run(DAY - timedelta(days=1), 2, "r-17"), pd.DataFrame(), None)
        store.replace_day(run(DAY, 9, "r-18-first"), pd.DataFrame(), None)
        extra = {"incidents": incidents_of(DAY)} if with_incidents else {}
        store.replace_day(run(DAY, 4, "r-18", hour=3), findings, None, **extra)


@pytest.fixture(scope="module")
def store(postgres_server_url):
    """A findings database of its own (other modules use the shared one for these days)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = make_url(postgres_server_url)
    name = f"ztad_daily_report_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    url = server.set(database=name).render_as_string(hide_password=False)
    fill(url)
    with FindingsStore(url) as opened:
        yield opened
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_day_is_read_with_its_latest_successful_run(store):
    data = collect(store, DAY, trailing_days=7)
    assert data.run["run_id"] == "r-18"
    assert len(data.findings) == 4 and len(data.incidents) == 2
    assert data.alerts_per_day.to_dict() == {"2026-03-16": 7, "2026-03-17": 2, "2026-03-18": 4}


def test_the_trailing_window_ends_with_the_day(store):
    assert collect(store, DAY, trailing_days=2).alerts_per_day.index.tolist() == ["2026-03-17", "2026-03-18"]
    assert collect(store, DAY - timedelta(days=1), trailing_days=30).alerts_per_day.index[-1] == "2026-03-17"


def test_categories_count_the_main_reason_of_each_finding(store):
    findings = collect(store, DAY).findings
    assert category_counts(findings).to_dict() == {"password_spray": 3, "impossible_travel": 1}


def test_a_finding_without_a_stored_category_takes_its_first_reasons_code():
    findings = pd.DataFrame({
        "category": [None, "brute_force", None],
        "reasons": [[{"code": "off_hours", "text": "x"}], [], None],
    })
    assert finding_categories(findings).tolist() == ["off_hours", "brute_force", "(none)"]


def test_top_incidents_put_the_most_severe_first(store):
    top = top_incidents(collect(store, DAY).incidents)
    assert top["category"].tolist() == ["password_spray", "impossible_travel"]


def test_the_report_is_one_self_contained_page_without_labels(store, tmp_path):
    summary = write_daily_report(store, DAY, tmp_path)
    page = report_path(tmp_path, DAY).read_text()
    assert summary == {
        "day": "2026-03-18", "path": str(report_path(tmp_path, DAY)), "findings": 4, "incidents": 2,
        "categories": {"password_spray": 3, "impossible_travel": 1},
    }
    for plot_id, _ in PLOTS:
        assert re.search(rf"<img id='{plot_id}' [^>]*src='data:image/png;base64,[A-Za-z0-9+/=]{{100,}}'", page)
    assert not re.search(r"<(script|link)\b|src='http", page), "the page must stand alone"
    assert "r-18" in page and "203.0.113.7 against 3 users" in page
    assert "<td>1004</td>" in page, "the day's volumes are shown"
    assert "event_label" not in page and "normal" not in page


def test_report_text_from_the_database_is_escaped(store, tmp_path):
    write_daily_report(store, DAY, tmp_path)
    assert "<b>with</b>" not in report_path(tmp_path, DAY).read_text()


def test_a_day_without_runs_says_so(store, tmp_path):
    summary = write_daily_report(store, DAY + timedelta(days=5), tmp_path)
    page = report_path(tmp_path, DAY + timedelta(days=5)).read_text()
    assert summary["findings"] == 0 and summary["categories"] == {}
    assert "No successful run is recorded for 2026-03-23" in page


def test_a_window_of_no_days_is_refused(store):
    with pytest.raises(DailyReportError, match="trailing_days must be at least 1"):
        collect(store, DAY, trailing_days=0)


def test_a_database_without_incidents_shows_the_top_findings(empty_postgres_url, tmp_path):
    fill(empty_postgres_url, with_incidents=False)
    with FindingsStore(empty_postgres_url) as store:
        with store.engine.begin() as connection:
            connection.execute(text("DROP TABLE incidents CASCADE"))
        summary = write_daily_report(store, DAY, tmp_path)
    page = report_path(tmp_path, DAY).read_text()
    assert summary["incidents"] is None and summary["findings"] == 4
    assert "has no incidents table" in page
    assert page.index("carol") < page.index("alice"), "findings are ranked by score"
