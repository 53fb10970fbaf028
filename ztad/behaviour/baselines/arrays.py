"""Grouped-array tools the baselines are built with: codes, group reductions, latest values."""

from __future__ import annotations

import numpy as np
import pandas as pd


def codes_in(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in ``index`` (-1 when absent or null), hashing distinct values once.

    The distinct values are looked up in the hash table the index keeps (built once per index,
    so once per baseline state): ``Index.get_indexer`` would check and convert its arguments,
    a fixed cost larger than the lookup itself for the few values of a scoring request.
    """
    codes, uniques = text_codes(values)
    if len(index) == 0 or len(uniques) == 0:
        return np.full(len(codes), -1, dtype="int64")
    mapped = np.append(positions_in(index, uniques), -1)
    return mapped[codes].astype("int64")


def text_codes(values, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The codes (int64, -1 for null) and the distinct values (an object array) that
    ``pandas.factorize(values, sort=sort, use_na_sentinel=True)`` gives.

    A ``string`` Series is encoded by Arrow's dictionary kernel directly, and its distinct
    values are not wrapped in an index: pandas' path costs some 50 µs a call however few the
    values, and a scoring request factorises dozens of text columns of one event. Anything
    else goes to pandas.
    """
    if not (isinstance(values, pd.Series) and values.dtype == _TEXT and values.dtype.storage == "pyarrow"):
        codes, uniques = pd.factorize(values, sort=sort, use_na_sentinel=True)
        return codes.astype("int64", copy=False), np.asarray(uniques, dtype=object)
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values.array)
    if len(text) <= _FEW_VALUES:
        return _few_text_codes(text.to_pylist(), sort)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    encoded = text.dictionary_encode(null_encoding="mask")
    codes = encoded.indices.to_numpy(zero_copy_only=False)  # floats with NaN for nulls, if any
    codes = np.where(np.isnan(codes), -1, codes).astype("int64") if encoded.null_count else codes.astype("int64")
    dictionary = encoded.dictionary
    if sort and len(dictionary) > 1:
        order = pc.array_sort_indices(dictionary).to_numpy()
        rank = np.empty(len(order), dtype="int64")
        rank[order] = np.arange(len(order))
        codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
        dictionary = dictionary.take(pa.array(order))
    return codes, dictionary.to_numpy(zero_copy_only=False)


#: The text dtype canonical events and baselines hold (Arrow-backed, ``NA`` for missing).
_TEXT = pd.StringDtype()


def lowered_in(values: pd.Series, names, strip: bool = False) -> np.ndarray:
    """Where ``values.str.lower()`` (``values.str.strip().str.lower()`` with ``strip``) is one of
    ``names``; False for a missing value.

    A few values that are all ASCII are compared in Python, whose ``lower`` and ``strip`` agree
    with Arrow's there: the pandas string methods cost tens of microseconds a call each.
    """
    items = few_texts(values)
    hits = None if items is None else ascii_lowered_in(items, names, strip)
    if hits is None:
        text = values.str.strip() if strip else values
        return text.str.lower().isin(names).fillna(False).to_numpy(dtype=bool)
    return np.array(hits, dtype=bool)


def ascii_lowered_in(items: list, names, strip: bool = False) -> list[bool] | None:
    """Where each of ``items`` (``str`` or ``None``), lowered (and stripped), is one of
    ``names``, decided in Python; ``None`` when some item is not ASCII, where Python's
    ``lower`` and ``strip`` need not agree with Arrow's."""
    if not all(item is None or item.isascii() for item in items):
        return None
    if strip:
        items = [None if item is None else item.strip() for item in items]
    return [item is not None and item.lower() in names for item in items]


def few_texts(values) -> list | None:
    """The values of a few texts (a ``string`` Series of at most :data:`_FEW_VALUES`) as Python
    ``str`` or ``None``, for the few-row paths that work on them in Python; ``None`` for
    anything else, which takes the vectorised path."""
    import pyarrow as pa

    if isinstance(values, pd.Series) and values.dtype == _TEXT and len(values) <= _FEW_VALUES:
        return pa.array(values.array).to_pylist()
    return None


def few_objects(values) -> list | None:
    """The values of a few texts held in an object array (``str`` or ``None``) as a list, for
    the few-row paths that work on them in Python; ``None`` for anything else (more values,
    another dtype, another kind of value), which takes the vectorised path."""
    if not (isinstance(values, np.ndarray) and values.dtype == object and len(values) <= _FEW_VALUES):
        return None
    items = values.tolist()
    return items if all(item is None or type(item) is str for item in items) else None


def few_text_codes(values: list, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`text_codes` of a few values given as a list of ``str`` or ``None``."""
    return _few_text_codes(values, sort)


def nan_to_zero(values: np.ndarray) -> np.ndarray:
    """``numpy.nan_to_num(values)`` of a float64 array: NaN as 0, infinities as the largest
    finite numbers. A few finite values take two ufuncs instead of ``nan_to_num``'s dozen
    steps, a fixed cost that a request of a few events pays several times."""
    if len(values) > _FEW_VALUES:
        return np.nan_to_num(values)
    zeroed = np.where(np.isnan(values), 0.0, values)
    return zeroed if np.isfinite(zeroed).all() else np.nan_to_num(values)


#: Up to this many values, text is coded in Python: Arrow's dictionary kernel and the
#: conversions around it cost tens of microseconds a call, a Python dict of a few values a few.
_FEW_VALUES = 64


def _few_text_codes(values: list, sort: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`text_codes` of a few values (``str`` or ``None``): the distinct values in order of
    first appearance, or sorted by code point (the order of their UTF-8 bytes, as Arrow sorts)."""
    distinct = list(dict.fromkeys(value for value in values if value is not None))
    if sort:
        distinct.sort()
    position = {value: code for code, value in enumerate(distinct)}
    codes = np.array([-1 if value is None else position[value] for value in values], dtype="int64")
    return codes, np.array(distinct, dtype=object)


def positions_in(index: pd.Index, values) -> np.ndarray:
    """Position of each of distinct values (none null) in ``index`` (-1 when absent), by the
    index's own hash table."""
    if (index.dtype == object or isinstance(index.dtype, pd.StringDtype)) and index.is_unique:
        return index._engine.get_indexer(np.asarray(values, dtype=object))
    return index.get_indexer(pd.Index(values))


def frame_of(arrays: list, names: tuple[str, ...], index: pd.Index) -> pd.DataFrame:
    """A frame of columns ``names`` that holds ``arrays`` themselves, in order: each a 2-D
    numpy block (a row per column), a 1-D numpy column or an extension array.

    No array is copied, checked or consolidated: a frame built from a dict of columns, or by
    inserting them, pays per-column costs that are most of the work for a few rows.
    """
    blocks, start = [], 0
    for values in arrays:
        if isinstance(values, np.ndarray) and values.ndim == 1:
            values = values.reshape(1, -1)
        width = values.shape[0] if isinstance(values, np.ndarray) else 1
        blocks.append((values, np.arange(start, start + width)))
        start += width
    return frame_of_blocks(blocks, names, index)


def frame_of_blocks(blocks: list[tuple], names: tuple[str, ...], index: pd.Index) -> pd.DataFrame:
    """A frame of columns ``names`` that holds the ``(values, positions)`` blocks themselves:
    each a 2-D numpy block (a row per column) or an extension array, and the positions among
    ``names`` of its columns. No array is copied, checked or consolidated."""
    from pandas.api.internals import create_dataframe_from_blocks

    return create_dataframe_from_blocks(blocks, index=index, columns=_columns(names))


#: Column indexes by their names, built once: the same few come back call after call.
_COLUMNS: dict[tuple[str, ...], pd.Index] = {}


def _columns(names: tuple[str, ...]) -> pd.Index:
    """The column index of ``names`` (an index is never changed once built, so it is shared)."""
    if names not in _COLUMNS:
        if len(_COLUMNS) >= 64:
            _COLUMNS.clear()
        _COLUMNS[names] = pd.Index(names)
    return _COLUMNS[names]


def reduce_groups(
    keys: np.ndarray,
    sums: dict[str, np.ndarray] | None = None,
    maxes: dict[str, np.ndarray] | None = None,
    mins: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Group rows by an integer key: sorted distinct keys, row counts and reduced columns.

    The ``rows`` entry of the result is the number of rows per key, e.g. the number of days a
    pair was seen when each row is one day's record.
    """
    order = stable_order(keys)
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(keys) else np.array([], "int64")
    out: dict[str, np.ndarray] = {"rows": np.diff(np.r_[starts, len(keys)])}
    for name, values in (sums or {}).items():
        out[name] = np.add.reduceat(values[order], starts) if len(keys) else values[:0]
    for name, values in (maxes or {}).items():
        out[name] = np.maximum.reduceat(values[order], starts) if len(keys) else values[:0]
    for name, values in (mins or {}).items():
        out[name] = np.minimum.reduceat(values[order], starts) if len(keys) else values[:0]
    return ordered[starts] if len(keys) else keys[:0], out


def stable_order(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of integer keys, found faster when it can be.

    Non-negative keys small enough to leave room for a row number in their low bits are
    sorted with it packed there: a plain sort of the packed values (several times faster than
    a stable sort of indices) gives the same order, rows of equal keys in their order.
    """
    n = len(keys)
    bits = max((n - 1).bit_length(), 1)
    if n == 0 or keys.dtype.kind not in "iu" or keys.min() < 0 or int(keys.max()) >= 1 << (63 - bits):
        return np.argsort(keys, kind="stable")
    packed = np.sort((keys.astype("int64") << bits) | np.arange(n, dtype="int64"))
    return packed & ((1 << bits) - 1)


def take(values: np.ndarray, rows: np.ndarray, fill) -> np.ndarray:
    """``values[rows]`` with ``fill`` where ``rows`` is -1."""
    if len(values) == 0:
        return np.full(len(rows), fill, dtype=object if fill is None else "float64")
    picked = values[np.maximum(rows, 0)]
    if fill is None:
        return np.where(rows >= 0, picked.astype(object), None)
    return np.where(rows >= 0, picked, fill)


def latest_rows(codes: np.ndarray, order_by: np.ndarray, n: int) -> np.ndarray:
    """Per code, the row with the largest non-NaN ``order_by`` (-1 when none); of rows tied
    on it, the last.

    Found by two unbuffered maxima per code rather than by sorting the rows by code and
    value: on a window's user rows (users x days) a twentieth of the time."""
    out = np.full(n, -1, dtype="int64")
    rows = np.flatnonzero(~np.isnan(order_by))
    if len(rows):
        codes, values = codes[rows], order_by[rows]
        largest = np.full(n, -np.inf)
        np.maximum.at(largest, codes, values)
        tied = values == largest[codes]
        np.maximum.at(out, codes[tied], rows[tied])
    return out


def latest_value(values: pd.Series, codes: np.ndarray, order_by: np.ndarray, n: int) -> pd.array:
    """The latest non-null value of a column per code (e.g. a user's department)."""
    values = values.astype("string")
    order = np.where(values.notna().to_numpy(), np.asarray(order_by, dtype="float64"), np.nan)
    return text_at(values, latest_rows(codes, order, n))


def text_at(values: pd.Series, rows: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values`` at ``rows`` as text, missing where a row is -1. Only the values taken are
    converted: a table with a row per user and day gives one value per user."""
    return pd.array(values.astype("string").array.take(rows, allow_fill=True), dtype="string")
