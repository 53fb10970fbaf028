"""Analysts' verdicts, read back by the next run.

A finding's verdict is its own status once an analyst set one, else its incident's (so a
whole incident can be closed at once, by ``ztad triage`` or by SQL). Two verdicts change
what the job does next:

``false_positive``
    The event was fine. Its *pattern* is allowed for its user from the next day on: the place,
    device, resource or address that made it unusual (read from its reason codes) becomes an
    entry of the ``feedback_allowlist`` table, which survives reruns. A later flagged event of
    that user is *suppressed* (not flagged, no finding) when every reason it has is covered by
    the user's entries, e.g. a first login from the allowed city with a new address there;
    a burst of failures or a large transfer is never covered. The false positive itself enters
    the baseline: its day's aggregate is rebuilt with it, so the place or device stops being
    new for the user.
``confirmed``
    The event was an attack: it never enters the baseline or the training data, even if a
    rerun of its day stops flagging it.

Each night, before the baseline is built, the run compares the verdicts of the days in its
window with those it last applied (``<state>/feedback/day=YYYY-MM-DD.json``) and rebuilds the
aggregates of the days whose verdicts changed. Reading never writes to the database; the
allowlist table is brought up to date by the write step and by ``ztad triage``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FALSE_POSITIVE = "false_positive"
CONFIRMED = "confirmed"
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
FEEDBACK_FILE = "feedback.json"


# --------------------------------------------------------------------------- reading the store


def _existing_store(url: str):
    """The findings store at ``url``, or ``None`` for a SQLite file that does not exist yet."""
    from sqlalchemy.engine import make_url

    from ztad.store import FindingsStore

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).expanduser().exists():
            return None
    return FindingsStore(url)


def _has_tables(connection, *names: str) -> bool:
    from sqlalchemy import inspect

    inspector = inspect(connection)
    return all(inspector.has_table(name) for name in names)


def _verdict_query(connection, columns, where):
    """Findings with their verdict (own status, else their incident's), filtered by ``where``."""
    from sqlalchemy import and_, case, select

    from ztad.store import tables

    f = tables.findings
    if _has_tables(connection, "incidents") and "incident_id" in {c["name"] for c in _columns(connection)}:
        i = tables.incidents
        verdict = case((and_(f.c.status == "new", i.c.status.is_not(None)), i.c.status), else_=f.c.status)
        source = f.outerjoin(i, i.c.incident_id == f.c.incident_id)
    else:
        verdict, source = f.c.status, f
    query = select(*[f.c[name] for name in columns], verdict.label("verdict")).select_from(source)
    return query.where(*where(f, verdict))


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
        if not _has_tables(connection, "findings"):
            return _empty_verdicts()

        def where(f, verdict):
            conditions = [verdict.in_((FALSE_POSITIVE, CONFIRMED))]
            if start is not None:
                conditions.append(f.c.day >= start)
            if end is not None:
                conditions.append(f.c.day < end)
            return conditions

        rows = connection.execute(_verdict_query(connection, names, where)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=names + ["verdict"], dtype=object)
    frame["day"] = [pd.Timestamp(d).date() for d in frame["day"]]
    return frame


def finding_event_ids(store, day: date) -> set[str]:
    """Event ids of every finding of ``day`` (what the run of that day flagged)."""
    from sqlalchemy import select

    from ztad.store import tables

    with store.engine.connect() as connection:
        if not _has_tables(connection, "findings"):
            return set()
        query = select(tables.findings.c.event_id).where(tables.findings.c.day == day)
        return {str(row[0]) for row in connection.execute(query)}


def finding_days(store, start: date, end: date) -> set[date]:
    """Days in ``[start, end)`` that have findings."""
    from sqlalchemy import select

    from ztad.store import tables

    f = tables.findings
    with store.engine.connect() as connection:
        if not _has_tables(connection, "findings"):
            return set()
        query = select(f.c.day).where(f.c.day >= start, f.c.day < end).distinct()
        return {pd.Timestamp(row[0]).date() for row in connection.execute(query)}


def read_allowlist(store) -> pd.DataFrame:
    """The stored allowlist entries (:data:`ALLOWLIST_COLUMNS`)."""
    from sqlalchemy import select

    from ztad.store import tables

    table = tables.feedback_allowlist
    with store.engine.connect() as connection:
        if not _has_tables(connection, table.name):
            return _empty_allowlist()
        rows = connection.execute(select(*[table.c[name] for name in ALLOWLIST_COLUMNS])).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(ALLOWLIST_COLUMNS), dtype=object)
    frame["valid_from"] = [pd.Timestamp(d).date() for d in frame["valid_from"]]
    return frame


