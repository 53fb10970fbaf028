"""The adapters' output: columns from decoded values, times, ids, quarantine records, batches.

Values decoded from a log arrive as Python lists (one per field); they become Arrow arrays
once (:func:`values_array`), and everything after that is vectorised Arrow or pandas:
:func:`text` and :func:`numbers` give every source the same rules for blanks, ``-`` and
numbers written as text, and :func:`iso_times` reads ISO 8601 times in C, falling back to
pandas only for the unusual spellings. Work that is row by row in pandas runs once per
distinct value (:func:`per_distinct`), since log fields repeat a lot.
"""

from __future__ import annotations

import binascii
import json
import re
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ztad.ingest.readers import RawBatch
from ztad.ingest.validation import (
    QUARANTINE_COLUMNS,
    empty_quarantine,
    quarantine_frame,
)

#: Quarantined raw text is cut to this many characters so that one monster line cannot
#: bloat the quarantine table.
MAX_RAW_CHARS = 8192

_NO_VALUE = pa.array(["", "-"])
_TEXT = pa.string()


# --------------------------------------------------------------------------- quarantine


def quarantine_records(source: str, rows, field_name, reasons, raw, raw_is_json: bool = False) -> pd.DataFrame:
    """Quarantine records (:data:`QUARANTINE_COLUMNS`) with ``raw`` stored as valid JSON.

    ``raw`` holds each record's original text (bytes or str). Text that is already a JSON
    document (a record that decoded) is kept as it is; other text (a log line, JSON that did
    not parse) is stored as a JSON string. Text longer than :data:`MAX_RAW_CHARS` is cut and
    stored as a JSON string, so that one monster line cannot bloat the quarantine table.
    """
    texts = [_as_text(value) for value in raw]
    keep = [raw_is_json and len(text) <= MAX_RAW_CHARS for text in texts]
    texts = [text if kept else json.dumps(text[:MAX_RAW_CHARS], ensure_ascii=False) for text, kept in zip(texts, keep)]
    return quarantine_frame(source, rows, field_name, reasons, texts)[QUARANTINE_COLUMNS]


def _as_text(value) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace").rstrip("\r\n")
    return str(value)


@lru_cache(maxsize=1)
def no_quarantine() -> pd.DataFrame:
    """An empty quarantine frame, built once and shared: never change it in place."""
    return empty_quarantine()


def concat_quarantine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate quarantine frames, ordered by source row."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return no_quarantine().copy(deep=False)
    return pd.concat(parts, ignore_index=True).sort_values("source_row", kind="stable", ignore_index=True)


def batch(frame: pd.DataFrame, quarantine: pd.DataFrame, skipped=None) -> RawBatch:
    """Wrap one block's parsed frame, quarantine and skipped rows as a :class:`RawBatch`.

    ``skipped`` holds the ``source_row`` of each record that carries no authentication attempt.
    """
    rows = np.zeros(0, dtype=np.int64) if skipped is None else np.asarray(skipped, dtype=np.int64)
    return RawBatch(frame.reset_index(drop=True), quarantine.reset_index(drop=True), rows)


# --------------------------------------------------------------------------- decoded values


def values_array(values: list) -> pa.Array:
    """Decoded JSON scalars as one Arrow array, typed by what they hold.

    Strings give a string array, whole numbers int64, numbers double, booleans bool, and
    only missing values a null array. Values of mixed kinds (a number among strings, as
    shippers differ) become their text, spelled as Python writes them.
    """
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return _python_text(values)


def concat_values(parts: list[pa.Array]) -> pa.Array:
    """Join :func:`values_array` results of consecutive pieces into one (chunked) array.

    Pieces of one kind (or missing) are joined as they are; whole numbers and numbers become
    numbers; any other mixture becomes text, as :func:`values_array` does within a piece.
    The pieces are not copied: Arrow functions work on them in turn.
    """
    if len(parts) == 1:
        return parts[0]
    kinds = {part.type for part in parts} - {pa.null()}
    if not kinds:
        return pa.nulls(sum(map(len, parts)))
    if len(kinds) == 1:
        kind = kinds.pop()
    elif kinds <= {pa.int64(), pa.float64()}:
        kind = pa.float64()
    else:
        parts, kind = [_typed_text(part) for part in parts], _TEXT
    return pa.chunked_array([part if part.type == kind else part.cast(kind) for part in parts], type=kind)


