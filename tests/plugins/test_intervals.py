from datetime import date, datetime, timedelta, timezone

import pytest

from ztad_airflow.intervals import (
    ONE_DAY,
    DataIntervalError,
    day_start,
    interval_day,
    named_day,
    run_day,
)

UTC = timezone.utc


def test_a_midnight_to_midnight_interval_is_its_start_day():
    start = datetime(2026, 3, 2, tzinfo=UTC)
    day = interval_day(start, start + timedelta(days=1))
    assert day == date(2026, 3, 2)
    assert type(day) is date


def test_an_interval_given_in_another_zone_is_read_in_utc():
    madrid = timezone(timedelta(hours=1))
    start = datetime(2026, 3, 2, 1, 0, tzinfo=madrid)  # 2026-03-02 00:00 UTC
    assert interval_day(start, start + timedelta(days=1)) == date(2026, 3, 2)


@pytest.mark.parametrize(
    "start, length",
    [
        (datetime(2026, 3, 2, 2, 0, tzinfo=UTC), timedelta(days=1)),  # a "0 2 * * *" cron
        (datetime(2026, 3, 2, tzinfo=UTC), timedelta(hours=12)),
        (datetime(2026, 3, 2, tzinfo=UTC), timedelta(days=2)),
    ],
)
def test_an_interval_that_is_not_one_utc_day_is_refused(start, length):
    with pytest.raises(DataIntervalError, match="not one UTC calendar day"):
        interval_day(start, start + length)


def test_a_run_without_data_interval_is_refused_with_a_hint():
    with pytest.raises(DataIntervalError, match='"day"'):
        interval_day(None, None)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_empty_day_names_no_day(value):
    assert named_day(value) is None


@pytest.mark.parametrize("value", ["2026-03-20", " 2026-03-20 ", date(2026, 3, 20)])
def test_a_day_is_read_from_text_or_a_date(value):
    day = named_day(value)
    assert day == date(2026, 3, 20)
    assert type(day) is date


@pytest.mark.parametrize("value", ["20/03/2026", "2026-02-30", "yesterday", datetime(2026, 3, 20, tzinfo=UTC)])
def test_anything_but_a_calendar_day_is_refused(value):
    with pytest.raises(DataIntervalError, match="day must be"):
        named_day(value)


def test_a_run_that_names_no_day_covers_its_data_interval():
    start = datetime(2026, 3, 20, tzinfo=UTC)
    assert run_day(None, start, start + ONE_DAY, "scheduled") == date(2026, 3, 20)
    assert run_day("", start, start + ONE_DAY, "backfill") == date(2026, 3, 20)


def test_a_manual_run_with_a_day_and_no_logical_date_processes_that_day():
    assert run_day("2026-03-20", None, None, "manual") == date(2026, 3, 20)


def test_the_named_day_wins_over_the_interval_the_cli_infers_from_now():
    """``airflow dags trigger --conf '{"day": ...}'`` (3.3) gives the run the last complete
    interval before the moment it was triggered; the named day is the one processed."""
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.sdk import timezone as airflow_timezone
    from airflow.serialization.encoders import coerce_to_core_timetable

    timetable = coerce_to_core_timetable(CronDataIntervalTimetable("0 0 * * *", timezone="UTC"))
    now = airflow_timezone.coerce_datetime(datetime(2026, 12, 4, 23, 17, tzinfo=UTC))
    inferred = timetable.infer_manual_data_interval(run_after=now)
    assert interval_day(inferred.start, inferred.end) == date(2026, 12, 3)
    assert run_day("2026-03-20", inferred.start, inferred.end, "manual") == date(2026, 3, 20)


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
def test_a_scheduled_or_backfill_run_naming_another_day_is_refused(run_type):
    start = datetime(2026, 3, 21, tzinfo=UTC)
    with pytest.raises(DataIntervalError, match=f"this {run_type} run covers 2026-03-21"):
        run_day("2026-03-20", start, start + ONE_DAY, run_type)


def test_a_backfill_naming_its_own_day_is_accepted():
    start = datetime(2026, 3, 21, tzinfo=UTC)
    assert run_day("2026-03-21", start, start + ONE_DAY, "backfill") == date(2026, 3, 21)


def test_a_run_type_enum_is_read_by_its_value():
    from airflow.utils.types import DagRunType

    start = datetime(2026, 3, 21, tzinfo=UTC)
    with pytest.raises(DataIntervalError, match="backfill run"):
        run_day("2026-03-20", start, start + ONE_DAY, DagRunType.BACKFILL_JOB)


def test_day_start_is_midnight_utc():
    assert day_start(date(2026, 3, 2)) == datetime(2026, 3, 2, tzinfo=UTC)


def test_scheduled_and_backfill_runs_of_day_d_have_logical_date_d():
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.sdk import timezone as airflow_timezone
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = coerce_to_core_timetable(CronDataIntervalTimetable("0 0 * * *", timezone="UTC"))
    previous = DataInterval(
        airflow_timezone.coerce_datetime(datetime(2026, 3, 1, tzinfo=UTC)),
        airflow_timezone.coerce_datetime(datetime(2026, 3, 2, tzinfo=UTC)),
    )
    restriction = TimeRestriction(earliest=previous.start, latest=None, catchup=True)
    info = timetable.next_dagrun_info(last_automated_data_interval=previous, restriction=restriction)
    assert info.logical_date == datetime(2026, 3, 2, tzinfo=UTC)
    assert interval_day(info.data_interval.start, info.data_interval.end) == date(2026, 3, 2)
