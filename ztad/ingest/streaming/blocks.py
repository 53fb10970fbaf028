"""Files read in bounded blocks of whole lines: how the log adapters stream a file.

A block is a ``bytearray`` of about ``chunk_bytes`` bytes that ends at a line end. It is
filled straight from the stream, with only the unfinished last line of the previous block
copied in front, so a large file is never held in memory at once and no block is copied
again after it is read. Buffers are reused (:class:`Buffers`), but never while anything
still refers to one, so the records decoded from a block can point back into it (to
quarantine their original text) for as long as they are kept.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np

#: A line longer than this many blocks is passed on cut into pieces rather than grown.
MAX_LINE_BLOCKS = 4


class Buffers:
    """Block buffers of one file, handed out again once nothing refers to them any more.

    A fresh buffer of many megabytes costs a zero fill and page faults on every block;
    reusing one saves both. A buffer is reused only when no other object refers to it (no
    record text, view or array points into it), so a block never changes under anything
    that still reads it: a caller that keeps its blocks simply gets new ones.
    """

    def __init__(self, keep: int = 3):
        self.keep = keep
        self.buffers: list[bytearray] = []

    def get(self, length: int) -> bytearray:
        """A buffer of ``length`` bytes (its content is undefined).

        A new buffer is allocated with room to spare (an eighth, at most 1 MiB) and cut to
        ``length``: a bytearray keeps its allocation when cut by less than half, so later
        blocks a little longer (blocks start with the end of the previous one) grow in place
        instead of being reallocated and copied.
        """
        for buffer in self.buffers:
            if sys.getrefcount(buffer) <= 3:  # this list, the loop variable, the argument
                if len(buffer) > length:
                    del buffer[length:]
                elif len(buffer) < length:
                    buffer.extend(bytes(length - len(buffer)))
                return buffer
        buffer = bytearray(length + min(length >> 3, 1 << 20))
        del buffer[length:]
        if len(self.buffers) < self.keep:
            self.buffers.append(buffer)
        return buffer


def read_block(stream, size: int, carry: bytes | bytearray = b"", buffers: Buffers | None = None) -> bytearray:
    """A buffer holding ``carry`` then up to ``size`` more bytes of ``stream``.

    Shorter than ``len(carry) + size`` only at the end of the stream. The buffer comes from
    ``buffers`` when given (else it is new).
    """
    block = buffers.get(len(carry) + size) if buffers is not None else bytearray(len(carry) + size)
    block[: len(carry)] = carry
    filled = len(carry)
    readinto = getattr(stream, "readinto", None)
    with memoryview(block) as view:
        while filled < len(block):
            if readinto is not None:
                got = readinto(view[filled:])
            else:  # a stream without readinto: one copy per read
                data = stream.read(len(block) - filled)
                view[filled: filled + len(data)] = data
                got = len(data)
            if not got:
                break
            filled += got
    del block[filled:]
    return block


def line_ends(block, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Offsets of the ``\\n`` bytes in ``block[start:stop]`` (relative to ``block``), in order."""
    data = np.frombuffer(block, dtype=np.uint8)
    return np.flatnonzero(data[start:stop] == 10) + start


def iter_line_buffers(
    stream, size: int, head: bytes | bytearray = b"", buffers: Buffers | None = None
) -> Iterator[tuple[bytearray, int]]:
    """Yield (block, end): ``block[:end]`` holds whole lines, ``block[end:]`` nothing more.

    ``head`` is data already read from the stream (to sniff the format): a copy of it is
    the first block, unless ``buffers`` is given, in which case ``head`` should be a buffer
    of ``buffers`` and is the first block itself. ``end`` is the offset after the block's
    last line end, or the block's length for the last block (whose last line may be
    unfinished) and for a line longer than :data:`MAX_LINE_BLOCKS` blocks, which is passed
    on cut into pieces. The bytes after ``end`` start the next block, which is read before a
    block is handed out, to know whether it is the last.
    """
    if buffers is None or not isinstance(head, bytearray):
        head = bytearray(head)
    buffers = Buffers() if buffers is None else buffers
    block = head if head else read_block(stream, size, buffers=buffers)
    del head
    while block:
        end = block.rfind(b"\n") + 1
        if end == 0 and len(block) > (MAX_LINE_BLOCKS + 1) * size:
            end = len(block)  # a line too long: passed on cut
        following = read_block(stream, size, block[end:], buffers)
        if len(following) == len(block) - end:  # nothing more to read
            yield block, len(block)
            return
        if end == 0:  # no line end yet: read on
            block = following
            continue
        yield block, end
        block = following


def iter_line_blocks(stream, size: int, head: bytes = b"") -> Iterator[tuple[bytearray, int, int]]:
    """Read blocks of about ``size`` bytes ending at a line end.

    Yields (block, number of its first line, number of lines in it). ``head`` is data
    already read from the stream (to sniff the format). A line longer than four blocks is
    passed on cut into pieces, all numbered as that line (they then fail to parse and are
    quarantined), rather than growing without bound.
    """
    first_line = 1
    for block, end in iter_line_buffers(stream, size, head):
        del block[end:]  # already carried over to the next block
        ended = len(line_ends(block))
        yield block, first_line, ended + (not block.endswith(b"\n"))
        first_line += ended  # an unfinished line continues in the next block


def split_lines(block) -> list[bytes]:
    """The lines of a block, without their line ends (a final newline adds no empty line)."""
    lines = bytes(block).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines
