"""The link between Airflow data intervals and ztad days (UTC calendar days).

ztad partitions logs by the UTC day of each event, so a run must cover exactly one such
day: the data interval ``[D 00:00 UTC, D+1 00:00 UTC)`` is day ``D``. Anything else is
refused rather than silently processing a different window.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

ONE_DAY = timedelta(days=1)


class DataIntervalError(ValueError):
    """A run's data interval is not exactly one UTC calendar day."""


def interval_day(start: datetime | None, end: datetime | None) -> date:
    """Return the UTC day that the data interval ``[start, end)`` covers.

    :param start: ``data_interval_start`` of the run.
    :param end: ``data_interval_end`` of the run.
    :raises DataIntervalError: when the run has no data interval, or when the interval is
        not midnight-to-midnight UTC (for instance after the schedule was changed to a
        cron expression with another hour).
    """
    if start is None or end is None:
        raise DataIntervalError(
            "this run has no data interval, so there is no day to process: trigger it with a "
            "logical date (the run then covers the UTC day before that date)"
        )
    start_utc, end_utc = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    if start_utc.time() != time(0) or end_utc - start_utc != ONE_DAY:
        raise DataIntervalError(
            f"the data interval {start_utc.isoformat()} .. {end_utc.isoformat()} is not one UTC "
            "calendar day; schedule the DAG with CronDataIntervalTimetable('0 0 * * *', "
            "timezone='UTC') so that each run covers exactly one day of logs"
        )
    return date(start_utc.year, start_utc.month, start_utc.day)  # a plain date, not pendulum's


def manual_logical_date(day: date) -> datetime:
    """Return the logical date for which a manual run covers ``day``.

    A manual run (``dag.test(logical_date=...)``, ``airflow dags trigger --logical-date``)
    of a data-interval timetable covers the last complete interval before its logical date,
    so day ``D`` needs the logical date ``D+1 00:00 UTC``. Scheduled and backfill runs
    need nothing of the kind: their logical date is the start of the day they cover.

    :param day: the UTC day to process.
    """
    return datetime.combine(day + ONE_DAY, time(0), tzinfo=timezone.utc)
