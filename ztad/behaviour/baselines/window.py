"""One kind of table of every day of a baseline window, held as Arrow tables, one per day.

A window of a million-event organisation holds millions of user x item rows whose text (user
ids, devices, addresses, resources) repeats from row to row and from day to day. Saved days
are read with their text columns dictionary-encoded, as Parquet stores them, so that no row's
text is turned into a string of its own: the window's distinct values are found from each
day's dictionary (a day's distinct users or items, not its rows), and every row is coded by
an array lookup. The codes and distinct values are exactly those
:func:`~ztad.behaviour.baselines.arrays.text_codes` and
:func:`~ztad.behaviour.baselines.arrays.codes_in` give for the window's rows put one after
another as text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ztad.behaviour.baselines.arrays import positions_in


class WindowTable:
    """The tables of one kind of a window's days, one after another (``parts``, one Arrow
    table per day, text columns dictionary-encoded), and the day (ordinal) of each row."""

    def __init__(self, parts: list[pa.Table], days: np.ndarray):
        self.parts, self.days = parts, days

    def __len__(self) -> int:
        return len(self.days)

    def numbers(self, column: str, dtype: str) -> np.ndarray:
        """A number column of every row as ``dtype``, missing values as NaN."""
        arrays = [part.column(column).to_numpy() for part in self.parts]
        return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.array([], dtype=dtype)

    def valid(self, column: str) -> np.ndarray:
        """Where a text column of every row holds a value."""
        return np.concatenate([part.column(column).is_valid().to_numpy(zero_copy_only=False)
                               for part in self.parts])

    def codes(self, column: str, sort: bool = False) -> tuple[np.ndarray, pa.Array]:
        """Codes (int64, -1 for missing) of a text column of every row and its distinct values,
        those the rows hold (sorted like Arrow sorts text with ``sort``): ``text_codes`` of the
        column as text."""
        chunks = list(self._chunks(column))
        if not chunks:
            return np.array([], dtype="int64"), pa.array([], type=pa.large_string())
        dictionaries, start_of = _distinct_dictionaries(chunks)
        merged = pa.concat_arrays(dictionaries).dictionary_encode()
        value_code = np.append(merged.indices.to_numpy(zero_copy_only=False).astype("int64"), -1)
        codes = np.concatenate([value_code[_indices(chunk, start, len(value_code) - 1)]
                                for chunk, start in zip(chunks, start_of)])
        used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(merged.dictionary)))
        values = merged.dictionary.take(pa.array(used))
        if sort and len(values) > 1:
            order = pc.array_sort_indices(values).to_numpy()
            used, values = used[order], values.take(pa.array(order))
        rank = np.full(len(merged.dictionary) + 1, -1, dtype="int64")
        rank[used] = np.arange(len(used))
        return rank[codes], values

    def codes_in(self, index: pd.Index, column: str) -> np.ndarray:
        """Position of each row's value of a text column in ``index`` (-1 when absent or
        missing): ``codes_in(index, column)``, each distinct value looked up once."""
        codes, values = self.codes(column)
        if len(index) == 0 or len(values) == 0:
            return np.full(len(codes), -1, dtype="int64")
        mapped = np.append(positions_in(index, values.to_numpy(zero_copy_only=False)), -1)
        return mapped[codes].astype("int64")

    def text_at(self, column: str, rows: np.ndarray) -> pd.api.extensions.ExtensionArray:
        """A text column's values at ``rows`` (missing where a row is -1), as ``string``.

        Only the rows asked for are decoded, each from its own day's chunk: a user's latest
        value is one of the window's rows of every user and day, and the others are never
        coded (:meth:`codes` would code them all)."""
        chunks = list(self._chunks(column))
        ends = np.cumsum([len(chunk) for chunk in chunks], dtype="int64")
        chunk_of = np.searchsorted(ends, rows, side="right")
        asked = np.flatnonzero(rows >= 0)
        by_chunk = asked[np.argsort(chunk_of[asked], kind="stable")]
        pieces = [pa.array([], type=pa.large_string())]
        for k in np.unique(chunk_of[asked]):
            mine = by_chunk[chunk_of[by_chunk] == k]
            local = rows[mine] - (ends[k - 1] if k else 0)
            pieces.append(chunks[k].take(pa.array(local)).dictionary_decode().cast(pa.large_string()))
        decoded = pa.concat_arrays(pieces)
        position = np.full(len(rows), -1, dtype="int64")
        position[by_chunk] = np.arange(len(by_chunk))
        taken = decoded.take(pa.array(position, mask=position < 0))
        return pd.array(pd.arrays.ArrowStringArray(taken), dtype="string")

    def texts(self, column: str) -> pd.Series:
        """A text column of every row as a ``string`` Series (for the window's small tables)."""
        decoded = [chunk.dictionary_decode().cast(pa.large_string()) for chunk in self._chunks(column)]
        if not decoded:
            return pd.Series([], dtype="string")
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(decoded, type=pa.large_string())),
                         dtype="string")

    def _chunks(self, column: str) -> Iterator[pa.DictionaryArray]:
        for part in self.parts:
            yield from part.column(column).chunks


