"""Event identity: stable content hashes, event ids, and exact duplicates.

An event without an id from its source gets one hashed from its canonical content, so the
same event has the same id in every run, on every machine, however the file was chunked.
Every value is first put in a plain, dtype-independent form (text, integer microseconds,
0/1, float), so the id does not depend on how a column happened to be stored. Text is hashed
with keyed SipHash-2-4 of its UTF-8 bytes (``pd.util.hash_array``), numbers by their 64-bit
pattern; the values of a row are then folded together. This is done twice with two fixed
keys, giving 128 bits written as 32 lowercase hex characters: collisions are negligible even
over billions of events. A test pins known ids, so any change in the result is noticed.

The evaluation labels (``event_label``, ``scenario``, ``attack_id``) annotate an event; they are not part of
it. They are folded in as missing values whatever they hold, so relabelling a data set keeps
every event id (and so finding ids, triage and allowlist entries), and the ids of unlabelled
logs, which production logs are, stay those that earlier releases derived.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ztad.schema import CANONICAL_COLUMNS, CANONICAL_DTYPES, LABEL_COLUMNS, METHOD_COLUMNS, NETWORK_COLUMNS

#: Label columns added to the schema after event ids were first derived; they are left out of
#: the content altogether (not even folded in as missing), so the ids stay those of earlier
#: releases.
LATER_LABEL_COLUMNS: tuple[str, ...] = ("attack_id",)

#: Canonical fields that define an event's content (everything but its id, its file position,
#: the network looked up for its address and the authentication method, which came later).
CONTENT_COLUMNS: tuple[str, ...] = tuple(
    c for c in CANONICAL_COLUMNS
    if c not in ("event_id", "source_row", *NETWORK_COLUMNS, *METHOD_COLUMNS, *LATER_LABEL_COLUMNS)
)

#: Canonical fields that tell two events apart: the content without the evaluation labels.
IDENTITY_COLUMNS: tuple[str, ...] = tuple(c for c in CONTENT_COLUMNS if c not in LABEL_COLUMNS)

#: Two fixed 16-byte SipHash keys; changing them changes every derived event id.
_KEYS = ("ztad-event-id-k1", "ztad-event-id-k2")
_SEEDS = (np.uint64(0x6A09E667F3BCC908), np.uint64(0xBB67AE8584CAA73B))
#: The seeds as a column: a row's two hashes are worked out side by side, one array call for both.
_SEED_COLUMN = np.array(_SEEDS, dtype=np.uint64)[:, None]
_FOLD = np.uint64(0x100000001B3)  # an odd 64-bit multiplier (FNV prime)
_UTC_MICROS = pd.DatetimeTZDtype("us", "UTC")
_TEXT = pd.StringDtype()
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
#: Per key (a row each), the hash of a missing text value (hashed as "").
_MISSING_TEXT = np.array(
    [pd.util.hash_array(np.array([""], dtype=object), hash_key=key, categorize=False) for key in _KEYS]
)


def _plain(values, dtype: str):
    """A column (a Series or a pandas array) in a plain form whose hash depends only on the
    canonical value: text as it is held (a text Series or array), anything else as a NumPy
    array of 64-bit values (or bytes for flags).

    Text stays as it is: :func:`_text_hashes` reads a missing value as "" (canonical text is
    never empty, blanks are missing, so "" safely stands for missing).
    """
    if dtype == "string":
        return values if values.dtype == "string" else values.astype("string")
    if dtype.startswith("datetime64"):
        times = values if values.dtype == _UTC_MICROS else values.astype(_UTC_MICROS)
        return times.to_numpy(dtype="datetime64[us]").view(np.int64)
    if dtype == "bool":
        return values.to_numpy(dtype=np.uint8)
    if dtype == "float64":
        return _one_nan(values.to_numpy(dtype=np.float64, na_value=np.nan))
    return values.to_numpy(dtype=np.int64)


def _one_nan(floats: np.ndarray) -> np.ndarray:
    """Floats with every NaN as one bit pattern, so that a missing number hashes alike."""
    return np.where(np.isnan(floats), np.nan, floats)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place: a bijective scramble of 64-bit values."""
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def _value_hashes(plain) -> np.ndarray:
    """Per key (a row each), one uint64 per row of a plain column.

    Text is hashed with keyed SipHash (:func:`_text_hashes`); numbers are their 64-bit
    patterns, seeded by the key and scrambled.
    """
    if not isinstance(plain, np.ndarray):
        return _text_hashes(plain)
    bits = plain.astype(np.uint64) if plain.dtype == np.uint8 else np.ascontiguousarray(plain).view(np.uint64)
    return _mix(bits ^ _SEED_COLUMN)


#: Up to this many rows, text is hashed value by value; above it, once per distinct value.
_FEW_ROWS = 64