def _empty_allowlist() -> pd.DataFrame:
    return pd.DataFrame(columns=list(ALLOWLIST_COLUMNS), dtype=object)


# --------------------------------------------------------------------------- the allowlist


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
    return pd.DataFrame(rows, columns=list(ALLOWLIST_COLUMNS), dtype=object) if rows else _empty_allowlist()


def effective_allowlist(stored: pd.DataFrame, derived: pd.DataFrame, day: date) -> pd.DataFrame:
    """Entries in force on ``day``: stored and derived together, earliest start kept."""
    parts = [frame for frame in (stored, derived) if len(frame)]
    if not parts:
        return _empty_allowlist()
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
            if not _has_tables(connection, table.name):
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


# --------------------------------------------------------------------------- suppression


def _matches(events: pd.DataFrame, rows: np.ndarray, allowlist: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per allowlist kind, whether each of ``rows`` matches an entry of its user."""
    users = events["user_id"].astype("string").iloc[rows].to_numpy(dtype=object)
    out = {}
    for kind, column in EVENT_COLUMN.items():
        entries = allowlist[allowlist["kind"] == kind]
        if entries.empty or column not in events.columns:
            out[kind] = np.zeros(len(rows), dtype=bool)
            continue
        allowed = set(zip(entries["user_id"].astype(str), entries["value"].astype(str)))
        values = events[column].astype("string").iloc[rows].to_numpy(dtype=object)
        out[kind] = np.array([(u, v) in allowed for u, v in zip(users, values)], dtype=bool)
    return out


def covered(codes: list[str], matched: set[str]) -> bool:
    """Whether every reason code is covered by the matched allowlist kinds."""
    if not matched:
        return False
    for code in codes:
        if code in NEUTRAL_CODES:
            continue
        alternatives = COVERED_BY.get(code)
        if not alternatives or not any(kinds <= matched for kinds in alternatives):
            return False
    return True


def suppressed_mask(
    events: pd.DataFrame,
    features: pd.DataFrame,
    rule_hits: pd.DataFrame | None,
    flagged,
    allowlist: pd.DataFrame,
    protected_event_ids=(),
) -> np.ndarray:
    """Which flagged events an analyst's false positives cover (see the module docstring).

    Only flagged events of users with entries that match one of the event's values are
    explained (a handful), so this is cheap on a large day.

    Parameters
    ----------
    events, features, rule_hits
        The day's events, features and rule hits (rule codes as column names), row-aligned.
    flagged
        Boolean per event.
    allowlist
        Entries in force (:func:`effective_allowlist`).
    protected_event_ids
        Events never suppressed: those of confirmed findings, when a day is rerun.
    """
    from ztad.findings.sentences import explain

    flagged = np.asarray(flagged, dtype=bool)
    out = np.zeros(len(flagged), dtype=bool)
    if allowlist is None or allowlist.empty or not flagged.any():
        return out
    users = set(allowlist["user_id"].astype(str))
    rows = np.flatnonzero(flagged & events["user_id"].astype("string").isin(users).fillna(False).to_numpy(bool))
    if protected_event_ids is not None and len(protected_event_ids) and len(rows):
        protected = events["event_id"].astype("string").iloc[rows].isin(set(protected_event_ids)).to_numpy(bool)
        rows = rows[~protected]
    if len(rows) == 0:
        return out
    matches = _matches(events, rows, allowlist)
    any_match = np.any(np.column_stack(list(matches.values())), axis=1)
    rows, matches = rows[any_match], {kind: hit[any_match] for kind, hit in matches.items()}
    if len(rows) == 0:
        return out
    candidates = np.zeros(len(flagged), dtype=bool)
    candidates[rows] = True
    reasons = explain(events, features, rule_hits, candidates)
    for k, (row, reason_list) in enumerate(zip(rows, reasons)):
        matched = {kind for kind, hit in matches.items() if hit[k]}
        out[row] = covered([str(r["code"]) for r in reason_list], matched)
    return out


# --------------------------------------------------------------------------- learning masks


def _ids(verdicts: pd.DataFrame, verdict: str) -> set[str]:
    if verdicts is None or verdicts.empty:
        return set()
    return set(verdicts.loc[verdicts["verdict"] == verdict, "event_id"].astype(str))


def baseline_mask(event_ids: pd.Series, flagged, verdicts: pd.DataFrame | None) -> np.ndarray:
    """Events a day's baseline aggregate learns: unflagged or false positive, never confirmed."""
    ids = event_ids.astype("string")
    false_positive = ids.isin(_ids(verdicts, FALSE_POSITIVE)).fillna(False).to_numpy(bool)
    confirmed = ids.isin(_ids(verdicts, CONFIRMED)).fillna(False).to_numpy(bool)
    return (~np.asarray(flagged, dtype=bool) | false_positive) & ~confirmed


def training_mask(event_ids: pd.Series, flagged, verdicts: pd.DataFrame | None) -> np.ndarray:
    """Events whose features train the detectors: unflagged and never confirmed."""
    confirmed = event_ids.astype("string").isin(_ids(verdicts, CONFIRMED)).fillna(False).to_numpy(bool)
    return ~np.asarray(flagged, dtype=bool) & ~confirmed


# --------------------------------------------------------------------------- applied verdicts


def fingerprint(verdicts: pd.DataFrame | None) -> dict[str, list[str]]:
    """The verdicts of one day as sorted event id lists (what a rebuild took into account)."""
    return {FALSE_POSITIVE: sorted(_ids(verdicts, FALSE_POSITIVE)), CONFIRMED: sorted(_ids(verdicts, CONFIRMED))}


def fingerprint_path(state_dir: Path | str, day: date) -> Path:
    """Where the verdicts applied to a day's baseline and training files are recorded."""
    return Path(state_dir) / "feedback" / f"day={day.isoformat()}.json"


def applied_fingerprint(state_dir: Path | str, day: date) -> dict[str, list[str]]:
    """The verdicts last applied to ``day`` (none when never recorded)."""
    path = fingerprint_path(state_dir, day)
    return json.loads(path.read_text()) if path.exists() else fingerprint(None)


def record_fingerprint(state_dir: Path | str, day: date, verdicts: pd.DataFrame | None) -> None:
    """Record the verdicts applied to ``day``; none recorded as no file."""
    path = fingerprint_path(state_dir, day)
    current = fingerprint(verdicts)
    if not any(current.values()):
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current))
    tmp.replace(path)


