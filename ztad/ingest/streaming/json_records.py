"""Decoded JSON records and the chunks they are gathered into.

A piece of records is decoded in one msgspec call; only when that fails is each record
decoded on its own (by bisection), so that a bad one is quarantined with its line and the
decoder's reason while the good ones go on. Fields of the decoded records go into a
:class:`RecordChunk` as Arrow columns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import compress

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

from ztad.ingest.streaming.output import (
    concat_values,
    no_quarantine,
    quarantine_records,
    values_array,
)
from ztad.ingest.streaming.record_columns import RecordColumns

#: Records are decoded and their fields taken this many bytes at a time: large enough that
#: the fixed costs of a piece (a call per field and level) are spread over thousands of
#: records, small enough that they are still in the CPU cache (measured best at 1-4 MiB).
PIECE_BYTES = 2 << 20


#: The separator between array elements is first learnt from this many bytes.
LEARNING_BYTES = 1 << 16


#: A conversion of a column's decoded values (one block's) into an Arrow array.
Converter = Callable[[list], pa.Array]


@dataclass
class RecordChunk:
    """The decoded records of one block, as columns.

    Attributes
    ----------
    columns
        One Arrow array (or chunked array, a piece per chunk) per requested field, typed by
        what the field holds (see :func:`~ztad.ingest.streaming.output.concat_values`).
    rows
        1-based line number (JSON Lines) or record number (JSON array) of each record.
    quarantine
        Records that could not be decoded, with the decoder's reason.
    texts
        Where the original texts come from: (position of the first record, function giving
        the texts of records by position from there), in order; see :meth:`raw_at`.
    """

    columns: dict[str, pa.Array]
    rows: np.ndarray
    quarantine: pd.DataFrame = field(default_factory=no_quarantine)
    texts: list[tuple[int, Callable[[np.ndarray], list[bytes]]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def raw_at(self, positions) -> list[bytes]:
        """Original text of the records at ``positions``, to quarantine them."""
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return []
        firsts = np.array([first for first, _ in self.texts], dtype=np.int64)
        owner = np.searchsorted(firsts, positions, side="right") - 1
        out: list[bytes] = [b""] * len(positions)
        for index in np.unique(owner):
            which = np.flatnonzero(owner == index)
            first, texts_of = self.texts[index]
            for slot, text in zip(which, texts_of(positions[which] - first)):
                out[slot] = text
        return out


class ChunkBuilder:
    """Collects the pieces of one block: columns, record numbers, texts and bad records."""

    def __init__(
        self, extract: RecordColumns, fields: Mapping[str, str], convert: Mapping[str, Converter], source: str
    ):
        self.extract, self.convert, self.source = extract, convert, source
        self.parts: dict[str, list] = {name: [] for name in fields}
        self.rows: list[np.ndarray] = []
        self.texts: list[tuple[int, Callable]] = []
        self.count = 0
        self.bad_rows: list[int] = []
        self.bad_reasons: list[str] = []
        self.bad_texts: list[bytes] = []

    def add(self, records: list, rows: np.ndarray, texts_of: Callable[[np.ndarray], list[bytes]]) -> None:
        if not records:
            return
        for name, values in self.extract(records).items():
            if name in self.convert:  # kept as Python values, converted once per block
                self.parts[name] += values
            else:
                self.parts[name].append(values)
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.texts.append((self.count, texts_of))
        self.count += len(records)

    def add_decoded(self, decoded: "Decoded") -> None:
        self.add(decoded.records, decoded.rows, _Listed(decoded.lines))
        self.bad_rows += decoded.bad_rows
        self.bad_reasons += decoded.bad_reasons
        self.bad_texts += decoded.bad_texts

    def chunk(self) -> RecordChunk:
        columns = {
            name: self.convert[name](parts) if name in self.convert else concat_values(parts or [values_array([])])
            for name, parts in self.parts.items()
        }
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, dtype=np.int64)
        quarantine = (
            quarantine_records(self.source, self.bad_rows, "record", self.bad_reasons, self.bad_texts)
            if self.bad_rows
            else no_quarantine()
        )
        return RecordChunk(columns, rows, quarantine, self.texts)


class _Listed:
    """Texts of records kept in a list."""

    def __init__(self, lines: list[bytes]):
        self.lines = lines

    def __call__(self, positions: np.ndarray) -> list[bytes]:
        return [self.lines[i] for i in positions]


def decode_all(decoder, text, expected: int) -> list | None:
    """All records of ``text`` (JSON values separated by line ends), or None if any is bad."""
    try:
        records = decoder.decode_lines(text)
    except msgspec.DecodeError:
        return None
    return records if len(records) == expected else None


@dataclass
class Decoded:
    """Records decoded from separate texts, and the texts that failed, with reasons."""

    records: list
    rows: np.ndarray
    lines: list[bytes]
    bad_rows: list[int] = field(default_factory=list)
    bad_reasons: list[str] = field(default_factory=list)
    bad_texts: list[bytes] = field(default_factory=list)
    source: str = ""

    @property
    def quarantine(self) -> pd.DataFrame:
        """The bad texts as quarantine records (field ``record``)."""
        return quarantine_records(self.source, self.bad_rows, "record", self.bad_reasons, self.bad_texts)


def decode_records(decoder, lines: list[bytes], rows: np.ndarray, source: str = "") -> Decoded:
    """Decode JSON texts; blank ones are skipped, bad ones kept apart with the reason.

    Lines that look like one object each are decoded together, bisecting a failing group
    to isolate its bad lines (about k * log2(n) decoder calls for k bad lines, each in C);
    lines that do not look like one object are decoded on their own.
    """
    stripped = [line.strip() for line in lines]
    filled = np.fromiter(map(len, stripped), dtype=np.int64, count=len(lines)) > 0
    rows = np.asarray(rows, dtype=np.int64)
    if not filled.all():
        lines, stripped, rows = list(compress(lines, filled)), list(compress(stripped, filled)), rows[filled]
    shaped = [text[:1] == b"{" and text[-1:] == b"}" for text in stripped]
    groups = _runs(shaped)
    records, good, bad = [], [], []
    for low, high, grouped in groups:
        if grouped:
            part = _decode_isolating(decoder, stripped[low:high], low)
        else:
            part = _decode_each(decoder, stripped[low:high], low)
        records += part[0]
        good += part[1]
        bad += part[2]
    return Decoded(
        records,
        rows[np.asarray(good, dtype=np.int64)],
        [lines[i] for i in good],
        [int(rows[i]) for i, _ in bad],
        [reason for _, reason in bad],
        [lines[i] for i, _ in bad],
        source,
    )


def _runs(flags: list[bool]) -> list[tuple[int, int, bool]]:
    """(start, stop, flag) of the runs of equal flags."""
    runs, start = [], 0
    for i in range(1, len(flags) + 1):
        if i == len(flags) or flags[i] != flags[start]:
            runs.append((start, i, flags[start]))
            start = i
    return runs


def _decode_each(decoder, lines: list[bytes], offset: int):
    records, good, bad = [], [], []
    for i, line in enumerate(lines):
        part = _decode_isolating(decoder, [line], offset + i)
        records += part[0]
        good += part[1]
        bad += part[2]
    return records, good, bad


def _decode_isolating(decoder, lines: list[bytes], offset: int):
    """Decode all lines in one call; on failure, bisect to isolate the bad lines."""
    if not lines:
        return [], [], []
    records = decode_all(decoder, b"\n".join(lines), len(lines))
    if records is not None:
        return records, list(range(offset, offset + len(lines))), []
    if len(lines) == 1:
        return [], [], [(offset, _decode_reason(decoder, lines[0]))]
    half = len(lines) // 2
    left = _decode_isolating(decoder, lines[:half], offset)
    right = _decode_isolating(decoder, lines[half:], offset + half)
    return left[0] + right[0], left[1] + right[1], left[2] + right[2]


def _decode_reason(decoder, text: bytes) -> str:
    try:
        decoder.decode(text)
    except msgspec.ValidationError as error:
        return f"unexpected JSON value: {error}"
    except msgspec.DecodeError as error:
        return f"malformed JSON: {error}"
    return "more than one JSON value on one line"
