"""Triage: set the status, assignee and notes of findings and incidents, and list what is open.

The same columns can be updated with plain SQL; this module adds what SQL alone does not:

- a status must be one of :data:`ztad.store.TRIAGE_STATUSES`;
- notes are appended with a UTC time stamp, never overwritten;
- an incident's new status reaches its findings that still follow it (status ``new`` or the
  incident's previous status), so that triaging one incident triages the attack;
- the ``feedback_allowlist`` table is brought up to date at once, so a false positive is in
  force for the next run.

>>> update(store, "incident", "2026-03-20:user:u042", status="false_positive",
...        assignee="ana", note="travelling, confirmed by phone")          # doctest: +SKIP
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd

#: What can be triaged.
TARGETS = ("finding", "incident")
#: Statuses that still need an analyst.
OPEN_STATUSES = ("new", "investigating")


class TriageError(ValueError):
    """A triage request cannot be applied as given."""


class UnknownTargetError(TriageError):
    """No finding or incident has the id given."""


def _table(target: str):
    from ztad.store import tables

    if target not in TARGETS:
        raise TriageError(f"can triage {' or '.join(TARGETS)}, not {target!r}")
    return tables.findings if target == "finding" else tables.incidents


def _id_column(table):
    return table.c.finding_id if table.name == "findings" else table.c.incident_id


def _check_status(status: str | None) -> None:
    from ztad.store import TRIAGE_STATUSES

    if status is not None and status not in TRIAGE_STATUSES:
        raise TriageError(f"status {status!r} is not one of {', '.join(TRIAGE_STATUSES)}")


def _appended(notes: str | None, note: str, now: datetime) -> str:
    line = f"[{now:%Y-%m-%d %H:%M} UTC] {note.strip()}"
    return f"{notes}\n{line}" if notes else line


def update(
    store,
    target: str,
    target_id: str,
    *,
    status: str | None = None,
    assignee: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Apply one triage decision and return the row as it now stands.

    Parameters
    ----------
    store
        A :class:`ztad.store.FindingsStore` with the current schema.
    target
        ``"finding"`` or ``"incident"``.
    target_id
        Its id (``<day>:<event_id>``, ``<day>:user:<user>`` or ``<day>:source:<ip>``).
    status, assignee, note
        What to change; ``note`` is appended to the notes. At least one is needed.

    Raises
    ------
    TriageError
        For an unknown status or an empty request.
    UnknownTargetError
        When no row has ``target_id``.
    """
    from sqlalchemy import select
    from sqlalchemy import update as sql_update

    from ztad.feedback.allowlist import sync_allowlist
    from ztad.store.engine import writer_options

    _check_status(status)
    if status is None and assignee is None and not (note and note.strip()):
        raise TriageError("nothing to change: give --status, --assignee or --note")
    table = _table(target)
    now = now or datetime.now(timezone.utc)
    with store.engine.connect() as connection:
        connection.execution_options(**writer_options(store.engine))
        with connection.begin():
            row = connection.execute(select(table).where(_id_column(table) == target_id)).mappings().first()
            if row is None:
                option = " --findings" if target == "finding" else ""
                raise UnknownTargetError(
                    f"no {target} with id {target_id!r}; list them with `ztad triage list{option}`"
                )
            changes: dict = {"updated_at": now}
            if status is not None:
                changes["status"] = status
            if assignee is not None:
                changes["assignee"] = assignee or None
            if note and note.strip():
                changes["notes"] = _appended(row["notes"], note, now)
            connection.execute(sql_update(table).where(_id_column(table) == target_id).values(**changes))
            if target == "incident" and status is not None:
                _cascade(connection, target_id, row["status"], status, now)
            updated = connection.execute(select(table).where(_id_column(table) == target_id)).mappings().first()
    if status is not None:
        sync_allowlist(store)
    return dict(updated)


def _cascade(connection, incident_id: str, previous: str, status: str, now: datetime) -> int:
    """Give the incident's findings that still follow it the incident's new status."""
    from sqlalchemy import update as sql_update

    from ztad.store import tables

    findings = tables.findings
    following = tuple({"new", previous})
    result = connection.execute(
        sql_update(findings)
        .where(findings.c.incident_id == incident_id, findings.c.status.in_(following))
        .values(status=status, updated_at=now)
    )
    return result.rowcount


def listing(
    store,
    target: str = "incident",
    *,
    day: date | None = None,
    status: str = "open",
    limit: int = 50,
) -> pd.DataFrame:
    """Incidents (or findings) to triage, most severe first.

    ``status`` is a triage status, ``"open"`` (new or investigating) or ``"all"``.
    """
    from sqlalchemy import desc, select

    table = _table(target)
    if status not in ("open", "all"):
        _check_status(status)
    columns = (
        ["incident_id", "day", "severity", "severity_level", "status", "assignee", "finding_count", "summary"]
        if target == "incident"
        else ["finding_id", "day", "severity", "severity_level", "status", "assignee", "user_id", "category", "incident_id"]
    )
    query = select(*[table.c[name] for name in columns])
    if day is not None:
        query = query.where(table.c.day == day)
    if status == "open":
        query = query.where(table.c.status.in_(OPEN_STATUSES))
    elif status != "all":
        query = query.where(table.c.status == status)
    order_time = table.c.first_time if target == "incident" else table.c.event_time
    query = query.order_by(desc(table.c.severity).nulls_last(), table.c.day, order_time).limit(limit)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)