def drop_confirmed_training_rows(path: Path, verdicts: pd.DataFrame | None) -> int:
    """Remove confirmed events from a saved training file (kept with an ``event_id`` column)."""
    confirmed = _ids(verdicts, CONFIRMED)
    if not confirmed or not path.exists():
        return 0
    frame = pd.read_parquet(path)
    if "event_id" not in frame.columns:
        return 0
    drop = frame["event_id"].astype("string").isin(confirmed).fillna(False).to_numpy(bool)
    if drop.any():
        tmp = path.with_suffix(".tmp")
        frame[~drop].reset_index(drop=True).to_parquet(tmp, index=False)
        tmp.replace(path)
    return int(drop.sum())


@dataclass
class DayFeedback:
    """What the scoring of one day needs from the verdicts."""

    allowlist: pd.DataFrame
    protected_event_ids: list[str]

    def to_json(self) -> dict:
        entries = self.allowlist.assign(valid_from=self.allowlist["valid_from"].astype(str))
        return {"allowlist": entries.to_dict("records"), "protected_event_ids": self.protected_event_ids}

    @classmethod
    def from_json(cls, payload: dict) -> "DayFeedback":
        entries = pd.DataFrame(payload.get("allowlist", []), columns=list(ALLOWLIST_COLUMNS), dtype=object)
        entries["valid_from"] = [date.fromisoformat(str(d)) for d in entries["valid_from"]]
        return cls(entries, list(payload.get("protected_event_ids", [])))

    @classmethod
    def none(cls) -> "DayFeedback":
        return cls(_empty_allowlist(), [])


