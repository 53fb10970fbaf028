"""JSON Lines streamed in blocks: a piece of lines decoded at once, proven one record per line."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ztad.ingest.streaming.blocks import (
    Buffers,
    iter_line_buffers,
    line_ends,
)
from ztad.ingest.streaming.json_records import (
    PIECE_BYTES,
    RecordChunk,
    decode_all,
    decode_records,
)
from ztad.ingest.streaming.record_columns import collector_paused


class Slices:
    """Texts of records that are lines of a block, cut out only when asked for."""

    def __init__(self, block, starts: np.ndarray, stops: np.ndarray):
        self.block, self.starts, self.stops = block, starts, stops

    def __call__(self, positions: np.ndarray) -> list[bytes]:
        return [bytes(self.block[self.starts[i]: self.stops[i]]) for i in positions]


def line_chunks(decoder, stream, size: int, head: bytearray, builder, buffers: Buffers) -> Iterator[RecordChunk]:
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
        records = decode_all(decoder, view[starts[0]: stops[-1]], len(starts))
    if records is not None:
        chunk.add(records, rows, Slices(block, starts, stops))
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
