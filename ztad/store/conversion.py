"""DataFrames in and out of the tables: checks, conversion to rows, and typed frames back.

Only flagged events and quarantined rows pass through here (a small share of a day), so
building Python values per row is cheap; everything that can be is done per column.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import BigInteger, Boolean, Date, Double, Integer, SmallInteger, Table

from ztad.store import tables
from ztad.store.errors import InvalidRowError, MissingColumnError
from ztad.store.records import RunRecord
from ztad.store.types import JSONDocument, UTCDateTime

#: Columns a findings frame must carry (``timestamp`` is accepted for ``event_time``).
REQUIRED_FINDING_COLUMNS: tuple[str, ...] = (
    "event_id",
    "event_time",
    "user_id",
    "score",
    "threshold",
    "detectors",
    "detector_scores",
    "reasons",
)
#: Columns a quarantine frame must carry (``ztad.ingest.QUARANTINE_COLUMNS``).
REQUIRED_QUARANTINE_COLUMNS: tuple[str, ...] = ("source", "source_row", "field", "reason", "raw")
#: Analyst-owned columns that survive a rerun of the day for findings raised again.
TRIAGE_COLUMNS: tuple[str, ...] = ("status", "assignee", "notes", "updated_at")

_FINDING_ALIASES = {"timestamp": "event_time"}
_NOT_NULL_FINDING_FIELDS = ("event_id", "event_time", "user_id")
_INTEGER_TYPES = (BigInteger, SmallInteger, Integer)

Columns = dict[str, list]


# --------------------------------------------------------------------------- frames in


def finding_columns(frame: pd.DataFrame, run: RunRecord, now: datetime | None = None) -> Columns:
    """Check a findings frame and return its values per ``findings`` column.

    ``day``, ``run_id`` and ``model_version`` default to the run's; ``status`` to ``new``;
    ``created_at`` to ``now``. ``finding_id`` is ``"<day>:<event_id>"``.

    Raises
    ------
    MissingColumnError
        When a required column is absent.
    InvalidRowError
        For a null id/user/time, a day other than the run's, a ``finding_id`` that does not
        match its day and event, or the same event twice.
    """
    frame = frame.rename(columns={k: v for k, v in _FINDING_ALIASES.items() if v not in frame})
    if _is_blank(frame):
        return {column.name: [] for column in tables.findings.columns}
    _require(frame, REQUIRED_FINDING_COLUMNS, "findings")
    frame = frame.reset_index(drop=True)
    values = {
        column.name: _column_values(frame, column, "findings")
        for column in tables.findings.columns
        if column.name in frame
    }
    for name in _NOT_NULL_FINDING_FIELDS:
        _reject_nulls(values[name], "findings", name, "is empty; every finding needs it")
    n = len(frame)
    values["day"] = _checked_day(values.get("day"), run.day, n)
    values["event_id"] = [str(v) for v in values["event_id"]]
    expected_ids = [f"{run.day.isoformat()}:{event_id}" for event_id in values["event_id"]]
    _check_given_ids(values.get("finding_id"), expected_ids)
    values["finding_id"] = expected_ids
    _reject_duplicates(expected_ids)
    defaults = {
        "run_id": run.run_id,
        "model_version": run.model_version,
        "status": "new",
        "created_at": now or datetime.now(timezone.utc),
    }
    for name, default in defaults.items():
        values[name] = [default if v is None else v for v in values.get(name, [None] * n)]
    return {c.name: values.get(c.name, [None] * n) for c in tables.findings.columns}


def quarantine_columns(frame: pd.DataFrame | None, run: RunRecord) -> Columns:
    """Check a quarantine frame and return its values per ``quarantine`` column (no ``id``)."""
    names = [c.name for c in tables.quarantine.columns if c.name != "id"]
    if frame is None or _is_blank(frame):
        return {name: [] for name in names}
    _require(frame, REQUIRED_QUARANTINE_COLUMNS, "quarantine")
    frame = frame.reset_index(drop=True).assign(
        raw=frame["raw"].map(_as_json_text).to_numpy(), day=run.day, run_id=run.run_id
    )
    return {name: _column_values(frame, tables.quarantine.c[name], "quarantine") for name in names}


def carry_triage(values: Columns, triaged: dict[str, tuple]) -> Columns:
    """Keep analysts' triage (status, assignee, notes, updated_at) on findings raised again.

    ``triaged`` maps ``finding_id`` to its stored ``TRIAGE_COLUMNS`` values.
    """
    if not triaged:
        return values
    out = {name: list(column) for name, column in values.items()}
    for row, finding_id in enumerate(values["finding_id"]):
        kept = triaged.get(finding_id)
        if kept is not None:
            for name, value in zip(TRIAGE_COLUMNS, kept):
                out[name][row] = value
    return out


def _is_blank(frame: pd.DataFrame) -> bool:
    """An empty frame without columns: a day with nothing to write."""
    return len(frame) == 0 and len(frame.columns) == 0


def _require(frame: pd.DataFrame, required: tuple[str, ...], name: str) -> None:
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise MissingColumnError(name, missing, [str(c) for c in frame.columns])


def _column_values(frame: pd.DataFrame, column, frame_name: str) -> list:
    """One frame column as Python values fit for the table column's type (nulls -> None)."""
    series = frame[column.name]
    kind = column.type
    if isinstance(kind, JSONDocument):
        return series.tolist()
    nulls = series.isna().to_numpy()
    if isinstance(kind, UTCDateTime):
        converted = pd.to_datetime(series, utc=True, errors="coerce")
        _reject_unparsed(converted.isna().to_numpy() & ~nulls, frame_name, column.name, "is not a timestamp", series)
        instants = converted.array.to_pydatetime()
        return [None if null else value for value, null in zip(instants, converted.isna().to_numpy())]
    if isinstance(kind, _INTEGER_TYPES) or isinstance(kind, Double):
        converted = pd.to_numeric(series, errors="coerce")
        _reject_unparsed(converted.isna().to_numpy() & ~nulls, frame_name, column.name, "is not a number", series)
        cast = float if isinstance(kind, Double) else int
        return [None if null else cast(v) for v, null in zip(converted.tolist(), nulls)]
    if isinstance(kind, Boolean):
        return [None if null else bool(v) for v, null in zip(series.tolist(), nulls)]
    if isinstance(kind, Date):
        return [None if null else v for v, null in zip(series.tolist(), nulls)]
    return [None if null else str(v) for v, null in zip(series.tolist(), nulls)]