def _text_hashes(text) -> np.ndarray:
    """Per key (a row each), the SipHash of each value's UTF-8 bytes, a missing value hashed as "".

    A large column is hashed once per distinct value (logs repeat values a lot); a few rows
    are hashed as they are, which gives the same hashes without the cost of finding them.
    """
    if len(text) <= _FEW_ROWS:
        return _keyed_text_hashes(text.to_numpy(dtype=object, na_value=""))
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    # "" is appended as the last distinct value, where a missing value's code (-1) points.
    return _keyed_text_hashes(np.append(np.asarray(uniques, dtype=object), ""))[:, codes]


def _keyed_text_hashes(values: np.ndarray) -> np.ndarray:
    """Per key (a row each), the SipHash of each text value's UTF-8 bytes."""
    return np.array([pd.util.hash_array(values, hash_key=key, categorize=False) for key in _KEYS])


def _missing_text_hashes(rows: int) -> np.ndarray:
    """:func:`_text_hashes` of a column where every value is missing."""
    return np.repeat(_MISSING_TEXT, rows, axis=1)


def content_hashes(
    events: pd.DataFrame, columns: tuple[str, ...] = CONTENT_COLUMNS, arrays: Mapping | None = None
) -> np.ndarray:
    """Two 64-bit hashes per row (shape ``(n, 2)``, uint64) of ``columns`` in canonical form.

    Label columns count as missing, whatever they hold. Per key, a row's value hashes are folded in column order (multiply, xor) and scrambled.
    ``arrays``, the frame's columns as the pandas arrays it was built from, are read in place
    of its columns when given: for a few rows, a Series per column costs more than the hashing.
    """
    return _content_hashes(events if arrays is None else arrays, columns, len(events))


def _content_hashes(events: pd.DataFrame | Mapping, columns: tuple[str, ...], rows: int) -> np.ndarray:
    """:func:`content_hashes` of ``rows`` events (a frame, or its columns by name)."""
    if not rows:
        return np.zeros((0, 2), dtype=np.uint64)
    return _folded(_column_hashes(events, columns, rows), rows)


def plain_content_hashes(plains: Mapping[str, np.ndarray], rows: int) -> np.ndarray:
    """:func:`content_hashes` of a few rows (at most 64) given as their :data:`CONTENT_COLUMNS`'
    plain values (label columns left out): text as an object array with "" for a missing
    value, times as int64 microseconds in UTC, flags as uint8, floats as float64 (NaN when
    missing), whole numbers as int64.

    A request's few events have these values at hand before any pandas array is built:
    reading them back out of Arrow-backed text arrays, a call per column, cost more than the
    hashing.
    """
    if rows > _FEW_ROWS:
        raise ValueError(f"plain content hashes are for at most {_FEW_ROWS} rows, not {rows}")
    if not rows:
        return np.zeros((0, 2), dtype=np.uint64)
    plains = {c: _one_nan(v) if v.dtype == np.float64 else v for c, v in plains.items()}
    return _folded(_hashes_of_plains(plains, CONTENT_COLUMNS, rows), rows)


def _folded(column_hashes: list[np.ndarray], rows: int) -> np.ndarray:
    """Per row, its columns' hashes (per key, a row each) folded in column order and scrambled."""
    halves = np.repeat(_SEED_COLUMN, rows, axis=1)  # per key, a row: both folded at once
    with np.errstate(over="ignore"):
        for hashes in column_hashes:
            halves *= _FOLD
            halves ^= hashes
        return np.ascontiguousarray(_mix(halves).T)


def _column_hashes(
    events: pd.DataFrame | Mapping, columns: tuple[str, ...], rows: int
) -> list[np.ndarray]:
    """Per column of ``events`` (a frame, or its columns by name), :func:`_value_hashes` of
    its plain form (label columns as missing text).

    A few rows' text columns are hashed together, one call per key for all of them: each
    value's hash depends on that value alone, and a call costs far more than a few values.
    """
    plains = {c: _plain(events[c], CANONICAL_DTYPES[c]) for c in columns if c not in LABEL_COLUMNS}
    return _hashes_of_plains(plains, columns, rows)


def _hashes_of_plains(plains: Mapping, columns: tuple[str, ...], rows: int) -> list[np.ndarray]:
    """:func:`_column_hashes` of the columns' plain values (:func:`_plain`'s, or for a few rows
    :func:`plain_content_hashes`', text as object arrays)."""
    few = rows <= _FEW_ROWS
    texts = [c for c, plain in plains.items() if _is_text(plain)] if few else []
    hashed = {c: _missing_text_hashes(rows) for c in columns if c in LABEL_COLUMNS}
    if texts:
        together = _keyed_text_hashes(np.concatenate([_text_objects(plains[c]) for c in texts]))
        for position, column in enumerate(texts):
            hashed[column] = together[:, position * rows : (position + 1) * rows]
    return [hashed[c] if c in hashed else _value_hashes(plains[c]) for c in columns]


