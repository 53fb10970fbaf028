"""JSON arrays streamed in blocks: records cut at a separator learnt from the first ones, or
split exactly by tracking brackets and strings when that fails."""

from __future__ import annotations

import re
from collections.abc import Iterator

import msgspec
import numpy as np

from ztad.ingest.streaming.blocks import (
    Buffers,
    read_block,
    split_lines,
)
from ztad.ingest.streaming.json_records import (
    LEARNING_BYTES,
    PIECE_BYTES,
    Decoded,
    RecordChunk,
    decode_all,
    decode_records,
)
from ztad.ingest.streaming.record_columns import collector_paused


class Elements:
    """Texts of array elements in ``block[start:stop]``, split exactly only when asked for."""

    def __init__(self, block, start: int, stop: int):
        self.block, self.start, self.stop = block, start, stop

    def __call__(self, positions: np.ndarray) -> list[bytes]:
        text = bytes(self.block[self.start: self.stop]) + b"]"
        _, separators, _ = element_separators(text, 1, True)
        lines = split_lines(as_lines(text, 0, separators))
        return [lines[i] for i in positions]


def array_chunks(
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
        start, _, _ = element_separators(head[:length], depth, False)
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
                        chunk.add(records, rows, Elements(block, position, cut + 1))
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
        _, separators, closed = element_separators(text, self.depth, True)
        if not len(separators):
            if stop < len(block):
                return self._exact(block, position, min(stop + PIECE_BYTES, len(block)), chunk)
            return position, False, True
        self._learn(text, separators)
        self._add_elements(text, separators, chunk)
        return position + int(separators[-1]) + 1, closed, stop == len(block)

    def _add_elements(self, text: bytes, separators: np.ndarray, chunk) -> None:
        rows = np.arange(self.record, self.record + len(separators), dtype=np.int64)
        chunk.add_decoded(_decode_elements(self.decoder, as_lines(text, 0, separators), rows, chunk.source))
        self.record += len(separators)

    def finish(self, carry, chunk) -> None:
        """The file ended inside the array: the last elements, and a cut-off one if any."""
        carry = bytes(carry)
        _, separators, closed = element_separators(carry, self.depth, True)
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
    records = decode_all(decoder, lines, count)
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


def as_lines(buf: bytes, start: int, separators: np.ndarray) -> bytes:
    """Bytes from ``start`` up to the last separator, with separators turned into newlines.

    Newlines inside an element become spaces (JSON allows any whitespace between tokens,
    and a string cannot hold a raw newline), so that each element is one line.
    """
    data = np.frombuffer(buf, dtype=np.uint8, count=int(separators[-1]) - start, offset=start).copy()
    data[(data == ord("\n")) | (data == ord("\r"))] = ord(" ")
    data[separators[:-1] - start] = ord("\n")
    return data.tobytes()


def element_separators(buf: bytes, depth: int, opened: bool) -> tuple[int | None, np.ndarray, bool]:
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
