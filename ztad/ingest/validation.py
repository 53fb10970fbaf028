"""Turn raw source rows into canonical events, quarantining every row that is not a valid event.

Input: a frame with the origin input columns (raw values of any dtype, usually text) plus
``source_row``, as a reader yields it. Output: the canonical events
(:data:`ztad.schema.CANONICAL_DTYPES`) and the quarantined rows
(:data:`QUARANTINE_COLUMNS`). Each input row ends up in exactly one of
the two, so nothing is lost silently.

Rules (all vectorised; only distinct values of a column are parsed where that is costly):

- ``timestamp``: ISO 8601, with or without a zone; a time without a zone is UTC. Converted
  to UTC. A date-only value (``2024-03-01``) is combined with ``access_time``
  (``HH:MM:SS``); a full timestamp wins over ``access_time``. Datetime-typed columns (e.g.
  Parquet) are taken as they are, naive ones as UTC.
- ``user_id``: must not be empty or blank.
- ``ip_address``: a valid IPv4 or IPv6 address in Python's :mod:`ipaddress` sense, stored in
  its normal form (lowercase, compressed IPv6); or missing. A missing address (empty, blank,
  or ``-``, the placeholder Windows and web servers write for "no address") is kept as null:
  NTLM credential validation (Windows 4776), local and interactive logons and some Okta
  events carry no client address, and a burst of them against a domain controller is exactly
  what brute-force detection must see. Downstream, a null address is no address at all:
  never a new IP, a new network, a place change or a spray source (the client computer, in
  ``device_id``, still identifies where a Windows attempt came from). Text that is present
  but not an IP address is quarantined.
- ``login_success``: ``0``/``1`` (numbers or text) or ``true``/``false`` in any case.
- ``bytes_transferred``: a whole number >= 0; an empty value or a missing column means 0.
- ``latitude`` / ``longitude``: optional; when given, numbers within [-90, 90] / [-180, 180].
- ``asn``: optional; when given, the autonomous system number of the address, a whole number
  in [0, 2**32), written as a number or as text with or without the ``AS`` prefix
  (``AS15169``). ``as_org`` (its organisation) is optional text.
- Text fields are stripped; blank text is missing. ``resource_accessed`` (or ``resource``)
  becomes ``resource``. Optional columns that are absent are missing (null).
- ``event_id``: the source's id when it has one, else a stable hash of the event's content
  (:mod:`ztad.ingest.ids`).

A row with several problems is quarantined once: ``field`` names the first failing field in
the order above and ``reason`` lists every problem, separated by ``"; "``. ``raw`` is the
original row as a JSON object (the row's columns after any column mapping, ``source_row``
aside).
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, date, datetime, time

import numpy as np
import pandas as pd

from ztad.ingest import ids
from ztad.schema import CANONICAL_COLUMNS, REQUIRED_INPUT_COLUMNS, conform

#: Optional free-text input columns copied to the canonical column of the same name.
_TEXT_COLUMNS = (
    "device_id", "location", "as_org", "department", "event_label", "scenario", "auth_method", "attack_id",
)

_IPV4_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_IPV4_OCTET}(?:\.{_IPV4_OCTET}){{3}}"
#: :data:`_IPV4` for Arrow's RE2, where Python's ``\d`` (any Unicode decimal digit) is ``\p{Nd}``.
_IPV4_ARROW = "^" + _IPV4.replace(r"\d", r"\p{Nd}") + "$"
#: :data:`_IPV4_ARROW` for text that is all ASCII (``[0-9]`` for ``\p{Nd}``): the same matches
#: there, compiled in microseconds instead of the better part of a millisecond.
_IPV4_ARROW_ASCII = "^" + _IPV4.replace(r"\d", "[0-9]") + "$"
_DATE_ONLY = r"\d{4}-\d{2}-\d{2}"
#: Fraction digits beyond the microsecond (the first group keeps the microseconds).
_SUB_MICROS = r"(\.\d{6})\d+"
_ISO_SHAPE = r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)?(?:[zZ]|[+-]\d\d:?\d\d)?"
#: Text meaning "no address" rather than a bad one.
_NO_ADDRESS = ("-",)
_MAX_ASN = 2.0**32
#: ``login_success`` text meaning a success, lowercased.
TRUE_TEXT = ("1", "true")
_FALSE_TEXT = ("0", "false")


#: Columns of every quarantine frame: where the record is (file or URL, 1-based row or line),
#: which field was wrong, why, and the original record as JSON.
QUARANTINE_COLUMNS: list[str] = ["source", "source_row", "field", "reason", "raw"]


#: What a NUL character becomes in quarantined text (PostgreSQL text cannot hold NUL).
NUL_SHOWN = "\u2400"


def quarantine_frame(source: str, rows, field, reasons, raw) -> pd.DataFrame:
    """Build quarantine records from aligned sequences (``field``/``reasons`` may be scalars).

    NUL characters (and JSON's ``\\u0000`` escape of them) are shown as :data:`NUL_SHOWN`:
    the record that held one is kept, and every database can store it.
    """
    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)

    def column(value) -> pd.Series:
        values = [value] * n if isinstance(value, str) else list(value)
        if any(isinstance(v, str) and ("\x00" in v or "\\u0000" in v) for v in values):  # few rows: quarantine
            values = [v.replace("\x00", NUL_SHOWN).replace("\\u0000", NUL_SHOWN) if isinstance(v, str) else v
                      for v in values]
        return pd.Series(values, dtype="string")

    return pd.DataFrame(
        {
            "source": column(source),
            "source_row": rows,
            "field": column(field),
            "reason": column(reasons),
            "raw": column(raw),
        }
    )


def empty_quarantine() -> pd.DataFrame:
    """A quarantine frame without records.

    A copy of one frame built once: the columns are copied only if a caller changes them
    (copy on write), and most validated batches have nothing to quarantine.
    """
    return _EMPTY_QUARANTINE.copy(deep=False)


_EMPTY_QUARANTINE = quarantine_frame("", [], "", [], [])


class MissingColumnError(ValueError):
    """The input lacks required column(s); the message names them and what was found.

    Attributes
    ----------
    missing, found
        Required columns that are absent, and the columns the input has.
    source
        The file or URL the columns were read from.
    """

    def __init__(self, missing: list[str], found: list[str], source: str) -> None:
        self.missing, self.found, self.source = list(missing), list(found), source
        super().__init__(
            f"{source}: required column(s) {self.missing} missing; found columns {self.found}. "
            "Rename them in the file, or map your names with SourceConfig.column_mapping, "
            f"e.g. {{'your_column': {self.missing[0]!r}}}."
        )


class _Problems:
    """Per-row problems found so far, in field order: a mask and a reason per field."""

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self.fields: list[tuple[str, np.ndarray, pd.Series]] = []

    def add(self, field: str, bad, reason: str | pd.Series, shown: pd.Series | None = None) -> None:
        """Record a problem of ``field`` for the rows where ``bad``.

        ``reason`` is a text for every bad row, followed by the row's value from ``shown``
        when given, or a Series of texts indexed like the bad rows. Texts are only built for
        bad rows, which keeps clean data cheap.
        """
        bad = np.asarray(bad, dtype=bool)
        if not bad.any():
            return
        index = self.index[bad]
        if isinstance(reason, pd.Series):
            texts = reason.astype("string")
        elif shown is None:
            texts = pd.Series(reason, index=index, dtype="string")
        else:
            texts = reason + " " + _quoted(shown[bad].astype("string"))
        self.fields.append((field, bad, texts))

    def rows(self) -> np.ndarray:
        """Mask of rows with at least one problem."""
        mask = np.zeros(len(self.index), dtype=bool)
        for _, bad, _ in self.fields:
            mask |= bad
        return mask

    def describe(self, bad_rows: np.ndarray) -> tuple[pd.Series, pd.Series]:
        """(first failing field, every reason joined by "; ") for the rows in ``bad_rows``."""
        subset = self.index[bad_rows]
        field = pd.Series(pd.NA, index=subset, dtype="string")
        reason = pd.Series(pd.NA, index=subset, dtype="string")
        for name, _, reasons in self.fields:
            these = reasons.reindex(subset)
            field = field.fillna(these.where(these.isna(), name))
            joined = reason + "; " + these
            reason = joined.fillna(reason).fillna(these)
        return field, reason


# --------------------------------------------------------------------------- entry point


def check_columns(frame: pd.DataFrame, source: str) -> None:
    """Raise :class:`MissingColumnError` unless every required input column is present."""
    missing = [c for c in REQUIRED_INPUT_COLUMNS if c not in frame.columns]
    if missing:
        found = [str(c) for c in frame.columns if c != "source_row"]
        raise MissingColumnError(missing, found, source)


def validate(frame: pd.DataFrame, source: str, day: date | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw rows into canonical events and quarantined rows.

    Parameters
    ----------
    frame
        Origin input columns (raw values) plus ``source_row``; without ``source_row`` the
        rows are numbered 1, 2, ... in frame order.
    source
        File name or URL, recorded with each quarantined row.
    day
        When given (a daily partition), rows whose UTC timestamp falls on another day are
        quarantined with reason ``timestamp outside partition day``: the partition promised
        that day only, and scoring them here would judge them against the wrong history.

    Returns
    -------
    events, quarantine
        Canonical events (``schema.conform``), in input order, and quarantined rows
        (:data:`QUARANTINE_COLUMNS`), with ``len(events) + len(quarantine) == len(frame)``.

    Raises
    ------
    MissingColumnError
        When a required column is absent.
    """
    check_columns(frame, source)
    if not _numbered_from_zero(frame.index):
        frame = frame.reset_index(drop=True)
    rows = _source_rows(frame)
    problems = _Problems(frame.index)
    columns = {
        "timestamp": _timestamps(frame, problems, day),
        "user_id": _user(frame, problems),
        "ip_address": _ip_addresses(frame, problems),
        "login_success": _login_success(frame, problems),
        "bytes_transferred": _bytes(frame, problems),
        "latitude": _coordinate(frame, "latitude", 90.0, problems),
        "longitude": _coordinate(frame, "longitude", 180.0, problems),
        "asn": _asn(frame, problems),
        "resource": _resource(frame),
        **{name: _given_text(frame, name) for name in _TEXT_COLUMNS},
        "source_row": rows,
        "event_id": _given_text(frame, "event_id"),
    }
    _nul_characters(columns, problems)
    bad = problems.rows()
    quarantine = _quarantine(frame, rows, bad, problems, source)
    # In canonical order, which :func:`conform` then keeps as it is.
    kept = {name: _kept(columns[name], bad) for name in CANONICAL_COLUMNS}
    events = conform(pd.DataFrame(kept, copy=False))  # a frame over the columns' arrays, not copied
    events["event_id"] = ids.fill_event_ids(events, kept)  # the source's id, else one from the content
    return events, quarantine


def _kept(values: pd.Series | None, bad: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The array of a checked column's rows that are not ``bad``; a text column the rows do
    not have (``None``) as missing text."""
    if values is None:
        return missing_text(len(bad) - int(bad.sum()))
    return values.array if not bad.any() else values.array[~bad]


def _numbered_from_zero(index: pd.Index) -> bool:
    """Whether ``index`` is what ``reset_index(drop=True)`` would make of it (0, 1, ... unnamed)."""
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None


#: Rows up to which text is searched for a NUL character in Python rather than by an Arrow
#: kernel, whose fixed cost per call outweighs a few values' search (a request's events).
FEW_ROWS = 64


def _nul_characters(columns: dict[str, pd.Series | None], problems: _Problems) -> None:
    """Quarantine rows whose text holds a NUL character: PostgreSQL rejects it in text, so
    one such row would fail the whole day's write."""
    for name, values in columns.items():
        if values is None or values.dtype != "string" or not _holds_nul(values):
            continue
        found = values.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
        problems.add(name, found, f"{name} contains a NUL character")


def _holds_nul(text: pd.Series) -> bool:
    """Whether some value of a text column holds a NUL character."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(text.array)
    if len(array) <= FEW_ROWS:
        return "\x00" in "".join(value for value in array.to_pylist() if value is not None)
    return pc.any(pc.match_substring(array, "\x00")).as_py()


def event_times(frame: pd.DataFrame) -> pd.Series:
    """The rows' timestamps in UTC as :func:`validate` reads them (NaT where unusable).

    Used to pick a day's rows out of a file holding many days before validating them.
    """
    frame = frame.reset_index(drop=True)
    return _timestamps(frame, _Problems(frame.index), None)


def _source_rows(frame: pd.DataFrame) -> pd.Series:
    if "source_row" in frame:
        return frame["source_row"].astype("int64")
    return pd.Series(np.arange(1, len(frame) + 1, dtype=np.int64), index=frame.index)


# --------------------------------------------------------------------------- text helpers


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped nullable text; blank text becomes missing.

    Done with Arrow kernels on the column's Arrow array (what ``Series.str.strip`` calls too):
    a few pandas steps instead cost far more, for a one-event request as for a day's file.
    """
    import pyarrow as pa

    text = values if values.dtype == "string" else values.astype("string")
    return _string_series(stripped_text(pa.array(text.array)), values.index)


def stripped_text(array):
    """An Arrow string array's values stripped, blank ones missing (what :func:`_text` makes of
    a column): in Python for a few values, whose Arrow kernels cost more than the work."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(array) <= FEW_ROWS:
        return pa.array(stripped(array.to_pylist()), array.type)
    trimmed = pc.utf8_trim_whitespace(array)
    blank = pc.equal(pc.utf8_length(trimmed), 0)
    return pc.if_else(blank, pa.scalar(None, trimmed.type), trimmed)


def stripped(values: list) -> list:
    """Text values stripped, blank ones (and ``None``) as ``None``: :func:`_text` of a few rows
    in Python. ``str.strip`` removes the very characters Arrow's ``utf8_trim_whitespace`` does
    (Unicode white space, ``\\x1c``-``\\x1f`` and ``\\x85`` included)."""
    return [None if value is None else (value.strip() or None) for value in values]


def _string_series(array, index: pd.Index) -> pd.Series:
    """A text Series over an Arrow string array, without copying it."""
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index, copy=False)


def _given_text(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """:func:`_text` of a column the rows have, or ``None`` for one they do not: a column of
    missing text is only made for the events (:func:`_kept`), as an array, not a Series."""
    return _text(frame[name]) if name in frame else None


def _optional_text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(missing_text(len(frame)), index=frame.index, copy=False)
    return _text(frame[name])


def missing_text(rows: int) -> pd.api.extensions.ExtensionArray:
    """A text array of ``rows`` missing values, for a field the rows do not have."""
    import pyarrow as pa

    return pd.arrays.ArrowStringArray(pa.nulls(rows, pa.large_string()))


def _quoted(text: pd.Series) -> pd.Series:
    """Text in single quotes for reasons; a missing value is shown as empty."""
    return "'" + text.astype("string").fillna("") + "'"


# --------------------------------------------------------------------------- fields


def _timestamps(frame: pd.DataFrame, problems: _Problems, day: date | None) -> pd.Series:
    raw = frame["timestamp"]
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        values = _as_utc(raw)
        problems.add("timestamp", values.isna(), "missing timestamp")
        beyond = _beyond_years(values)
        if beyond.any():
            values = values.mask(beyond)
            problems.add("timestamp", beyond, "timestamp out of range (years 1 to 9999 in UTC)", raw)
    else:
        values = _parse_text_timestamps(frame, problems)
    if day is not None:
        start = pd.Timestamp(datetime.combine(day, time(), tzinfo=UTC))
        outside = (values.notna() & ((values < start) | (values >= start + pd.Timedelta(days=1)))).to_numpy()
        problems.add("timestamp", outside, f"timestamp outside partition day {day.isoformat()}:", raw)
    return values


def _as_utc(values: pd.Series) -> pd.Series:
    if getattr(values.dtype, "tz", None) is None:
        values = values.dt.tz_localize("UTC")
    return values.dt.tz_convert("UTC").astype("datetime64[us, UTC]")


#: Microseconds since the epoch of the first and past the last instant of years 1 to 9999.
_FIRST_MICROS = -62_135_596_800_000_000
_PAST_LAST_MICROS = 253_402_300_800_000_000


def _beyond_years(values: pd.Series) -> np.ndarray:
    """True where a UTC time falls outside years 1 to 9999, which pandas holds but neither Python
    nor the databases can (a time of year 1 with a positive offset, read as typed)."""
    times = values.to_numpy("datetime64[us]")
    return ~np.isnat(times) & beyond_years(times.view(np.int64))


def beyond_years(micros: np.ndarray) -> np.ndarray:
    """True where microseconds since the epoch (UTC) fall outside years 1 to 9999."""
    return (micros < _FIRST_MICROS) | (micros >= _PAST_LAST_MICROS)


def _parse_text_timestamps(frame: pd.DataFrame, problems: _Problems) -> pd.Series:
    text = _text(frame["timestamp"])
    date_only = text.str.fullmatch(_DATE_ONLY).fillna(False).to_numpy(dtype=bool)
    clock = _optional_text(frame, "access_time")
    combined = text.where(~date_only, text + "T" + clock) if date_only.any() else text
    values = pd.Series(_parse_iso(combined), index=frame.index)
    years = values.dt.year
    beyond = ((years < 1) | (years > 9999)).fillna(False).to_numpy(dtype=bool)
    if beyond.any():  # pandas holds year 0, which neither Python nor the databases can
        values[beyond] = pd.NaT
    bad = values.isna().to_numpy()
    if bad.any():
        problems.add("timestamp", bad, _timestamp_reasons(text, clock, date_only, bad))
    return values


def _parse_iso(values: pd.Series) -> pd.Series:
    """ISO 8601 text to UTC microseconds, NaT where unusable.

    Digits beyond the microsecond are cut first: canonical times hold microseconds, and one
    nanosecond value would otherwise make pandas read the whole column in nanoseconds, whose
    range (1677-2262) turns every valid time outside it into NaT.
    """
    if values.str.contains(r"\.\d{7}", regex=True).fillna(False).any():
        values = values.str.replace(_SUB_MICROS, r"\1", regex=True)
    parsed = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    return parsed.astype("datetime64[us, UTC]")


def _out_of_range(text: pd.Series) -> np.ndarray:
    """True where unparsed text is a well-formed ISO 8601 time nonetheless (a year before 1
    or after 9999 once its offset is applied, or a calendar day pandas cannot hold)."""
    shaped = text.str.fullmatch(_ISO_SHAPE).fillna(False).to_numpy(dtype=bool)
    return shaped & np.array([_is_iso(value) if ok else False for value, ok in zip(text.tolist(), shaped)])


def _is_iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _timestamp_reasons(
    text: pd.Series, clock: pd.Series, date_only: np.ndarray, bad: np.ndarray
) -> pd.Series:
    """Why each bad row's time is unusable (built for the bad rows only)."""
    text, clock, date_only = text[bad], clock[bad], date_only[bad]
    no_text, no_clock = text.isna().to_numpy(), clock.isna().to_numpy()
    reasons = pd.Series("unparseable timestamp " + _quoted(text), dtype="string")
    out_of_range = ~no_text & ~date_only & _out_of_range(text.fillna(""))
    reasons[out_of_range] = "timestamp out of range (years 1 to 9999 in UTC) " + _quoted(text[out_of_range])
    reasons[no_text] = "missing timestamp"
    no_time = date_only & no_clock
    reasons[no_time] = "date-only timestamp " + _quoted(text[no_time]) + " and no access_time"
    with_clock = date_only & ~no_clock
    reasons[with_clock] = (
        "unparseable access_time " + _quoted(clock[with_clock]) + " for date " + _quoted(text[with_clock])
    )
    return reasons


def _user(frame: pd.DataFrame, problems: _Problems) -> pd.Series:
    users = _text(frame["user_id"])
    problems.add("user_id", users.isna(), "empty user_id")
    return users


def _ip_addresses(frame: pd.DataFrame, problems: _Problems) -> pd.Series:
    """Normal-form addresses; null where there is none (kept), quarantined where not an IP.

    Each distinct address is normalised once, with Arrow kernels (a request of one event
    pays little, a day's file repeats its addresses a lot).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _text(frame["ip_address"])
    array = pa.array(text.array)
    encoded = pc.dictionary_encode(array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array)
    distinct, codes = encoded.dictionary, encoded.indices
    values = _normal_ips(distinct).take(codes)
    # Blank, missing or a placeholder: an event without a client address, kept.
    missing = pc.fill_null(pc.is_in(distinct, pa.array(_NO_ADDRESS, distinct.type)).take(codes), True)
    invalid = pc.and_(pc.is_null(values), pc.invert(missing)).to_numpy(zero_copy_only=False)
    problems.add("ip_address", invalid, "invalid IP address", text)
    return _string_series(values, frame.index)


def _normal_ips(values):
    """The normal form of each distinct address (an Arrow string array), null where it is not
    an IP address."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Dotted-quad IPv4 without leading zeros is already normal; IPv6 and garbage: few values.
    ascii_only = pc.all(pc.string_is_ascii(values)).as_py() is not False
    others = pc.invert(pc.match_substring_regex(values, _IPV4_ARROW_ASCII if ascii_only else _IPV4_ARROW))
    if not pc.any(others).as_py():
        return values
    normal = [_normal_ip(v) for v in values.filter(others).to_pylist()]
    return pc.replace_with_mask(values, others, pa.array(normal, values.type))


def _normal_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _login_success(frame: pd.DataFrame, problems: _Problems) -> pd.Series:
    raw = frame["login_success"]
    if isinstance(raw.dtype, np.dtype) and raw.dtype.kind == "b":  # NumPy flags: none missing
        return pd.Series(raw.to_numpy(copy=True), index=frame.index)
    if pd.api.types.is_bool_dtype(raw.dtype):
        flags = raw.astype("boolean")
        success, bad = flags.fillna(False).to_numpy(dtype=bool), flags.isna().to_numpy()
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        numbers = pd.to_numeric(raw).astype("Float64")
        success = (numbers == 1).fillna(False).to_numpy(dtype=bool)
        bad = ~(numbers.isin([0, 1]).fillna(False).to_numpy(dtype=bool))
    else:
        text = _text(raw).str.lower()
        success = text.isin(TRUE_TEXT).fillna(False).to_numpy(dtype=bool)
        bad = ~(success | text.isin(_FALSE_TEXT).fillna(False).to_numpy(dtype=bool))
    problems.add("login_success", bad, "login_success must be 0/1 or true/false, got", raw)
    return pd.Series(success, index=frame.index)


def _numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64 with NaN where missing, mask of values present but not numbers).

    Blank text is missing. Text is converted by Arrow when every value is a clean number,
    else by pandas (slower, but only for files that hold bad values).
    """
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.zeros(len(raw), dtype=bool)
    text = _text(raw)
    values = _arrow_numbers(text)
    if values is None:
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return values, np.isnan(values) & text.notna().to_numpy()


def _arrow_numbers(text: pd.Series) -> np.ndarray | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(text.array)
    for target in (pa.int64(), pa.float64()):
        try:
            return pc.cast(array, target).to_numpy(zero_copy_only=False).astype(np.float64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None


def _bytes(frame: pd.DataFrame, problems: _Problems) -> pd.Series:
    if "bytes_transferred" not in frame:
        return pd.Series(0, index=frame.index, dtype="int64")
    raw = frame["bytes_transferred"]
    values, not_number = _numbers(raw)
    values = np.where(np.isnan(values) & ~not_number, 0.0, values)  # missing: nothing moved
    problems.add("bytes_transferred", not_number, "bytes_transferred is not a number:", raw)
    with np.errstate(invalid="ignore"):
        negative = ~not_number & (values < 0)
        too_big = ~not_number & ~negative & ~(values < 2.0**63)  # also infinity
        fractional = ~not_number & ~negative & ~too_big & (values % 1 != 0)
    problems.add("bytes_transferred", negative, "negative bytes_transferred:", raw)
    problems.add("bytes_transferred", too_big, "bytes_transferred out of range:", raw)
    problems.add("bytes_transferred", fractional, "bytes_transferred is not a whole number:", raw)
    usable = ~(not_number | negative | too_big | fractional)
    return pd.Series(np.where(usable, values, 0.0).astype(np.int64), index=frame.index)


def _coordinate(frame: pd.DataFrame, name: str, limit: float, problems: _Problems) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    values, not_number = _numbers(frame[name])
    with np.errstate(invalid="ignore"):
        bad = not_number | (np.abs(values) > limit)
    problems.add(name, bad, f"{name} must be a number in [-{limit:g}, {limit:g}], got", frame[name])
    return pd.Series(np.where(bad, np.nan, values), index=frame.index)


def _asn(frame: pd.DataFrame, problems: _Problems) -> pd.Series:
    """Autonomous system numbers as Int64 (missing where absent or unusable)."""
    if "asn" not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="Int64")
    raw = frame["asn"]
    given = raw
    if not pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype):
        given = _text(raw).str.replace(r"^[Aa][Ss]\s*", "", regex=True)
    values, not_number = _numbers(given)
    with np.errstate(invalid="ignore"):
        bad = not_number | ~np.isnan(values) & ((values < 0) | (values >= _MAX_ASN) | (values % 1 != 0))
    problems.add("asn", bad, "asn must be a whole number in [0, 2**32) or 'AS<number>', got", raw)
    usable = np.where(bad, np.nan, values)
    return pd.Series(pd.array(usable, dtype="Float64"), index=frame.index).astype("Int64")


def _resource(frame: pd.DataFrame) -> pd.Series | None:
    name = "resource_accessed" if "resource_accessed" in frame else "resource"
    return _given_text(frame, name)


# --------------------------------------------------------------------------- quarantine


def _quarantine(
    frame: pd.DataFrame, rows: pd.Series, bad: np.ndarray, problems: _Problems, source: str
) -> pd.DataFrame:
    if not bad.any():
        return empty_quarantine()
    field, reason = problems.describe(bad)
    original = frame.loc[bad, [c for c in frame.columns if c != "source_row"]]
    out = quarantine_frame(source, rows[bad].to_numpy(), field.tolist(), reason.tolist(), _row_json(original))
    return out[QUARANTINE_COLUMNS]


def _row_json(rows: pd.DataFrame) -> list[str]:
    """Each row as a JSON object of its original values (missing values are null)."""
    if rows.columns.empty:
        return ["{}"] * len(rows)
    text = rows.to_json(orient="records", lines=True, date_format="iso", default_handler=str)
    lines = text.rstrip("\n").split("\n")
    if len(lines) == len(rows):
        return lines
    records = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
    return [json.dumps(record, default=str, ensure_ascii=False) for record in records]