def whole(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (a chunked array's pieces joined)."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _python_text(values) -> pa.Array:
    """Values as text the way Python writes them (``1.0``, ``True``); None stays missing."""
    return pa.array(pd.Series(values, dtype=object).astype("string").array, type=_TEXT)


def _typed_text(values: pa.Array) -> pa.Array:
    """An array from :func:`values_array` as text, spelled as :func:`_python_text` does."""
    if pa.types.is_string(values.type) or pa.types.is_integer(values.type) or values.type == pa.null():
        return values.cast(_TEXT)
    return _python_text(values.to_pylist())


def text(values) -> pa.Array:
    """Values as trimmed text; blanks and "-" (the usual "none" of Windows logs) are missing.

    ``values`` is an Arrow array from :func:`values_array` (or a list of decoded values).
    """
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = values_array(values)
    if not pa.types.is_string(values.type):
        values = _typed_text(values)
    trimmed = pc.utf8_trim_whitespace(values)
    blank = pc.is_in(trimmed, value_set=_NO_VALUE)
    if not pc.any(blank).as_py():  # usually none: the copy of if_else is spared
        return trimmed
    return pc.if_else(blank, pa.scalar(None, _TEXT), trimmed)


def text_column(values, index=None) -> pd.Series:
    """:func:`text` as a nullable pandas string column."""
    return string_series(text(values), index)


def string_series(values: pa.Array, index=None) -> pd.Series:
    """An Arrow string array as a nullable pandas string column (no copy)."""
    return pd.Series(string_array(values), index=index)


def string_array(values: pa.Array) -> pd.arrays.ArrowStringArray:
    """An Arrow string array as a pandas string array (no copy), to build a frame from."""
    return pd.arrays.ArrowStringArray(values)


def numbers(values: pa.Array) -> pa.Array:
    """Values as numbers (int64 or double); text that is no number is missing.

    Numbers written as text count too (``"20712"``, ``" 51.5 "``), read as pandas'
    ``to_numeric`` reads them: plain whole numbers by Arrow, other spellings by pandas.
    """
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return values
    if values.type == pa.null():
        return values.cast(pa.float64())
    values = text(values)
    first = _first_valid(values)
    if first is not None and re.fullmatch(r"-?\d{1,18}", first):
        try:  # a failing cast is slow: tried only when the first value is a whole number
            return values.cast(pa.int64())
        except pa.ArrowInvalid:
            pass
    whole = mask(pc.match_substring_regex(values, r"^-?\d{1,18}$"))
    if not (mask(pc.is_valid(values)) & ~whole).any():
        return pc.if_else(pa.array(whole), values, pa.scalar(None, _TEXT)).cast(pa.int64())
    parsed = pd.to_numeric(string_series(values), errors="coerce").astype("float64")
    return pa.array(parsed.to_numpy(), from_pandas=True)


def integers(values: pa.Array) -> pa.Array:
    """:func:`numbers` as int64; fractional values are missing."""
    number = numbers(values)
    if pa.types.is_floating(number.type):
        whole = pc.and_(pc.equal(pc.floor(number), number), pc.less(pc.abs(number), 2.0**63))
        number = pc.if_else(whole, number, pa.scalar(None, number.type))
    return number.cast(pa.int64())


def float_column(values: pa.Array) -> np.ndarray:
    """:func:`numbers` as float64, NaN where missing."""
    return numbers(values).cast(pa.float64()).to_numpy(zero_copy_only=False)


def int_column(values: pa.Array) -> pd.Series:
    """:func:`integers` as a nullable ``Int64`` column."""
    number = integers(values)
    missing = number.is_null().to_numpy(zero_copy_only=False)
    return pd.Series(pd.arrays.IntegerArray(pc.fill_null(number, 0).to_numpy(), missing))


def coalesce(*arrays) -> pa.Array:
    """The first non-missing value of each row (arrays or scalars)."""
    return pc.coalesce(*arrays)


def lower(values: pa.Array) -> pa.Array:
    """Lower-case text."""
    return pc.utf8_lower(values)


def upper(values: pa.Array) -> pa.Array:
    """Upper-case text."""
    return pc.utf8_upper(values)


def os_and_browser(os: pa.Array, browser: pa.Array) -> pa.Array:
    """``"<os> / <browser>"``, a coarse device stand-in when a log names no device.

    Operating system and browser family change rarely for one person's device, unlike the
    raw user agent string, which changes with every browser update. Missing when neither
    is known.
    """
    both = pc.binary_join_element_wise(pc.coalesce(os, "?"), pc.coalesce(browser, "?"), " / ")
    known = pc.or_(pc.is_valid(os), pc.is_valid(browser))
    return pc.if_else(known, both, pa.scalar(None, _TEXT))


def place(city: pa.Array, country: pa.Array) -> pa.Array:
    """``"City, Country"``; just the country when the city is unknown; missing when both are.

    The rule of :func:`ztad.ingest.geoip.format_place`, in Arrow, for columns already cleaned by
    :func:`text` (trimmed, blanks missing).
    """
    return pc.coalesce(pc.binary_join_element_wise(city, country, ", "), country)


def regex_replace(values: pa.Array, pattern: str, replacement: str, where: np.ndarray | None = None) -> pa.Array:
    """RE2 substitution of every match; only in the rows ``where`` is true, when given.

    ``where`` spares the regular expression the rows a cheaper test already rules out.
    """
    if where is None:
        return pc.replace_substring_regex(values, pattern=pattern, replacement=replacement)
    if not where.any():
        return values
    chosen = pa.array(where)
    replaced = pc.replace_substring_regex(values.filter(chosen), pattern=pattern, replacement=replacement)
    return pc.replace_with_mask(whole(values), chosen, whole(replaced))


def regex_matches(values: pa.Array, pattern: str, few: bool = False) -> np.ndarray:
    """True where the RE2 ``pattern`` is found; False for missing values.

    With ``few`` (a column of few distinct values, such as event types), the expression
    runs once per distinct value.
    """
    if few:
        encoded = whole(values).dictionary_encode()
        found = pc.match_substring_regex(encoded.dictionary, pattern=pattern)
        return mask(found.take(encoded.indices))
    return mask(pc.match_substring_regex(values, pattern=pattern))


def per_distinct(function, *columns: pa.Array) -> pd.Series:
    """``function(*columns)`` computed once per distinct row of the text ``columns``.

    ``function`` works row by row on pandas string columns (so its result for a row depends
    on that row only); values repeat a lot in logs (places, devices), so this spares most
    of its work. Returns its result for every row.
    """
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    dictionaries, radices = [], []
    for column in columns:
        encoded = whole(column).dictionary_encode()
        radix = len(encoded.dictionary) + 1  # 0 stands for a missing value
        codes = codes * radix + pc.fill_null(encoded.indices.cast(pa.int64()), -1).to_numpy() + 1
        dictionaries.append(encoded.dictionary)
        radices.append(radix)
    labels, distinct = pd.factorize(codes)
    arguments = []
    for dictionary, radix in zip(reversed(dictionaries), reversed(radices)):
        index = distinct % radix - 1
        distinct = distinct // radix
        arguments.append(string_series(dictionary.take(pa.array(index, mask=index < 0))))
    result = function(*reversed(arguments))
    return pd.Series(result.array.take(labels))


def contains(values: pa.Array, *texts: str) -> np.ndarray:
    """True where the value contains any of ``texts``; False for missing values."""
    found = np.zeros(len(values), dtype=bool)
    for piece in texts:
        found |= mask(pc.match_substring(values, piece))
    return found


def starts_with(values: pa.Array, *prefixes: str) -> np.ndarray:
    """True where the value starts with any of ``prefixes``; False for missing values."""
    found = np.zeros(len(values), dtype=bool)
    for prefix in prefixes:
        found |= mask(pc.starts_with(values, prefix))
    return found


def mask(flags) -> np.ndarray:
    """An Arrow boolean array as a numpy mask; missing counts as False."""
    return pc.fill_null(flags, False).to_numpy(zero_copy_only=False)


def is_in(values: pa.Array, choices) -> np.ndarray:
    """True where the value is one of ``choices``; False for missing values."""
    return mask(pc.is_in(values, value_set=pa.array(list(choices), type=values.type)))


# --------------------------------------------------------------------------- times

#: ISO 8601 spellings that Arrow reads exactly as pandas does (at most microseconds).
_PLAIN_ISO = r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:?\d\d)?$"
_OFFSET = r"(?:[zZ]|[+-]\d\d:?\d\d) *$"


def iso_times(values: pa.Array, timezone: str) -> pd.Series:
    """ISO 8601 text to UTC, as :func:`parse_times` reads it, without Python per value.

    Times without an offset are local to ``timezone``: a wall-clock time that occurs twice
    is taken in summer time, one skipped when clocks go forward is shifted forward. Usual
    spellings are read by Arrow; others (and days that do not exist) go to
    :func:`parse_times`.
    """
    values = text(values)
    micros = _whole_cast(values, timezone)
    if micros is None:
        plain = mask(pc.match_substring_regex(values, _PLAIN_ISO))
        zoned = regex_matches(values, _OFFSET)
        micros = np.full(len(values), _NAT, dtype=np.int64)
        for rows, zone in ((plain & zoned, None), (plain & ~zoned, timezone)):
            if rows.any():
                micros[rows] = _arrow_times(values.filter(pa.array(rows)), zone)
        rest = ~plain & mask(pc.is_valid(values))
        if rest.any():
            micros[rest] = _micros(parse_times(string_series(values.filter(pa.array(rest))), timezone))
    return pd.Series(micros.view("datetime64[us]")).dt.tz_localize("UTC")


def _whole_cast(values: pa.Array, timezone: str) -> np.ndarray | None:
    """Microseconds of every value when all carry an offset, or none does; else None.

    Arrow's ISO 8601 parser refuses a value without offset as an instant and one with an
    offset as a wall-clock time, so the cast succeeds exactly when the values agree with
    the first one (and all are plain spellings). A failing cast is slow, so only the cast
    the first value calls for is tried.
    """
    first = _first_valid(values)
    if first is None:
        return np.full(len(values), _NAT, dtype=np.int64)
    try:
        return _arrow_times(values, None if re.search(_OFFSET, first) else timezone, fallback=False)
    except pa.ArrowInvalid:
        return None


def _first_valid(values: pa.Array) -> str | None:
    """The first value that is not missing, or None."""
    if values.null_count == 0:
        return values[0].as_py() if len(values) else None
    valid = values.drop_null()
    return valid[0].as_py() if len(valid) else None


_NAT = np.iinfo(np.int64).min


def _arrow_times(values: pa.Array, zone: str | None, fallback: bool = True) -> np.ndarray:
    """Microseconds since the epoch of plain ISO times (``zone`` for those without offset)."""
    try:
        if zone is None:
            stamps = values.cast(pa.timestamp("us", "UTC"))
        else:
            stamps = pc.assume_timezone(
                values.cast(pa.timestamp("us")), timezone=zone, ambiguous="earliest", nonexistent="latest"
            )
    except pa.ArrowInvalid:  # e.g. 31 February: pandas decides, as for every odd value
        if not fallback:
            raise
        return _micros(parse_times(string_series(values), zone or "UTC"))
    return pc.fill_null(stamps.cast(pa.int64()), _NAT).to_numpy()


def _micros(times: pd.Series) -> np.ndarray:
    """UTC times as microseconds since the epoch (NaT as the smallest int64)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(np.int64)


def parse_times(text: pd.Series, timezone: str, ambiguous_dst=None) -> pd.Series:
    """Parse ISO 8601 timestamps to UTC; those without an offset are local to ``timezone``.

    ``ambiguous_dst`` (bool array, True = summer time) settles wall-clock times that occur
    twice when clocks go back; by default the first (summer-time) occurrence is taken.
    Unparseable values become NaT.
    """
    if text.str.contains(r"\.\d{7}", regex=True).fillna(False).any():  # beyond microseconds: cut
        text = text.str.replace(r"(\.\d{6})\d+", r"\1", regex=True)
    has_offset = pd.Series(_series_matches(text, _OFFSET), index=text.index)
    out = pd.to_datetime(text.where(has_offset), format="ISO8601", utc=True, errors="coerce")
    out = out.astype("datetime64[us, UTC]")
    naive = ~has_offset & text.notna()
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        hint = None if ambiguous_dst is None else np.asarray(ambiguous_dst)[naive.to_numpy()]
        out[naive] = localize(local, timezone, hint).astype("datetime64[us, UTC]")
    return out


def _series_matches(series: pd.Series, pattern: str) -> np.ndarray:
    return regex_matches(pa.array(series.astype("string").array, type=_TEXT), pattern)


def localize(naive: pd.Series, timezone: str, ambiguous_dst=None) -> pd.Series:
    """Attach ``timezone`` to naive wall-clock times and convert them to UTC.

    Times that never existed (the hour skipped when clocks go forward) are shifted forward;
    times that occur twice follow ``ambiguous_dst`` (default: summer time).
    """
    if timezone == "UTC":
        return naive.dt.tz_localize("UTC")
    hint = np.ones(len(naive), dtype=bool) if ambiguous_dst is None else np.asarray(ambiguous_dst, dtype=bool)
    local = naive.dt.tz_localize(timezone, ambiguous=hint, nonexistent="shift_forward")
    return local.dt.tz_convert("UTC")


# --------------------------------------------------------------------------- identifiers


def stable_ids(prefix: str, parts: pd.DataFrame) -> pd.Series:
    """Stable hex identifiers hashed from ``parts`` (vectorised, fixed key)."""
    hashed = pd.util.hash_pandas_object(parts, index=False, hash_key="ztad-sources-v01").to_numpy()
    hex_digits = np.frombuffer(binascii.hexlify(hashed.astype(">u8").tobytes()), dtype="S16")
    return prefix + pd.Series(hex_digits.astype("U16"), index=parts.index, dtype="string")
