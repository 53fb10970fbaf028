from datetime import date, datetime, timedelta, timezone

import pytest

from ztad_airflow.intervals import DataIntervalError, interval_day, manual_logical_date

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
    with pytest.raises(DataIntervalError, match="logical date"):
        interval_day(None, None)


def test_manual_logical_date_is_the_end_of_the_day():
    assert manual_logical_date(date(2026, 3, 2)) == datetime(2026, 3, 3, tzinfo=UTC)


def test_the_daily_timetable_maps_the_manual_logical_date_back_to_the_day():
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.sdk import timezone as airflow_timezone

    timetable = coerce_to_core_timetable(CronDataIntervalTimetable("0 0 * * *", timezone="UTC"))
    logical = airflow_timezone.coerce_datetime(manual_logical_date(date(2026, 3, 2)))
    interval = timetable.infer_manual_data_interval(run_after=logical)
    assert interval_day(interval.start, interval.end) == date(2026, 3, 2)


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
