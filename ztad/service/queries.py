"""Reading the findings database for the API and the dashboard: filtered, paged, JSON-ready.

Every query is plain SQLAlchemy Core over :mod:`ztad.store.tables` and the views of the
migrations, so that the same code reads the embedded SQLite file and PostgreSQL.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Text, desc, func, inspect, select, text

from ztad.store import tables

#: Page sizes a client may ask for.
MAX_LIMIT = 500


@dataclass(frozen=True)
class Filters:
    """What ``GET /findings`` and ``GET /incidents`` filter on; ``None`` means any."""

    day: date | None = None
    user_id: str | None = None
    severity: str | None = None
    status: str | None = None
    limit: int = 50
    offset: int = 0


def plain(value):
    """A database value as JSON: dates as ISO text, addresses as text, NaN as null."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(
        value, ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network
    ):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _rows(connection, query) -> list[dict]:
    return [{k: plain(v) for k, v in row.items()} for row in connection.execute(query).mappings()]


def _filtered(table, filters: Filters, user_column):
    conditions = []
    if filters.day is not None:
        conditions.append(table.c.day == filters.day)
    if filters.user_id is not None:
        conditions.append(user_column == filters.user_id)
    if filters.severity is not None:
        conditions.append(table.c.severity_level == filters.severity)
    if filters.status == "open":
        conditions.append(table.c.status.in_(("new", "investigating")))
    elif filters.status is not None:
        conditions.append(table.c.status == filters.status)
    return conditions


def _page(engine, table, conditions, order, filters: Filters, columns=None) -> dict:
    with engine.connect() as connection:
        if not inspect(connection).has_table(table.name):
            return {"total": 0, "limit": filters.limit, "offset": filters.offset, "items": []}
        total = connection.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()
        query = select(*(columns or [table])).where(*conditions).order_by(*order)
        items = _rows(connection, query.limit(filters.limit).offset(filters.offset))
    return {"total": int(total), "limit": filters.limit, "offset": filters.offset, "items": items}


def findings_page(engine, filters: Filters) -> dict:
    """Findings, most severe first, then newest day and event time."""
    table = tables.findings
    conditions = _filtered(table, filters, table.c.user_id)
    order = [desc(table.c.severity).nulls_last(), desc(table.c.day), table.c.event_time, table.c.finding_id]
    return _page(engine, table, conditions, order, filters)


def incidents_page(engine, filters: Filters) -> dict:
    """Incidents, most severe first; a user filter matches any user the incident involves."""
    table = tables.incidents
    users = table.c.users.cast(Text) if filters.user_id is not None else None
    conditions = _filtered(table, Filters(filters.day, None, filters.severity, filters.status), None)
    if filters.user_id is not None:
        conditions.append((table.c.user_id == filters.user_id) | users.contains(f'"{filters.user_id}"'))
    order = [desc(table.c.severity).nulls_last(), desc(table.c.day), table.c.first_time, table.c.incident_id]
    return _page(engine, table, conditions, order, filters)


def incident(engine, incident_id: str) -> dict | None:
    """One incident with its findings (oldest event first), or ``None``."""
    with engine.connect() as connection:
        rows = _rows(
            connection, select(tables.incidents).where(tables.incidents.c.incident_id == incident_id)
        )
        if not rows:
            return None
        findings = tables.findings
        query = select(findings).where(findings.c.incident_id == incident_id).order_by(findings.c.event_time)
        return {**rows[0], "findings": _rows(connection, query)}


def finding(engine, finding_id: str) -> dict | None:
    """One finding, or ``None``."""
    with engine.connect() as connection:
        rows = _rows(connection, select(tables.findings).where(tables.findings.c.finding_id == finding_id))
    return rows[0] if rows else None


def view(engine, name: str, where: str = "", order: str = "", limit: int = 200, **params) -> list[dict]:
    """Rows of one of the migrations' views (``open_incidents``, ``daily_summary`` ...).

    ``where`` and ``order`` are SQL fragments written in this package, never from a request;
    values travel as bound ``params``.
    """
    sql = (
        f"SELECT * FROM {name}"
        + (f" WHERE {where}" if where else "")
        + (f" ORDER BY {order}" if order else "")
    )
    with engine.connect() as connection:
        return _rows(connection, text(sql + f" LIMIT {int(limit)}").bindparams(**params))


def latest_runs(engine, limit: int = 30) -> list[dict]:
    """The newest run records, newest day first."""
    runs = tables.runs
    with engine.connect() as connection:
        if not inspect(connection).has_table(runs.name):
            return []
        return _rows(
            connection, select(runs).order_by(desc(runs.c.day), desc(runs.c.started_at)).limit(limit)
        )


def last_run(engine) -> dict | None:
    """The newest run record (whatever its status), or ``None``."""
    runs = latest_runs(engine, 1)
    return runs[0] if runs else None