def _is_text(plain) -> bool:
    """Whether a plain column is text: a pandas text array, or an object array of ``str``."""
    return not isinstance(plain, np.ndarray) or plain.dtype == object


def _text_objects(plain) -> np.ndarray:
    """A plain text column as an object array, "" for a missing value."""
    return plain if isinstance(plain, np.ndarray) else plain.to_numpy(dtype=object, na_value="")


def hex_digests(hashes: np.ndarray) -> pd.Series:
    """Rows of uint64 hashes as lowercase hex text (16 characters per hash), vectorised."""
    import pyarrow as pa

    hashes = np.atleast_2d(np.asarray(hashes, dtype=np.uint64).T).T  # one row per event
    if 0 < len(hashes) <= _FEW_ROWS:
        return pd.Series(pd.arrays.ArrowStringArray(_few_hex_digests(hashes)), copy=False)
    as_pandas = _many_hex_digests(hashes).cast(pa.string()).to_pandas(types_mapper=lambda _: pd.StringDtype())
    return pd.Series(as_pandas, dtype="string")


def _few_hex_digests(hashes: np.ndarray):
    """:func:`hex_digests` of a few rows as an Arrow array, written by Python: Arrow's buffers
    cost more."""
    import pyarrow as pa

    return pa.array(few_hex_digests(hashes), pa.large_string())


def few_hex_digests(hashes: np.ndarray) -> list[str]:
    """:func:`hex_digests` of a few rows (shape ``(n, 2)``) as Python text."""
    return ["".join(f"{half:016x}" for half in row) for row in hashes.tolist()]


def _many_hex_digests(hashes: np.ndarray):
    """:func:`hex_digests` of many rows as an Arrow array, written by NumPy into one buffer."""
    import pyarrow as pa

    rows = len(hashes)
    big_endian = np.ascontiguousarray(hashes, dtype=">u8").view(np.uint8).reshape(rows, hashes.shape[1] * 8)
    width = big_endian.shape[1] * 2
    digits = np.empty((rows, width), dtype=np.uint8)
    digits[:, 0::2] = _HEX_DIGITS[big_endian >> 4]
    digits[:, 1::2] = _HEX_DIGITS[big_endian & 0x0F]
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(digits.tobytes()))


def derive_event_ids(events: pd.DataFrame, arrays: Mapping | None = None) -> pd.Series:
    """Stable 32-hex-character ids hashed from each event's canonical content (``arrays`` as
    :func:`content_hashes` reads them)."""
    ids = hex_digests(content_hashes(events, arrays=arrays))
    ids.index = events.index
    return ids


def fill_event_ids(events: pd.DataFrame, arrays: Mapping | None = None) -> pd.Series:
    """Keep the source's event ids; derive one from the content where it is missing
    (``arrays`` as :func:`content_hashes` reads them)."""
    given = events.get("event_id")
    if given is not None and given.dtype != _TEXT:
        given = given.astype("string")
    present = None if given is None else given.notna().to_numpy()
    if present is not None and present.all():
        return given
    derived = derive_event_ids(events, arrays)
    return derived if present is None or not present.any() else given.fillna(derived)


def event_id_array(arrays: Mapping, rows: int):
    """:func:`fill_event_ids` of ``rows`` canonical events given as their columns' pandas arrays
    only (by name, ``event_id`` stripped text or missing), as a text array: the few events of
    a request need no frame, nor a Series per step."""
    import pyarrow as pa
    import pyarrow.compute as pc

    given = pa.array(arrays["event_id"])
    if not given.null_count:
        return arrays["event_id"]
    hashes = _content_hashes(arrays, CONTENT_COLUMNS, rows)
    derived = _few_hex_digests(hashes) if rows <= _FEW_ROWS else _many_hex_digests(hashes)
    return pd.arrays.ArrowStringArray(pc.coalesce(given, derived.cast(given.type)))


def duplicate_mask(events: pd.DataFrame) -> np.ndarray:
    """True for every event whose identity fields (id included) all equal an earlier event's.

    ``source_row`` is where a copy sits in its file, and the labels annotate the event, so
    neither is compared: a copy carrying another label is still a copy (the first is kept).
    Only events sharing an id can be duplicates; those few are compared field by field, so
    the answer is exact.
    """
    mask = np.zeros(len(events), dtype=bool)
    shared_id = events["event_id"].duplicated(keep=False).to_numpy()
    if shared_id.any():
        candidates = events.loc[shared_id, list(IDENTITY_COLUMNS) + ["event_id"]]
        mask[shared_id] = candidates.duplicated(keep="first").to_numpy()
    return mask
