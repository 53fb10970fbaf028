"""The daily report operator: which days it reports, where it writes, what it reads."""

from datetime import date
from types import SimpleNamespace

import pytest
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ztad.store import FindingsStore
from ztad_airflow.assets import FINDINGS
from ztad_airflow.report import ZtadDailyReportOperator


def event(day: str | None, **extra) -> SimpleNamespace:
    return SimpleNamespace(extra={**({"day": day} if day else {}), **extra})


def triggered_by(*events, asset=FINDINGS) -> dict:
    return {"triggering_asset_events": {asset: list(events)}}


def test_the_days_are_those_of_the_triggering_findings_events():
    context = triggered_by(event("2026-03-18"), event("2026-03-17"), event("2026-03-18"))
    days = ZtadDailyReportOperator(task_id="report").days_to_report(context)
    assert days == [date(2026, 3, 17), date(2026, 3, 18)]


def test_a_given_day_wins_over_the_events():
    operator = ZtadDailyReportOperator(task_id="report", day="2026-03-20")
    assert operator.days_to_report(triggered_by(event("2026-03-18"))) == [date(2026, 3, 20)]


def test_a_run_with_no_day_at_all_is_skipped_and_says_how_to_give_one():
    other = Asset(name="other", uri="ztad://other")
    for context in ({}, triggered_by(event(None)), triggered_by(event("2026-03-18"), asset=other)):
        with pytest.raises(AirflowSkipException, match='--conf .*"day"'):
            ZtadDailyReportOperator(task_id="report", day="").days_to_report(context)


def test_a_malformed_day_fails_without_retries():
    with pytest.raises(AirflowFailException, match="day must be YYYY-MM-DD"):
        ZtadDailyReportOperator(task_id="report", day="18/03/2026").days_to_report({})


def test_reports_go_to_the_ztad_home_unless_told(monkeypatch, tmp_path):
    monkeypatch.setenv("ZTAD_HOME", str(tmp_path / "home"))
    assert ZtadDailyReportOperator(task_id="r").output_folder() == tmp_path / "home" / "reports"
    assert ZtadDailyReportOperator(task_id="r", report_dir=str(tmp_path / "out")).output_folder() == tmp_path / "out"


@pytest.mark.parametrize("value", ["0", "a month"])
def test_a_bad_window_fails_without_retries(value, monkeypatch, tmp_path):
    monkeypatch.setenv("ZTAD_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    operator = ZtadDailyReportOperator(task_id="r", day="2026-03-18", trailing_days=value)
    with pytest.raises(AirflowFailException, match="trailing_days"):
        operator.execute({})


@pytest.mark.postgres
def test_the_report_is_written_from_the_findings_connection(monkeypatch, tmp_path, empty_postgres_url):
    from sqlalchemy.engine import make_url

    url = make_url(empty_postgres_url)
    FindingsStore(empty_postgres_url).create_schema()
    monkeypatch.setenv(
        "AIRFLOW_CONN_ZTAD_FINDINGS",
        f"postgresql://{url.username}{':' + url.password if url.password else ''}@{url.host}:{url.port}/{url.database}",
    )
    operator = ZtadDailyReportOperator(task_id="report", report_dir=str(tmp_path))
    written = operator.execute(triggered_by(event("2026-03-18", findings=0)))
    assert [(w["day"], w["findings"], w["incidents"]) for w in written] == [("2026-03-18", 0, 0)]
    assert (tmp_path / "daily-2026-03-18.html").read_text().count("No successful run is recorded") == 1
