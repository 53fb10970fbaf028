"""Files read in bounded blocks of whole lines, numbered by line."""

import io

import pytest

from ztad.ingest.streaming.blocks import (
    Buffers,
    iter_line_blocks,
    iter_line_buffers,
    line_ends,
    read_block,
    split_lines,
)


def numbered_lines(stream, size):
    """(line number, text) of every line, as the blocks number them."""
    out = []
    for block, first_line, count in iter_line_blocks(stream, size):
        lines = split_lines(block)
        assert len(lines) == count
        out += list(zip(range(first_line, first_line + count), lines))
    return out


@pytest.mark.parametrize("size", [16, 64, 1000, 1 << 20])  # lines of up to 45 bytes
def test_lines_keep_their_numbers_whatever_the_block_size(size):
    lines = [f"line {i} " + "x" * (i % 37) for i in range(300)]
    text = ("\n".join(lines) + "\n").encode()
    got = numbered_lines(io.BytesIO(text), size)
    assert got == [(i + 1, line.encode()) for i, line in enumerate(lines)]


def test_a_last_line_without_line_end_is_kept():
    got = numbered_lines(io.BytesIO(b"a\nb\nlast"), 3)
    assert got == [(1, b"a"), (2, b"b"), (3, b"last")]


def test_a_line_longer_than_several_blocks_is_cut_and_numbered_as_one():
    text = b"short\n" + b"y" * 100 + b"\nafter\n"
    got = numbered_lines(io.BytesIO(text), 10)
    assert [number for number, _ in got] == [1] + [2] * (len(got) - 2) + [3]
    assert b"".join(piece for number, piece in got if number == 2) == b"y" * 100


def test_blocks_are_separate_buffers_that_stay_unchanged():
    text = b"".join(b"%d\n" % i for i in range(1000))
    blocks = [(bytes(block), block, end) for block, end in iter_line_buffers(io.BytesIO(text), 100)]
    assert all(bytes(block) == copy for copy, block, _ in blocks)
    assert b"".join(copy[:end] for copy, _, end in blocks) == text


class ReadOnly:
    """A stream with ``read`` only (some file systems' files)."""

    def __init__(self, data: bytes):
        self.stream = io.BytesIO(data)

    def read(self, size=-1):
        return self.stream.read(min(size, 5))  # short reads, as pipes give


def test_a_stream_without_readinto_is_read_whole():
    assert read_block(ReadOnly(b"0123456789abc"), 12, b">") == bytearray(b">0123456789ab")
    assert bytes(read_block(ReadOnly(b"xyz"), 12)) == b"xyz"


def test_line_ends_are_found_inside_a_range():
    block = bytearray(b"ab\ncd\nef\n")
    assert line_ends(block).tolist() == [2, 5, 8]
    assert line_ends(block, 3, 8).tolist() == [5]


def test_a_buffer_is_reused_only_once_nothing_refers_to_it():
    buffers = Buffers(keep=2)
    kept = memoryview(buffers.get(10))  # something still reads the first buffer
    first = id(kept.obj)
    assert id(buffers.get(10)) != first
    kept.release()
    del kept
    again = buffers.get(12)
    assert id(again) == first and len(again) == 12  # free again, resized
    assert id(buffers.get(5)) != first  # ``again`` refers to it now


def test_records_pointing_into_a_block_keep_it_unchanged_while_the_file_is_read():
    text = b"".join(b"%05d\n" % i for i in range(20_000))
    kept = []
    for block, end in iter_line_buffers(io.BytesIO(text), 4096):
        kept.append((block, end, bytes(block[:end])))
    assert all(bytes(block[:end]) == copy for block, end, copy in kept)
