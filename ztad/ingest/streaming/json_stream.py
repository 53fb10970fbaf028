"""JSON log records streamed in bounded blocks, decoded in C, bad records quarantined.

Accepts JSON Lines (one object per line), a JSON array (as the Okta API returns it) and an
object wrapping the array in ``value`` (as Microsoft Graph exports do). Records are decoded
by msgspec into the adapter's ``Struct`` type, which names only the fields the adapter reads
(the decoder skips the rest without building them), and their fields are taken out at once
as Arrow columns, a piece of about :data:`PIECE_BYTES` at a time so the records are still in
the CPU cache and never pile up in memory.

Whole pieces are decoded in one call; a record is looked at on its own only when its piece
fails to decode, so a clean file costs no Python work per record:

* JSON Lines: a piece of lines is decoded with ``decode_lines``. It is accepted when it
  yields one record per line and every line starts with ``{`` and ends with ``}``, which
  proves that no record spans lines or shares one. Otherwise its bad lines are isolated by
  bisection and quarantined with their line number and the decoder's reason.
* Arrays: the separator between records is learnt from the first ones (e.g. ``},{"id":``
  followed by the second key), a piece is cut at its last occurrence and decoded as an array
  of records. A successful decode proves the cut fell between records; when it fails (a bad
  record, or the text occurring inside a record), the piece is split exactly by tracking
  brackets and strings (:func:`_element_separators`) and decoded record by record as above.

Each block of about ``chunk_bytes`` bytes (option, default 16 MiB) becomes one
:class:`RecordChunk`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

from ztad.ingest.streaming.blocks import Buffers, iter_line_buffers, line_ends, read_block, split_lines
from ztad.ingest.streaming.output import concat_values, no_quarantine, quarantine_records, values_array
from ztad.ingest.options import chunk_bytes
from ztad.ingest.readers import open_binary
from ztad.ingest.streaming.record_columns import RecordColumns, collector_paused

#: Records are decoded and their fields taken this many bytes at a time: large enough that
#: the fixed costs of a piece (a call per field and level) are spread over thousands of
#: records, small enough that they are still in the CPU cache (measured best at 1-4 MiB).
PIECE_BYTES = 2 << 20

#: The separator between array elements is first learnt from this many bytes.
LEARNING_BYTES = 1 << 16

#: A conversion of a column's decoded values (one block's) into an Arrow array.
Converter = Callable[[list], pa.Array]


# --------------------------------------------------------------------------- chunks


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


class _ChunkBuilder:
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


class _Slices:
    """Texts of records that are lines of a block, cut out only when asked for."""

    def __init__(self, block, starts: np.ndarray, stops: np.ndarray):
        self.block, self.starts, self.stops = block, starts, stops

    def __call__(self, positions: np.ndarray) -> list[bytes]:
        return [bytes(self.block[self.starts[i]: self.stops[i]]) for i in positions]


class _Elements:
    """Texts of array elements in ``block[start:stop]``, split exactly only when asked for."""

    def __init__(self, block, start: int, stop: int):
        self.block, self.start, self.stop = block, start, stop

    def __call__(self, positions: np.ndarray) -> list[bytes]:
        text = bytes(self.block[self.start: self.stop]) + b"]"
        _, separators, _ = _element_separators(text, 1, True)
        lines = split_lines(_as_lines(text, 0, separators))
        return [lines[i] for i in positions]


# --------------------------------------------------------------------------- entry point


def iter_json_records(
    path: str,
    record_type: type,
    options: Mapping[str, Any],
    fields: Mapping[str, str],
    convert: Mapping[str, Converter] | None = None,
) -> Iterator[RecordChunk]:
    """Stream the records of a JSON file in bounded blocks, as columns of their fields.

    ``record_type`` is the msgspec ``Struct`` records decode into: unknown fields are
    skipped; a record that is not valid JSON, or whose known fields have the wrong type, is
    quarantined with its line (or record) number. ``fields`` maps column names to attribute
    paths ("client.ipAddress"); ``convert`` may give a column its own conversion of the
    plucked values, called once per block with all of them (default: pieces of
    :func:`~ztad.ingest.streaming.output.values_array`).
    """
    decoders = (msgspec.json.Decoder(record_type), msgspec.json.Decoder(list[record_type]))
    size = chunk_bytes(options)
    convert = dict(convert or {})
    extract = RecordColumns(fields, raw=convert)

    def builder() -> _ChunkBuilder:
        return _ChunkBuilder(extract, fields, convert, path)

    buffers = Buffers()
    with open_binary(path) as stream:
        # Enough to tell the layout whatever the block size; it becomes the first block.
        head = read_block(stream, max(size, 65536), buffers=buffers)
        layout = json_layout(head)
        if layout == "lines":
            chunks = _line_chunks(decoders[0], stream, size, head, builder, buffers)
        else:
            chunks = _array_chunks(decoders, stream, size, head, 1 if layout == "array" else 2, builder, buffers)
        del head  # held by the chunks alone, so that its buffer is reused once they are done with it
        yield from chunks


def json_layout(head: bytes) -> str:
    """``lines``, ``array`` or ``wrapped`` (``{"value": [...]}``), from a file's first bytes."""
    text = bytes(head[:4096]).lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "array"
    if re.match(rb'\{\s*"(?:value|@odata\.[^"]*)"\s*:', text):
        return "wrapped"
    return "lines"


