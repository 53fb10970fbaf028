"""Analysts' verdicts read from the findings database: a finding's own status, else its
incident's, and which events a day's stored findings flagged."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


FALSE_POSITIVE = "false_positive"


CONFIRMED = "confirmed"


#: Statuses that are a verdict.
JUDGED = (FALSE_POSITIVE, CONFIRMED)


def existing_store(url: str):
    """The findings store at ``url``, or ``None`` for a SQLite file that does not exist yet."""
    from sqlalchemy.engine import make_url

    from ztad.store import FindingsStore

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).expanduser().exists():
            return None
    return FindingsStore(url)


def has_tables(connection, *names: str) -> bool:
    from sqlalchemy import inspect

    inspector = inspect(connection)
    return all(inspector.has_table(name) for name in names)


def _verdict_query(connection, columns, start, end):
    """Findings judged false positive or confirmed, with their verdict, ordered by finding.

    The verdict is the finding's own status, else its incident's while the finding is still
    ``new``. The two cases are read apart so that indexes answer both: the judged findings by
    their status; the judged incidents by theirs, then their findings by incident. The judged
    incidents are materialised first: nearly every finding is ``new``, and a planner without
    statistics (SQLite's) would otherwise start from the findings' status index.
    """
    from sqlalchemy import select, union_all

    from ztad.store import tables

    f = tables.findings
    selected = [f.c[name] for name in columns]
    days = _day_bounds(f.c.day, start, end)
    own = select(*selected, f.c.status.label("verdict")).where(f.c.status.in_(JUDGED), *days)
    if not _has_incidents(connection):
        return own.order_by(f.c.finding_id)
    i = tables.incidents
    judged = (
        select(i.c.incident_id, i.c.status).where(i.c.status.in_(JUDGED))
        .cte("judged_incidents").prefix_with("MATERIALIZED")
    )
    inherited = (
        select(*selected, judged.c.status.label("verdict"))
        .select_from(judged.join(f, f.c.incident_id == judged.c.incident_id))
        .where(f.c.status == "new", *days)
    )
    both = union_all(own, inherited)
    return both.order_by(both.selected_columns.finding_id)


def _day_bounds(day, start: date | None, end: date | None) -> list:
    """Conditions keeping days ``[start, end)`` (either bound may be open)."""
    conditions = []
    if start is not None:
        conditions.append(day >= start)
    if end is not None:
        conditions.append(day < end)
    return conditions


def _has_incidents(connection) -> bool:
    """Whether findings are grouped into incidents (stores before incidents are not)."""
    return has_tables(connection, "incidents") and "incident_id" in {c["name"] for c in _columns(connection)}


def _columns(connection) -> list[dict]:
    from sqlalchemy import inspect

    return inspect(connection).get_columns("findings")


#: Columns of a verdicts frame.
VERDICT_COLUMNS: tuple[str, ...] = (
    "day", "finding_id", "event_id", "user_id", "location", "device_id", "resource", "ip_address", "reasons",
    "verdict",
)


def _empty_verdicts() -> pd.DataFrame:
    return pd.DataFrame(columns=list(VERDICT_COLUMNS), dtype=object)


def read_verdicts(store, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """False positives and confirmed findings of days ``[start, end)`` (all days by default).

    Columns :data:`VERDICT_COLUMNS`; ``verdict`` is the finding's status, or its incident's
    while the finding itself is still ``new``.
    """
    names = list(VERDICT_COLUMNS[:-1])
    with store.engine.connect() as connection:
        if not has_tables(connection, "findings"):
            return _empty_verdicts()
        rows = connection.execute(_verdict_query(connection, names, start, end)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=names + ["verdict"], dtype=object)
    frame["day"] = [pd.Timestamp(d).date() for d in frame["day"]]
    return frame


def finding_event_ids(store, day: date) -> set[str]:
    """Event ids of every finding of ``day`` (what the run of that day flagged)."""
    from sqlalchemy import select

    from ztad.store import tables

    with store.engine.connect() as connection:
        if not has_tables(connection, "findings"):
            return set()
        query = select(tables.findings.c.event_id).where(tables.findings.c.day == day)
        return {str(row[0]) for row in connection.execute(query)}


def finding_sources(store, day: date) -> dict[str, list[str]]:
    """Per finding of ``day``: its event id -> the sources that raised it (``ensemble``,
    ``rule:<code>``), as the run of that day stored them."""
    from sqlalchemy import select

    from ztad.store import tables

    f = tables.findings
    with store.engine.connect() as connection:
        if not has_tables(connection, "findings"):
            return {}
        query = select(f.c.event_id, f.c.detectors).where(f.c.day == day)
        return {str(event_id): list(sources or []) for event_id, sources in connection.execute(query)}


def finding_days(store, start: date, end: date) -> set[date]:
    """Days in ``[start, end)`` that have findings."""
    from sqlalchemy import select

    from ztad.store import tables

    f = tables.findings
    with store.engine.connect() as connection:
        if not has_tables(connection, "findings"):
            return set()
        query = select(f.c.day).where(f.c.day >= start, f.c.day < end).distinct()
        return {pd.Timestamp(row[0]).date() for row in connection.execute(query)}


def day_verdicts(config, day: date) -> pd.DataFrame:
    """The verdicts of one day's findings (empty when there is no database yet)."""
    store = existing_store(config.resolved_database_url)
    if store is None:
        return _empty_verdicts()
    with store:
        return read_verdicts(store, day, day + timedelta(days=1))