def _distinct_dictionaries(chunks: list[pa.DictionaryArray]) -> tuple[list[pa.Array], list[int]]:
    """The chunks' dictionaries, each only once, as text, and where each chunk's dictionary
    begins in them put one after another. The chunks read from one row group share their
    dictionary (the same buffers), which need not be hashed for every chunk."""
    dictionaries, start_of, seen, total = [], [], {}, 0
    for chunk in chunks:
        dictionary = chunk.dictionary
        key = (tuple(b.address if b is not None else 0 for b in dictionary.buffers()), dictionary.offset, len(dictionary))
        if key not in seen:
            seen[key] = total
            dictionaries.append(dictionary.cast(pa.large_string()))
            total += len(dictionary)
        start_of.append(seen[key])
    return dictionaries, start_of


def _indices(chunk: pa.DictionaryArray, start: int, missing: int) -> np.ndarray:
    """A dictionary chunk's indices shifted by ``start``; ``missing`` for a null."""
    indices = chunk.indices
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
        values = indices.to_numpy().astype("int64")
        return np.where(values >= 0, values + start, missing)
    return indices.to_numpy().astype("int64") + start


def read_window_table(dated: list, name: str, empty: pd.DataFrame, texts: tuple[str, ...]) -> WindowTable:
    """Every day's table ``name`` (of ``dated``, ``(day, DailyAggregate)`` pairs oldest first)
    one after another, its ``texts`` columns dictionary-encoded; with no day holding it, the
    ``empty`` table. Each day's table is read once."""
    parts, days = [], []
    for d, agg in dated:
        if name in agg.tables:
            table = arrow_table(agg.tables, name, texts)
            parts.append(table)
            days.append(np.full(table.num_rows, d.toordinal(), dtype="int64"))
    if not parts:
        parts.append(_encoded(pa.Table.from_pandas(empty, preserve_index=False), texts))
    return WindowTable(parts, np.concatenate([*days, np.array([], dtype="int64")]))


def arrow_table(tables: Mapping[str, pd.DataFrame], name: str, texts: tuple[str, ...]) -> pa.Table:
    """The table ``name`` of a day's aggregate as Arrow, its ``texts`` columns
    dictionary-encoded: a saved table straight from its file (as Parquet stores the text),
    one held in memory converted."""
    path = getattr(tables, "path_of", None)
    if path is not None and name in tables:
        file = path(name)
        wanted = [c for c in texts if c in pq.read_schema(file).names]
        return _encoded(pq.read_table(file, read_dictionary=wanted), texts)
    return _encoded(pa.Table.from_pandas(tables[name], preserve_index=False), texts)


def _encoded(table: pa.Table, texts: tuple[str, ...]) -> pa.Table:
    """``table`` with its ``texts`` columns dictionary-encoded (those it holds)."""
    for column in texts:
        at = table.schema.get_field_index(column)
        if at >= 0 and not pa.types.is_dictionary(table.schema.field(at).type):
            encoded = pc.dictionary_encode(table.column(at).cast(pa.large_string()))
            table = table.set_column(at, column, encoded)
    return table
