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
  brackets and strings (:func:`element_separators`) and decoded record by record as above.

Each block of about ``chunk_bytes`` bytes (option, default 16 MiB) becomes one
:class:`RecordChunk`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from ztad.ingest.options import chunk_bytes
from ztad.ingest.readers import open_binary
from ztad.ingest.streaming.blocks import (
    Buffers,
    read_block,
)
from ztad.ingest.streaming.json_arrays import array_chunks
from ztad.ingest.streaming.json_lines import line_chunks
from ztad.ingest.streaming.json_records import ChunkBuilder, Converter, RecordChunk
from ztad.ingest.streaming.record_columns import RecordColumns


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

    def builder() -> ChunkBuilder:
        return ChunkBuilder(extract, fields, convert, path)

    buffers = Buffers()
    with open_binary(path) as stream:
        # Enough to tell the layout whatever the block size; it becomes the first block.
        head = read_block(stream, max(size, 65536), buffers=buffers)
        layout = json_layout(head)
        if layout == "lines":
            chunks = line_chunks(decoders[0], stream, size, head, builder, buffers)
        else:
            chunks = array_chunks(decoders, stream, size, head, 1 if layout == "array" else 2, builder, buffers)
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
