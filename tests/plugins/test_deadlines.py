"""The nightly deadline: when a run is due, for which runs, and what a miss records."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from ztad_airflow.deadlines import (
    DEADLINE_VARIABLE,
    NightlyDeadline,
    configured_deadline,
    deadline_offset,
    missed_deadline_message,
    nightly_deadline,
    record_missed_deadline,
)

END = datetime(2026, 3, 21, tzinfo=UTC)  # the end of day 2026-03-20


@pytest.mark.parametrize(
    "value, hours", [(None, 6), ("", 6), ("06:00", 6), ("7:30", 7.5), (" 23:59 ", 23 + 59 / 60)]
)
def test_the_hour_is_read_as_a_time_after_midnight(value, hours):
    assert deadline_offset(value) == timedelta(hours=hours)


@pytest.mark.parametrize("value", ["24:00", "6", "06:60", "six", "-1:00"])
def test_anything_but_an_hour_of_the_day_is_refused(value):
    with pytest.raises(ValueError, match=DEADLINE_VARIABLE):
        deadline_offset(value)


def test_a_scheduled_run_is_due_the_next_morning():
    assert nightly_deadline("scheduled", END, None) == datetime(2026, 3, 21, 6, tzinfo=UTC)
    assert nightly_deadline("scheduled", END, "00:00") == END


@pytest.mark.parametrize("run_type", ["manual", "backfill", "asset_triggered"])
def test_other_runs_have_no_deadline(run_type):
    assert nightly_deadline(run_type, END, "06:00") is None


def test_a_run_without_interval_has_no_deadline():
    assert nightly_deadline("scheduled", None, "06:00") is None


def test_a_run_type_enum_is_read_by_its_value():
    from airflow.utils.types import DagRunType

    assert nightly_deadline(DagRunType.SCHEDULED, END, "01:00") == END + timedelta(hours=1)
    assert nightly_deadline(DagRunType.BACKFILL_JOB, END, "01:00") is None


def test_a_bad_variable_falls_back_to_the_default_without_breaking_scheduling(caplog):
    with caplog.at_level(logging.ERROR):
        assert nightly_deadline("scheduled", END, "soon") == END + timedelta(hours=6)
    assert "must be an hour of the day" in caplog.text


CONTEXT = {
    "dag_run": {
        "dag_id": "ztad_daily", "dag_run_id": "scheduled__2026-03-21T00:00:00+00:00", "state": "running",
        "data_interval_start": "2026-03-20T00:00:00Z",
    },
    "deadline": {"id": "d1", "deadline_time": "2026-03-21T06:00:00+00:00"},
}


def test_the_message_names_the_run_its_day_and_the_deadline():
    assert missed_deadline_message(CONTEXT) == (
        "ztad deadline missed: ztad_daily run scheduled__2026-03-21T00:00:00+00:00 of 2026-03-20 "
        "was not done by 2026-03-21T06:00:00+00:00 (state running)"
    )


def test_the_callback_logs_a_warning_and_returns_it(caplog):
    with caplog.at_level(logging.WARNING, logger="ztad_airflow.deadlines"):
        result = asyncio.run(record_missed_deadline(context=CONTEXT))
    assert result == missed_deadline_message(CONTEXT)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [result]


def test_the_callback_copes_without_context():
    assert asyncio.run(record_missed_deadline()).startswith("ztad deadline missed: None run None of ?")


@pytest.fixture
def metadata_session(airflow_db):
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key == DEADLINE_VARIABLE).delete()
    with create_session() as session:
        yield session
    with create_session() as session:
        session.query(Variable).filter(Variable.key == DEADLINE_VARIABLE).delete()


def test_the_hour_is_read_from_the_environment_or_the_metadata_database(metadata_session, monkeypatch):
    from airflow.models import Variable

    monkeypatch.delenv("AIRFLOW_VAR_ZTAD_DEADLINE", raising=False)
    assert configured_deadline(metadata_session) is None
    metadata_session.add(Variable(key=DEADLINE_VARIABLE, val="05:15"))
    metadata_session.flush()
    assert configured_deadline(metadata_session) == "05:15"
    monkeypatch.setenv("AIRFLOW_VAR_ZTAD_DEADLINE", "04:00")
    assert configured_deadline(metadata_session) == "04:00"


def test_the_reference_gives_no_deadline_to_a_run_it_cannot_find(metadata_session):
    reference = NightlyDeadline()
    found = reference._evaluate_with(session=metadata_session, dag_id="ztad_daily", run_id="no such run")
    assert found is None


def test_the_plugin_registers_the_reference_for_the_scheduler():
    from airflow import plugins_manager

    registered = plugins_manager.get_deadline_references_plugins()
    assert registered["ztad_airflow.deadlines.NightlyDeadline"] is NightlyDeadline