# --------------------------------------------------------------------------- JSON Lines


def _line_chunks(decoder, stream, size: int, head: bytearray, builder, buffers: Buffers) -> Iterator[RecordChunk]:
    """One chunk per block of lines; ``head``, a buffer of ``buffers``, is the first block."""
    first_line = 1
    blocks = iter_line_buffers(stream, size, head, buffers)
    del head
    for block, end in blocks:
        chunk = builder()
        first_line = _decode_lines_block(decoder, block, end, first_line, chunk)
        yield chunk.chunk()


def _decode_lines_block(decoder, block: bytearray, end: int, first_line: int, chunk) -> int:
    """Decode the lines of ``block[:end]`` a piece at a time; return the next line's number.

    Each piece is scanned for line ends just before it is decoded, while it is in the CPU
    cache. A last line without line end (the end of the file, or a cut-off piece of an
    overlong line) is numbered but does not advance the count: its rest, if any, continues
    in the next block under the same number.
    """
    start = 0
    with memoryview(block) as view, collector_paused():
        while start < end:
            stop = block.find(b"\n", min(start + PIECE_BYTES, end) - 1, end) + 1 or end
            ends = line_ends(block, start, stop)
            starts = np.concatenate([[start], ends + 1])
            stops = np.append(ends, stop)
            if starts[-1] >= stop:  # the piece ends with a line end: no unfinished line
                starts, stops = starts[:-1], stops[:-1]
            _decode_lines(decoder, block, view, starts, stops, first_line, chunk)
            first_line += len(ends)
            start = stop
    return first_line


def _decode_lines(decoder, block, view, starts: np.ndarray, stops: np.ndarray, first_line: int, chunk) -> None:
    """Decode the lines ``block[starts[i]:stops[i]]`` in one call, one by one if that fails."""
    rows = np.arange(first_line, first_line + len(starts), dtype=np.int64)
    records = None
    if len(starts) and _object_lines(block, starts, stops).all():
        records = _decode_all(decoder, view[starts[0]: stops[-1]], len(starts))
    if records is not None:
        chunk.add(records, rows, _Slices(block, starts, stops))
    elif len(starts):
        lines = [bytes(view[a:b]) for a, b in zip(starts, stops)]
        chunk.add_decoded(decode_records(decoder, lines, rows, chunk.source))


def _object_lines(block, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """True for lines that start with ``{`` and end with ``}`` (before an optional CR)."""
    if not len(starts):
        return np.zeros(0, dtype=bool)
    data = np.frombuffer(block, dtype=np.uint8)
    filled = stops > starts
    first = data[np.minimum(starts, len(data) - 1)]
    last = data[np.maximum(stops - 1, 0)]
    before_cr = data[np.maximum(stops - 2, 0)]
    ends = (last == ord("}")) | ((last == ord("\r")) & (before_cr == ord("}")) & (stops - starts > 1))
    return filled & (first == ord("{")) & ends


def _decode_all(decoder, text, expected: int) -> list | None:
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
    records = _decode_all(decoder, b"\n".join(lines), len(lines))
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


# --------------------------------------------------------------------------- JSON arrays


def _array_chunks(
    decoders, stream, size: int, head: bytearray, depth: int, builder, buffers: Buffers
) -> Iterator[RecordChunk]:
    """One chunk per block of a JSON array (``depth`` 1) or of an array wrapped in an object.

    Every block is a buffer of ``buffers`` whose first byte is the separator before its
    first record (the array's ``[`` at first: ``head`` is the first block), followed by the
    records and the start of the next one, which is carried over to the next block. An
    element larger than 64 blocks (and 64 MiB) means the array's structure is broken: it is
    passed on as one malformed element and reading stops there.
    """
    start = _array_start(head, depth)
    while start is None and len(head) < max(64 * size, 1 << 26):
        more = stream.read(max(size, 65536))
        if not more:
            return
        head += more
        start = _array_start(head, depth)
    if start is None:
        return
    reader = _ArrayReader(decoders, depth)
    del head[: start - 1]  # a bytearray drops its start in place, without copying the rest
    block = head
    del head
    while True:
        chunk = builder()
        position, closed = reader.decode(block, chunk)
        carry = block[position:]
        more = b"" if closed else read_block(stream, size, b"[" + carry, buffers)
        at_end = closed or len(more) == len(carry) + 1
        if at_end or len(carry) > max(64 * size, 1 << 26):
            if not closed:
                reader.finish(carry, chunk)
            yield chunk.chunk()
            return
        yield chunk.chunk()
        block = more


def _array_start(head: bytes, depth: int) -> int | None:
    """Offset of the first element of the array (None when the array has not opened yet)."""
    for length in (65536, 1 << 20, len(head)):
        start, _, _ = _element_separators(head[:length], depth, False)
        if start is not None or length >= len(head):
            return start
    return None


class _ArrayReader:
    """Decodes the elements of array blocks, learning the separator between records.

    ``record`` is the number of the next element (1-based), counted over the whole file.
    """

    def __init__(self, decoders, depth: int):
        self.decoder, self.list_decoder = decoders
        self.depth = depth
        self.pattern: re.Pattern | None = None
        self.prefix = b""  # the pattern's fixed start: the text searched for
        self.comma = 0  # offset of the separator's comma from the start of a match
        self.record = 1
        # Bytes split exactly to learn the separator: a few records at first (the exact split
        # is slow), a whole piece if they were too few or too odd to learn from.
        self.learning = LEARNING_BYTES

    def decode(self, block: bytearray, chunk) -> tuple[int, bool]:
        """Decode the complete elements of ``block[1:]`` (``block[0]`` is a separator).

        Returns the offset after the last separator used, and whether the array closed.
        """
        position = 1
        with memoryview(block) as view, collector_paused():
            while True:
                cut = self._cut(block, position)
                if cut is None and self.pattern is None and position + self.learning < len(block):
                    stop = position + self.learning  # no pattern yet: learn it from one exact piece
                    self.learning = PIECE_BYTES
                elif cut is None:
                    break
                else:
                    records = self._decode_piece(block, view, position, cut)
                    if records is not None:
                        rows = np.arange(self.record, self.record + len(records), dtype=np.int64)
                        chunk.add(records, rows, _Elements(block, position, cut + 1))
                        self.record += len(records)
                        position = cut + self.comma + 1
                        continue
                    stop = cut  # a bad record, or the pattern inside a record
                position, closed, done = self._exact(block, position, stop, chunk)
                if closed or done:
                    return position, closed
        position, closed, _ = self._exact(block, position, len(block), chunk)
        return position, closed

    def _cut(self, block: bytearray, position: int) -> int | None:
        """Offset of the ``}`` ending the last record of the next piece, by the learnt separator.

        The piece ends at the last separator within :data:`PIECE_BYTES` of ``position`` (the
        first one after, for records longer than that); None when none follows.
        """
        if self.pattern is None:
            return None
        target = position + PIECE_BYTES
        found = self._last_separator(block, position, min(target, len(block)))
        if found is None and target < len(block):
            found = self._first_separator(block, target)
        return found

    def _last_separator(self, block: bytearray, low: int, high: int) -> int | None:
        while (at := block.rfind(self.prefix, low, high)) >= 0:
            if self.pattern.match(block, at):
                return at
            high = at + len(self.prefix) - 1
        return None

    def _first_separator(self, block: bytearray, low: int) -> int | None:
        while (at := block.find(self.prefix, low)) >= 0:
            if self.pattern.match(block, at):
                return at
            low = at + 1
        return None

    def _decode_piece(self, block: bytearray, view, position: int, cut: int) -> list | None:
        """``block[position:cut + 1]`` decoded as an array, or None if it is not one."""
        opening, closing = block[position - 1], block[cut + 1]
        block[position - 1], block[cut + 1] = ord("["), ord("]")
        try:
            return self.list_decoder.decode(view[position - 1: cut + 2])
        except msgspec.DecodeError:
            return None
        finally:
            block[position - 1], block[cut + 1] = opening, closing

    def _exact(self, block: bytearray, position: int, stop: int, chunk) -> tuple[int, bool, bool]:
        """Split ``block[position:stop]`` exactly and decode its elements one by one.

        Returns (offset after the last separator, whether the array closed, whether the
        block is done): when no element ends before ``stop``, a piece more is split with it.
        """
        text = bytes(block[position:stop])
        _, separators, closed = _element_separators(text, self.depth, True)
        if not len(separators):
            if stop < len(block):
                return self._exact(block, position, min(stop + PIECE_BYTES, len(block)), chunk)
            return position, False, True
        self._learn(text, separators)
        self._add_elements(text, separators, chunk)
        return position + int(separators[-1]) + 1, closed, stop == len(block)

    def _add_elements(self, text: bytes, separators: np.ndarray, chunk) -> None:
        rows = np.arange(self.record, self.record + len(separators), dtype=np.int64)
        chunk.add_decoded(_decode_elements(self.decoder, _as_lines(text, 0, separators), rows, chunk.source))
        self.record += len(separators)

    def finish(self, carry, chunk) -> None:
        """The file ended inside the array: the last elements, and a cut-off one if any."""
        carry = bytes(carry)
        _, separators, closed = _element_separators(carry, self.depth, True)
        if len(separators):
            self._add_elements(carry, separators, chunk)
            carry = carry[int(separators[-1]) + 1:]
        tail = b"" if closed else carry.strip()
        if tail:
            line = tail.replace(b"\r", b" ").replace(b"\n", b" ")
            chunk.add_decoded(decode_records(self.decoder, [line], np.array([self.record]), chunk.source))
            self.record += 1

    def _learn(self, text: bytes, separators: np.ndarray) -> None:
        """Learn the separator between records from an exactly split piece (once)."""
        if self.pattern is not None:
            return
        for end in separators:
            pattern = _separator_pattern(text, int(end))
            if pattern is not None:
                self.pattern, self.prefix, self.comma = pattern
                return


_SPACE = rb"[ \t\r\n]*"
_STRING = rb'"(?:[^"\\]|\\.)*"'
#: A record's end and the next one's start: ``}``, comma, ``{``, first key, and when the
#: first value is a string or a number, that value and the second key.
_SEPARATOR = re.compile(
    rb"(\}" + _SPACE + rb")(," + _SPACE + rb"\{" + _SPACE + rb")(" + _STRING + _SPACE + rb":" + _SPACE + rb")"
    + rb"(?:(" + _STRING + rb"|-?[0-9][0-9.eE+-]*|true|false|null)(" + _SPACE + rb"," + _SPACE + rb")("
    + _STRING + _SPACE + rb":))?"
)


def _separator_pattern(text: bytes, comma: int) -> tuple[re.Pattern, bytes, int] | None:
    """A regular expression for the text around the record separator at ``text[comma]``.

    It spans from the ``}`` closing one record to the first key of the next, its value when
    that is a string or a number, and the second key, e.g. ``},{"id":"…","createdDateTime":``
    (nested objects seldom repeat a record's first two keys). Returns the pattern, its fixed
    start and the offset of the comma from the start of a match; None when records are not
    objects.
    """
    closing = text.rfind(b"}", 0, comma)
    if closing < 0:
        return None
    match = _SEPARATOR.match(text, closing)
    if match is None or match.start(2) != comma or match.group(1).strip() != b"}":
        return None
    closing, opening, first_key, value, between, second_key = match.groups()
    pattern = re.escape(closing + opening + first_key)
    if value is not None:
        value_pattern = _STRING if value.startswith(b'"') else rb"[-0-9.eE+a-z]+"
        pattern += value_pattern + re.escape(between + second_key)
    return re.compile(pattern), closing + opening + first_key, len(closing)


def _decode_elements(decoder, lines: bytes, rows: np.ndarray, source: str) -> Decoded:
    """Decode exactly split elements, one per line; isolate the bad ones only on failure."""
    count = len(rows)
    records = _decode_all(decoder, lines, count)
    if records is not None:
        return Decoded(records, rows, split_lines(lines))
    texts = split_lines(lines)
    return decode_records(decoder, texts, rows, source)


#: Bytes that matter for finding array elements: brackets, braces, commas, quotes, backslash.
_INTERESTING = np.zeros(256, dtype=bool)
_INTERESTING[[ord(c) for c in '{}[],"\\']] = True
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("{"), ord("[")]] = 1
_STEP[[ord("}"), ord("]")]] = -1