def _reject_unparsed(bad, frame_name: str, field: str, reason: str, series: pd.Series) -> None:
    if bad.any():
        row = int(bad.argmax())
        raise InvalidRowError(frame_name, row, field, f"{series.iloc[row]!r} {reason}")


def _reject_nulls(values: list, frame_name: str, field: str, reason: str) -> None:
    for row, value in enumerate(values):
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InvalidRowError(frame_name, row, field, reason)


def _checked_day(days: list | None, run_day: date, n: int) -> list[date]:
    """The run's day for every row; a row claiming another day is refused."""
    if days is not None:
        for row, value in enumerate(days):
            if value is not None and pd.Timestamp(value).date() != run_day:
                raise InvalidRowError(
                    "findings", row, "day", f"{value} differs from the run's day {run_day}; "
                    "write each day's findings with that day's run"
                )
    return [run_day] * n


def _check_given_ids(given: list | None, expected: list[str]) -> None:
    if given is None:
        return
    for row, (value, wanted) in enumerate(zip(given, expected)):
        if value is not None and value != wanted:
            raise InvalidRowError("findings", row, "finding_id", f"{value!r} should be {wanted!r} ('<day>:<event_id>')")


def _reject_duplicates(ids: list[str]) -> None:
    repeated = pd.Series(ids).duplicated(keep=False).to_numpy()
    if repeated.any():
        first = int(repeated.argmax())
        others = [i for i in repeated.nonzero()[0].tolist() if ids[i] == ids[first]]
        raise InvalidRowError(
            "findings", int(others[1]), "event_id",
            f"event {ids[first]!r} is also in row {first}; one finding per event and day",
        )


def _as_json_text(value) -> str | None:
    if value is None or (not isinstance(value, (dict, list)) and pd.isna(value)):
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


# --------------------------------------------------------------------------- frames out


def empty_frame(table: Table) -> pd.DataFrame:
    """A frame with the table's columns and their pandas dtypes, no rows."""
    return frame_from_rows(table, [])


def frame_from_rows(table: Table, rows: list) -> pd.DataFrame:
    """Rows of ``table`` (in column order) as a typed DataFrame.

    Timestamps are ``datetime64[us, UTC]``, text is ``string``, integers ``Int64``,
    booleans ``boolean``, days are ``datetime.date`` objects and JSON columns hold the
    decoded lists/dicts.
    """
    names = [column.name for column in table.columns]
    raw = pd.DataFrame([tuple(row) for row in rows], columns=names, dtype=object)
    return pd.DataFrame(
        {column.name: _typed(raw[column.name], column.type) for column in table.columns},
        index=pd.RangeIndex(len(raw)),
    )


def _typed(series: pd.Series, kind) -> pd.Series:
    if isinstance(kind, (JSONDocument, Date)):
        return series.astype(object)
    if isinstance(kind, UTCDateTime):
        return pd.to_datetime(series, utc=True).astype("datetime64[us, UTC]")
    if isinstance(kind, _INTEGER_TYPES):
        return series.astype("Int64")
    if isinstance(kind, Double):
        return series.astype("float64")
    if isinstance(kind, Boolean):
        return series.astype("boolean")
    return series.astype("string")
