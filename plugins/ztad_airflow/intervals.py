"""Which UTC day a run processes: the day it names, else its data interval.

ztad partitions logs by the UTC day of each event, so a run covers exactly one such day.
Scheduled and backfill runs of day ``D`` have the data interval ``[D 00:00 UTC, D+1 00:00 UTC)``
and name nothing. A manual run names its day explicitly, with the ``day`` Param
(``--conf '{"day": "2026-03-20"}'``, the REST API's ``conf``, the UI's trigger form), or with
an explicit data interval (REST API or UI). A day is never derived from a manual run's logical
date: the ``airflow dags trigger`` CLI of Airflow 3.3 infers a manual run's data interval from
the moment it is triggered, not from ``--logical-date``. Anything ambiguous is refused rather
than silently processing another day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

ONE_DAY = timedelta(days=1)

#: Run types whose day is their data interval's: a ``day`` Param that disagrees is refused.
INTERVAL_RUN_TYPES = ("scheduled", "backfill")


class DataIntervalError(ValueError):
    """A run names no day, or a day that is not one UTC calendar day."""


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
            "this run names no day and has no data interval: trigger it with the day, e.g. "
            "airflow dags trigger ztad_daily --conf '{\"day\": \"2026-03-20\"}' (the REST "
            "API's \"conf\" and the UI's trigger form take the same), or with an explicit data "
            "interval through the REST API or the UI"
        )
    start_utc, end_utc = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    if start_utc.time() != time(0) or end_utc - start_utc != ONE_DAY:
        raise DataIntervalError(
            f"the data interval {start_utc.isoformat()} .. {end_utc.isoformat()} is not one UTC "
            "calendar day; schedule the DAG with CronDataIntervalTimetable('0 0 * * *', "
            "timezone='UTC') so that each run covers exactly one day of logs, or name the day "
            "with the Param \"day\""
        )
    return date(start_utc.year, start_utc.month, start_utc.day)  # a plain date, not pendulum's


def named_day(value: Any) -> date | None:
    """Return the day a run names in its ``day`` Param, or ``None`` when it names none.

    :param value: the rendered Param: ``None``, an empty text, ``YYYY-MM-DD`` or a date.
    :raises DataIntervalError: when the value is not a calendar day.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        raise DataIntervalError(f"day must be a calendar day (YYYY-MM-DD), not the time {value!r}")
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise DataIntervalError(f"day must be YYYY-MM-DD, not {value!r}") from None


def run_day(
    day: Any, start: datetime | None, end: datetime | None, run_type: str | None = None
) -> date:
    """Return the UTC day a run processes: its ``day`` Param, else its data interval's day.

    :param day: the run's ``day`` Param (``None`` or empty when it names none).
    :param start: ``data_interval_start`` of the run (``None`` for a run without one).
    :param end: ``data_interval_end`` of the run.
    :param run_type: the run's type (``scheduled``, ``backfill``, ``manual`` ...). A scheduled
        or backfill run covers its data interval's day; naming another day there (say, a
        backfill given ``{"day": ...}`` as its conf, which every run of it would share) is
        refused, so that a backfill never processes the same day N times.
    :raises DataIntervalError: when the run names no valid day, or two different ones.
    """
    named = named_day(day)
    kind = str(getattr(run_type, "value", run_type) or "")
    if named is None:
        return interval_day(start, end)
    if kind in INTERVAL_RUN_TYPES and start is not None and end is not None:
        covered = interval_day(start, end)
        if covered != named:
            raise DataIntervalError(
                f"this {kind} run covers {covered}, but its conf names the day {named}: a "
                f"{kind} run processes its own data interval; drop \"day\" from its conf"
            )
    return named


def day_start(day: date) -> datetime:
    """``day`` at 00:00 UTC: the logical date and data interval start of day ``day``."""
    return datetime.combine(day, time(0), tzinfo=timezone.utc)
