"""The allowlist that false positives grant: which user may use which place, device, resource
or address from a day on, derived from verdicts and kept in ``feedback_allowlist``."""

from __future__ import annotations

import ipaddress
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ztad.feedback.verdicts import FALSE_POSITIVE, has_tables, read_verdicts

#: Which allowlist kind each reason code is about.
KIND_OF_CODE: dict[str, tuple[str, ...]] = {
    "new_city": ("location",),
    "travel": ("location",),
    "impossible_travel": ("location",),
    "rare_place": ("location",),
    "new_device": ("device",),
    "new_device_new_place": ("device", "location"),
    "new_ip": ("ip",),
    "new_resource": ("resource",),
    "rare_resource": ("resource",),
    "rare_sensitive_access": ("resource",),
    "resource_new_to_peers": ("resource",),
}


#: Per reason code, alternative sets of allowlist kinds that cover it (any one set suffices).
COVERED_BY: dict[str, tuple[frozenset[str], ...]] = {
    **{code: (frozenset(kinds),) for code, kinds in KIND_OF_CODE.items()},
    # A new address in an allowed place is part of being there.
    "new_ip": (frozenset({"ip"}), frozenset({"location"})),
}


#: Reasons that say something about the user, not the event: covered by any match.
NEUTRAL_CODES = frozenset({"cold_start"})


#: Event column holding the value of each allowlist kind.
EVENT_COLUMN: dict[str, str] = {
    "location": "location", "device": "device_id", "resource": "resource", "ip": "ip_address",
}


ALLOWLIST_COLUMNS: tuple[str, ...] = ("user_id", "kind", "value", "valid_from", "source_finding_id")


def read_allowlist(store) -> pd.DataFrame:
    """The stored allowlist entries (:data:`ALLOWLIST_COLUMNS`)."""
    from sqlalchemy import select

    from ztad.store import tables

    table = tables.feedback_allowlist
    with store.engine.connect() as connection:
        if not has_tables(connection, table.name):
            return empty_allowlist()
        rows = connection.execute(select(*[table.c[name] for name in ALLOWLIST_COLUMNS])).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(ALLOWLIST_COLUMNS), dtype=object)
    frame["valid_from"] = [pd.Timestamp(d).date() for d in frame["valid_from"]]
    return frame


def empty_allowlist() -> pd.DataFrame:
    return pd.DataFrame(columns=list(ALLOWLIST_COLUMNS), dtype=object)


def _normal_value(kind: str, value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    if kind == "ip":
        try:
            return str(ipaddress.ip_interface(text).ip)
        except ValueError:
            return text or None
    return text or None


def derive_allowlist(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Allowlist entries that the false positives among ``verdicts`` call for.

    One entry per (user, kind, value), valid from the day after its earliest false positive.
    """
    entries: dict[tuple[str, str, str], tuple[date, str]] = {}
    false_positives = verdicts[verdicts["verdict"] == FALSE_POSITIVE] if len(verdicts) else verdicts
    for row in false_positives.itertuples(index=False):
        codes = {str(r["code"]) for r in (row.reasons if row.reasons is not None else [])}
        kinds = {kind for code in codes for kind in KIND_OF_CODE.get(code, ())}
        for kind in kinds:
            value = _normal_value(kind, getattr(row, EVENT_COLUMN[kind]))
            if value is None:
                continue
            key, valid_from = (str(row.user_id), kind, value), row.day + timedelta(days=1)
            if key not in entries or valid_from < entries[key][0]:
                entries[key] = (valid_from, str(row.finding_id))
    rows = [(*key, valid_from, source) for key, (valid_from, source) in sorted(entries.items())]
    return pd.DataFrame(rows, columns=list(ALLOWLIST_COLUMNS), dtype=object) if rows else empty_allowlist()


def effective_allowlist(stored: pd.DataFrame, derived: pd.DataFrame, day: date) -> pd.DataFrame:
    """Entries in force on ``day``: stored and derived together, earliest start kept."""
    parts = [frame for frame in (stored, derived) if len(frame)]
    if not parts:
        return empty_allowlist()
    both = pd.concat(parts, ignore_index=True)
    both = both.assign(value=[_normal_value(k, v) for k, v in zip(both["kind"], both["value"])])
    both = both.sort_values("valid_from", kind="stable").drop_duplicates(["user_id", "kind", "value"])
    return both[[d <= day for d in both["valid_from"]]].reset_index(drop=True)


def sync_allowlist(store) -> dict:
    """Bring the ``feedback_allowlist`` table in line with the current verdicts.

    Adds the entries that false positives call for; removes entries whose false positive an
    analyst has since re-judged (its finding is still stored with another verdict). Entries
    whose finding a rerun removed, and entries added by hand, stay.

    Returns
    -------
    dict
        ``added`` and ``removed`` counts.
    """
    from sqlalchemy import delete, select
    from sqlalchemy.dialects import postgresql, sqlite

    from ztad.store import tables
    from ztad.store.engine import writer_options

    table = tables.feedback_allowlist
    derived = derive_allowlist(read_verdicts(store))
    wanted = {(r.user_id, r.kind, r.value) for r in derived.itertuples(index=False)}
    with store.engine.connect() as connection:
        connection.execution_options(**writer_options(store.engine))
        with connection.begin():
            if not has_tables(connection, table.name):
                return {"added": 0, "removed": 0}
            stale = _rejudged_entries(connection, wanted)
            if stale:
                connection.execute(delete(table).where(table.c.id.in_(stale)))
            before = connection.execute(select(table.c.id)).all()
            if len(derived):
                dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
                rows = derived.to_dict("records")
                connection.execute(
                    dialect_insert(table).on_conflict_do_nothing(index_elements=["user_id", "kind", "value"]), rows
                )
            after = connection.execute(select(table.c.id)).all()
    return {"added": len(after) - len(before), "removed": len(stale)}


def _rejudged_entries(connection, wanted: set[tuple[str, str, str]]) -> list[int]:
    """Ids of entries from a false positive whose finding is stored with another verdict now."""
    from sqlalchemy import select

    from ztad.store import tables

    table, findings = tables.feedback_allowlist, tables.findings
    query = select(table.c.id, table.c.user_id, table.c.kind, table.c.value).join(
        findings, findings.c.finding_id == table.c.source_finding_id
    )
    rows = connection.execute(query).all()
    return [row.id for row in rows if (row.user_id, row.kind, row.value) not in wanted]