def _as_lines(buf: bytes, start: int, separators: np.ndarray) -> bytes:
    """Bytes from ``start`` up to the last separator, with separators turned into newlines.

    Newlines inside an element become spaces (JSON allows any whitespace between tokens,
    and a string cannot hold a raw newline), so that each element is one line.
    """
    data = np.frombuffer(buf, dtype=np.uint8, count=int(separators[-1]) - start, offset=start).copy()
    data[(data == ord("\n")) | (data == ord("\r"))] = ord(" ")
    data[separators[:-1] - start] = ord("\n")
    return data.tobytes()


def _element_separators(buf: bytes, depth: int, opened: bool) -> tuple[int | None, np.ndarray, bool]:
    """Where the array's elements start, and the offsets of the separators that end them.

    Returns (start, separators, closed): ``start`` is the offset of the first element (None
    while the array has not opened yet), ``separators`` the offsets of the commas (and the
    closing bracket) at element level, in order, and whether the array closed. When
    ``opened`` is true, ``buf`` starts right after a separator, outside any string.
    """
    data = np.frombuffer(buf, dtype=np.uint8)
    positions = np.flatnonzero(_INTERESTING[data])
    chars = data[positions]
    structural = ~_inside_strings(positions, chars) & (chars != ord('"')) & (chars != ord("\\"))
    positions, chars = positions[structural], chars[structural]
    step = _STEP[chars]
    before = (depth if opened else 0) + np.cumsum(step, dtype=np.int32) - step
    start = 0
    if not opened:
        opening = np.flatnonzero((chars == ord("[")) & (before == depth - 1))
        if not len(opening):
            return None, positions[:0], False
        start = int(positions[opening[0]]) + 1
        keep = positions >= start
        positions, chars, before = positions[keep], chars[keep], before[keep]
    at_level = before == depth
    ends = np.flatnonzero(at_level & ((chars == ord(",")) | (chars == ord("]"))))
    closing = np.flatnonzero(at_level & (chars == ord("]")))
    closed = bool(len(closing))
    if closed:
        ends = ends[ends <= closing[0]]
    return start, positions[ends], closed


def _inside_strings(positions: np.ndarray, chars: np.ndarray) -> np.ndarray:
    """For each interesting byte, whether it lies inside a JSON string literal.

    A quote preceded by an odd run of backslashes is escaped; every other quote toggles the
    in-string state. Works on the interesting bytes only (a fraction of the buffer).
    """
    quote = chars == ord('"')
    slash = chars == ord("\\")
    if slash.any():
        adjacent = np.diff(positions, prepend=-2) == 1
        run_start = slash & ~(np.concatenate([[False], slash[:-1]]) & adjacent)
        index = np.arange(len(chars))
        first = np.maximum.accumulate(np.where(run_start, index, 0))
        run_length = index - first + 1
        after_slash = np.concatenate([[False], slash[:-1]]) & adjacent
        odd_before = np.concatenate([[False], (run_length % 2 == 1)[:-1]])
        quote &= ~(after_slash & odd_before)
    # Parity of the real quotes before each byte (a quote itself is excluded by the caller).
    parity = np.bitwise_xor.accumulate(quote.view(np.uint8))
    return (parity ^ quote.view(np.uint8)).astype(bool)