def load_day_feedback(folder: Path) -> DayFeedback:
    """The feedback kept for a day's scoring (none when the file is absent)."""
    path = Path(folder) / FEEDBACK_FILE
    return DayFeedback.from_json(json.loads(path.read_text())) if path.exists() else DayFeedback.none()


def relearn_past_days(
    day: date,
    config,
    store,
    verdicts: pd.DataFrame,
    load_events: Callable[[date], pd.DataFrame],
    training_path: Callable[[date], Path],
) -> list[date]:
    """Rebuild the baseline aggregates (and clean the training files) of past days whose
    verdicts changed since last applied; also build, with the verdicts, missing aggregates of
    days that have findings (instead of learning their flagged events).

    ``training_path(day)`` is where a day's training features are kept. Returns the days
    rebuilt.
    """
    from ztad.behaviour.baselines import aggregate_dir, daily_aggregate, save_daily_aggregate

    detection = config.detection
    start = day - timedelta(days=max(detection.history_days, detection.training_days))
    by_day = {d: group for d, group in verdicts.groupby("day")} if len(verdicts) else {}
    with_findings = finding_days(store, start, day)
    rebuilt = []
    for offset in range((day - start).days):
        past = start + timedelta(days=offset)
        day_verdicts = by_day.get(past)
        changed = fingerprint(day_verdicts) != applied_fingerprint(config.state_dir, past)
        missing = past in with_findings and not (aggregate_dir(config.state_dir, past) / "meta.json").exists()
        if not (changed or missing):
            continue
        events = load_events(past)
        if events is None or events.empty:
            continue
        flagged = events["event_id"].astype("string").isin(finding_event_ids(store, past)).fillna(False).to_numpy(bool)
        keep = baseline_mask(events["event_id"], flagged, day_verdicts)
        save_daily_aggregate(daily_aggregate(events[keep]), config.state_dir, past)
        drop_confirmed_training_rows(training_path(past), day_verdicts)
        record_fingerprint(config.state_dir, past, day_verdicts)
        rebuilt.append(past)
    if rebuilt:
        log.info("%s: rebuilt the baseline of %s with analysts' verdicts", day, ", ".join(map(str, rebuilt)))
    return rebuilt


def apply_feedback(
    day: date,
    config,
    load_events: Callable[[date], pd.DataFrame],
    training_path: Callable[[date], Path],
    folder: Path,
) -> dict:
    """Read the verdicts before ``day`` is scored: rebuild what they changed and keep, in
    ``folder``, the allowlist in force on ``day`` and the events a rerun must not suppress.

    A database that does not exist yet has no verdicts.
    """
    store = _existing_store(config.resolved_database_url)
    feedback, rebuilt = DayFeedback.none(), []
    if store is not None:
        with store:
            verdicts = read_verdicts(store)
            window = verdicts[[d < day for d in verdicts["day"]]] if len(verdicts) else verdicts
            rebuilt = relearn_past_days(day, config, store, window, load_events, training_path)
            allowlist = effective_allowlist(read_allowlist(store), derive_allowlist(window), day)
            protected = sorted(_ids(verdicts[[d == day for d in verdicts["day"]]], CONFIRMED)) if len(verdicts) else []
            feedback = DayFeedback(allowlist, protected)
    path = Path(folder) / FEEDBACK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(feedback.to_json(), indent=2, default=str))
    return {"allowlist_entries": int(len(feedback.allowlist)), "relearned_days": [d.isoformat() for d in rebuilt]}


def day_verdicts(config, day: date) -> pd.DataFrame:
    """The verdicts of one day's findings (empty when there is no database yet)."""
    store = _existing_store(config.resolved_database_url)
    if store is None:
        return _empty_verdicts()
    with store:
        return read_verdicts(store, day, day + timedelta(days=1))


def learnable_events(config, day: date, event_ids: pd.Series) -> np.ndarray:
    """Which of a past day's events may train the detectors: those its stored findings do not
    flag, and never a confirmed one (all of them when the day has no stored findings)."""
    store = _existing_store(config.resolved_database_url)
    if store is None:
        return np.ones(len(event_ids), dtype=bool)
    with store:
        flagged = event_ids.astype("string").isin(finding_event_ids(store, day)).fillna(False).to_numpy(bool)
        verdicts = read_verdicts(store, day, day + timedelta(days=1))
    return training_mask(event_ids, flagged, verdicts)
