"""The nightly run's deadline: day D's findings are due by a configured hour of D+1 (UTC).

``ztad_daily`` carries an Airflow 3 ``DeadlineAlert`` whose reference is :class:`NightlyDeadline`:
when the scheduler creates the nightly (scheduled) run of day D, the run is due at D+1 plus
the hour of the Variable ``ztad_deadline`` (``HH:MM`` UTC, ``06:00`` when unset). A run that is
not done by then makes the triggerer call :func:`record_missed_deadline`, which logs one
warning line that the platform team's log shipping can alert on (``ztad deadline missed: ...``)
and returns the same text, which Airflow keeps with the callback in its metadata database.
Manual and backfill runs get no deadline: an old day replayed today is not late.

The reference runs inside the scheduler, so it must be registered by a plugin
(:mod:`ztad_airflow.plugin`) and import Airflow's core only inside its methods.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.definitions.deadline import BaseDeadlineReference

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: The Variable holding the hour by which a night's run must be done (``HH:MM``, UTC).
DEADLINE_VARIABLE = "ztad_deadline"
DEFAULT_DEADLINE = "06:00"
_HOUR = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def deadline_offset(value: Any) -> timedelta:
    """The time after the end of the day (00:00 UTC of D+1) that ``HH:MM`` names.

    :param value: the Variable's value, e.g. ``"06:00"``; ``None`` for the default.
    :raises ValueError: when it is not an hour of the day.
    """
    text = DEFAULT_DEADLINE if value is None or not str(value).strip() else str(value)
    found = _HOUR.match(text)
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise ValueError(f"{DEADLINE_VARIABLE} must be an hour of the day, HH:MM in UTC, not {value!r}")
    return timedelta(hours=int(found.group(1)), minutes=int(found.group(2)))


def nightly_deadline(run_type: Any, interval_end: datetime | None, configured: Any) -> datetime | None:
    """When a run must be done: the end of its day plus the configured hour, for scheduled
    runs only; ``None`` (no deadline) for any other run.

    :param run_type: the run's type (``scheduled``, ``manual``, ``backfill`` ...).
    :param interval_end: the end of the run's data interval (00:00 UTC of D+1).
    :param configured: the Variable's value; an invalid one falls back to the default, with
        an error in the scheduler's log, rather than breaking the scheduling of the run.
    """
    if str(getattr(run_type, "value", run_type)) != "scheduled" or interval_end is None:
        return None
    try:
        offset = deadline_offset(configured)
    except ValueError as error:
        log.error("%s; using %s", error, DEFAULT_DEADLINE)
        offset = deadline_offset(DEFAULT_DEADLINE)
    return interval_end + offset


class NightlyDeadline(BaseDeadlineReference):
    """Deadline reference: a scheduled run of day D is due at D+1, hour of ``ztad_deadline``.

    Evaluated by the scheduler when it creates a run; a run for which it returns ``None``
    (manual, backfill) gets no deadline.
    """

    required_kwargs = {"dag_id", "run_id"}

    def _evaluate_with(self, *, session: Session, **kwargs: Any) -> datetime | None:
        from airflow.models import DagRun
        from sqlalchemy import select

        run = session.scalar(
            select(DagRun).where(DagRun.dag_id == kwargs["dag_id"], DagRun.run_id == kwargs["run_id"])
        )
        if run is None:
            return None
        return nightly_deadline(run.run_type, run.data_interval_end, configured_deadline(session))


def configured_deadline(session: Session) -> str | None:
    """The Variable ``ztad_deadline``: from the environment (``AIRFLOW_VAR_ZTAD_DEADLINE``),
    else read in the scheduler's own session.

    ``Variable.get`` would open and commit a session of its own inside the scheduler's
    critical section, which the scheduler refuses ("UNEXPECTED COMMIT"), so the row is read
    directly.
    """
    from airflow.models import Variable
    from sqlalchemy import select

    value = os.environ.get(f"AIRFLOW_VAR_{DEADLINE_VARIABLE.upper()}")
    if value is not None:
        return value
    row = session.scalar(select(Variable).where(Variable.key == DEADLINE_VARIABLE))
    return None if row is None else row.val


def missed_deadline_message(context: dict) -> str:
    """The one line that reports a missed deadline, from the callback's context."""
    run = context.get("dag_run") or {}
    deadline = (context.get("deadline") or {}).get("deadline_time")
    day = str(run.get("data_interval_start") or "")[:10] or "?"
    return (
        f"ztad deadline missed: {run.get('dag_id')} run {run.get('dag_run_id')} of {day} was not "
        f"done by {deadline} (state {run.get('state')})"
    )


async def record_missed_deadline(context: dict | None = None, **_: Any) -> str:
    """The deadline's callback, run in the triggerer: log the miss as a warning and return it.

    :param context: what Airflow passes: ``{"dag_run": <the run as the REST API shows it>,
        "deadline": {"id", "deadline_time"}}``.
    """
    message = missed_deadline_message(context or {})
    log.warning(message)
    return message
