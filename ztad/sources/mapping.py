"""Generic CSV or JSON Lines logs described by a column-mapping file, and the streaming that
every log-format adapter shares.

Format ``mapping`` reads any CSV or JSON Lines file whose columns a small mapping file
describes (YAML or JSON)::

    format: csv                      # or jsonl (also a JSON array); default: from the name
    columns:                         # ztad input column -> source column (dotted path in JSON)
      timestamp: EventTime
      user_id: user.name
      ip_address: src_ip
      login_success: result
      resource_accessed: app
    timestamp_format: "%d/%m/%Y %H:%M:%S"   # strftime format; default ISO 8601
    timezone: Europe/Madrid          # zone of timestamps that carry no offset; default UTC
    success_values: [success, ok]    # login_success values meaning success, any case;
                                     # every other value is a failure
    failure_values: [failure, denied]   # optional: then a value in neither list is quarantined
    constants: {resource_accessed: vpn}   # fixed values for columns the source lacks
    delimiter: ","                   # CSV only

The source option ``mapping`` is the path (or fsspec URL) of that file, or the mapping itself
as a dict.

The vendor adapters (``sshd``, ``windows``, ``okta``, ``entra``) build on the primitives
defined here, so that every format streams the same way: fixed-size blocks of whole lines (or
JSON records) with their 1-based line or record numbers, records that cannot be decoded
quarantined with the reason, and one way to read options. A large file is therefore never
held in memory at once: each block becomes one :class:`~ztad.sources.readers.RawBatch`.

Shared options: ``chunk_bytes`` (bytes read per batch, default 16 MiB) and ``timezone``.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ztad.schema import OPTIONAL_INPUT_COLUMNS, REQUIRED_INPUT_COLUMNS
from ztad.sources.readers import RawBatch, open_binary
from ztad.validation import QUARANTINE_COLUMNS, empty_quarantine, quarantine_frame

DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
#: Quarantined raw text is cut to this many characters so that one monster line cannot
#: bloat the quarantine table.
MAX_RAW_CHARS = 8192


class SourceOptionError(ValueError):
    """A source option has a value the adapter cannot use; the message names the option."""


class MappingError(ValueError):
    """The mapping file is unusable (unknown column, missing source column, bad format)."""


# --------------------------------------------------------------------------- options


def option_str(options: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """Return option ``name`` as text, or ``default`` when it is absent or empty."""
    value = options.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return str(value).strip()


def option_bool(options: Mapping[str, Any], name: str, default: bool) -> bool:
    """Return option ``name`` as a bool; accepts true/false, yes/no, 1/0 in any case."""
    value = options.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise SourceOptionError(f"option {name!r} must be true or false, not {value!r}")


def option_int(options: Mapping[str, Any], name: str, default: int | None) -> int | None:
    """Return option ``name`` as a positive integer."""
    value = options.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SourceOptionError(f"option {name!r} must be a whole number, not {value!r}") from None
    if number <= 0:
        raise SourceOptionError(f"option {name!r} must be positive, not {value!r}")
    return number


def option_list(options: Mapping[str, Any], name: str) -> list[str] | None:
    """Return option ``name`` as a list of strings (a list, or comma-separated text)."""
    value = options.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def option_timezone(options: Mapping[str, Any], name: str = "timezone") -> str:
    """Return the IANA zone named by option ``name`` (default ``UTC``), checked to exist."""
    zone = option_str(options, name, "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceOptionError(
            f"option {name!r}: unknown time zone {zone!r}; use an IANA name such as Europe/Madrid"
        ) from None
    return zone


def chunk_bytes(options: Mapping[str, Any]) -> int:
    """Bytes read per batch (option ``chunk_bytes``)."""
    return option_int(options, "chunk_bytes", DEFAULT_CHUNK_BYTES)


# --------------------------------------------------------------------------- quarantine


def quarantine_records(source: str, rows, field_name, reasons, raw, raw_is_json: bool = False) -> pd.DataFrame:
    """Quarantine records (:data:`QUARANTINE_COLUMNS`) with ``raw`` stored as valid JSON.

    ``raw`` holds each record's original text (bytes or str). Text that is already a JSON
    document (a record that decoded) is kept as it is; other text (a log line, JSON that did
    not parse) is stored as a JSON string. Text longer than :data:`MAX_RAW_CHARS` is cut and
    stored as a JSON string, so that one monster line cannot bloat the quarantine table.
    """
    texts = [_as_text(value) for value in raw]
    keep = [raw_is_json and len(text) <= MAX_RAW_CHARS for text in texts]
    texts = [text if kept else json.dumps(text[:MAX_RAW_CHARS], ensure_ascii=False) for text, kept in zip(texts, keep)]
    return quarantine_frame(source, rows, field_name, reasons, texts)[QUARANTINE_COLUMNS]


def _as_text(value) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace").rstrip("\r\n")
    return str(value)


def concat_quarantine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate quarantine frames, ordered by source row."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_quarantine()
    return pd.concat(parts, ignore_index=True).sort_values("source_row", kind="stable", ignore_index=True)


# --------------------------------------------------------------------------- files and blocks


def iter_blocks(stream, size: int) -> Iterator[bytes]:
    """Yield the stream's bytes in pieces of about ``size`` bytes."""
    while True:
        data = stream.read(size)
        if not data:
            return
        yield data


def iter_line_blocks(stream, size: int, head: bytes = b"") -> Iterator[tuple[bytes, int, int]]:
    """Read blocks of about ``size`` bytes ending at a line end.

    Yields (block, number of its first line, number of lines in it). ``head`` is data
    already read from the stream (to sniff the format). A line longer than four blocks is
    passed on cut into pieces, all numbered as that line (they then fail to parse and are
    quarantined), rather than growing without bound.
    """
    first_line = 1
    while True:
        block = head or stream.read(size)
        head = b""
        if not block:
            return
        if not block.endswith(b"\n"):
            block += stream.readline(4 * size)
        ended = block.count(b"\n")
        yield block, first_line, ended + (not block.endswith(b"\n"))
        first_line += ended  # an unfinished line continues in the next block


def split_lines(block: bytes) -> list[bytes]:
    """The lines of a block, without their line ends (a final newline adds no empty line)."""
    lines = block.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


# --------------------------------------------------------------------------- JSON records


@dataclass
class RecordChunk:
    """Decoded JSON records of one block.

    Attributes
    ----------
    records
        Decoded records (instances of the adapter's msgspec ``Struct``).
    rows
        1-based line number (JSON Lines) or record number (JSON array) of each record.
    quarantine
        Records that could not be decoded, with the decoder's reason.
    lines
        Original text of each record, or None when the records are every line of ``block``
        (then the texts are cut out of it only if one is needed, see :meth:`raw_at`).
    block
        The block of JSON Lines the records came from.
    """

    records: list
    rows: np.ndarray
    quarantine: pd.DataFrame = field(default_factory=empty_quarantine)
    lines: list[bytes] | None = None
    block: bytes | None = None

    def raw_at(self, positions) -> list[bytes]:
        """Original text of the records at ``positions``, to quarantine them."""
        if not len(positions):
            return []
        if self.lines is None:
            self.lines = split_lines(self.block or b"")
        return [self.lines[i] for i in np.asarray(positions, dtype=np.int64)]


def iter_json_records(path: str, record_type: type, options: Mapping[str, Any]) -> Iterator[RecordChunk]:
    """Stream the records of a JSON file in bounded blocks, decoded into ``record_type``.

    Accepts JSON Lines (one object per line), a JSON array (as the Okta API returns), and an
    object wrapping the array in ``value`` (as Microsoft Graph exports do). Unknown fields are
    ignored by the decoder; a line that is not valid JSON, or whose known fields have the
    wrong type, is quarantined with its line (or record) number.
    """
    decoder = msgspec.json.Decoder(record_type)
    size = chunk_bytes(options)
    with open_binary(path) as stream:
        first = stream.read(max(size, 65536))  # enough to tell the layout whatever the block size
        layout = json_layout(first)
        if layout == "lines":
            for block, first_line, count in iter_line_blocks(stream, size, first):
                yield _decode_line_block(decoder, block, first_line, count, path)
        else:
            depth = 1 if layout == "array" else 2
            pieces = _prepend(first, iter_blocks(stream, size))
            yield from _array_chunks(decoder, pieces, size, depth, path)


def json_layout(head: bytes) -> str:
    """``lines``, ``array`` or ``wrapped`` (``{"value": [...]}``), from a file's first bytes."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "array"
    if re.match(rb'\{\s*"(?:value|@odata\.[^"]*)"\s*:', text):
        return "wrapped"
    return "lines"


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _decode_line_block(decoder, block: bytes, first_line: int, count: int, source: str) -> RecordChunk:
    """Decode a block of JSON Lines in one call; split it into lines only if that fails."""
    records = _decode_block(decoder, block, count)
    if records is not None:
        return RecordChunk(records, np.arange(first_line, first_line + count, dtype=np.int64), block=block)
    lines = split_lines(block)
    return decode_records(decoder, lines, np.arange(first_line, first_line + len(lines), dtype=np.int64), source)


def decode_records(decoder, lines: list[bytes], rows: np.ndarray, source: str) -> RecordChunk:
    """Decode JSON texts; blank ones are skipped, bad ones quarantined with the reason."""
    filled = np.fromiter(map(len, map(bytes.strip, lines)), dtype=np.int64, count=len(lines)) > 0
    if not filled.all():
        lines = list(compress(lines, filled))
        rows = rows[filled]
    records, good, bad = _decode_isolating(decoder, lines, 0)
    if not bad:
        return RecordChunk(records, rows, lines=lines)
    bad_index = np.array([i for i, _ in bad], dtype=np.int64)
    quarantine = quarantine_records(
        source, rows[bad_index], "record", [reason for _, reason in bad], [lines[i] for i in bad_index]
    )
    good_index = np.array(good, dtype=np.int64)
    return RecordChunk(records, rows[good_index], quarantine, lines=[lines[i] for i in good_index])


def _decode_block(decoder, block: bytes, expected: int) -> list | None:
    """All records of a block of JSON Lines, or None if any line is bad."""
    try:
        records = decoder.decode_lines(block)
    except msgspec.DecodeError:
        return None
    return records if len(records) == expected else None


def _decode_isolating(decoder, lines: list[bytes], offset: int):
    """Decode all lines in one call; on failure, bisect to isolate the bad lines.

    A block with k bad lines costs about k * log2(n) decoder calls, each in C, instead of
    one Python-level decode per line.
    """
    if not lines:
        return [], [], []
    try:
        records = decoder.decode_lines(b"\n".join(lines))
        if len(records) == len(lines):
            return records, list(range(offset, offset + len(lines))), []
    except msgspec.DecodeError:
        pass
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

#: Bytes that matter for finding array elements: brackets, braces, commas, quotes, backslash.
_INTERESTING = np.zeros(256, dtype=bool)
_INTERESTING[[ord(c) for c in '{}[],"\\']] = True
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("{"), ord("[")]] = 1
_STEP[[ord("}"), ord("]")]] = -1


def _array_chunks(decoder, pieces, size: int, depth: int, source: str) -> Iterator[RecordChunk]:
    """Decode the elements of a JSON array read in pieces, one chunk per piece.

    ``depth`` is the nesting level of the elements: 1 for a top-level array, 2 for an array
    wrapped in an object. The complete elements of each piece are split out exactly
    (:func:`_split_elements`) and decoded like JSON Lines. An element larger than 64 pieces
    (and 64 MiB) means the array's structure is broken: it is passed on as one malformed
    element and reading stops there.
    """
    pending, opened, record = b"", False, 1
    for piece in pieces:
        pending += piece
        if not opened:
            start, _, _ = _element_separators(pending, depth, False)
            if start is None:
                continue
            pending, opened = pending[start:], True
        block, count, pending, closed = _split_elements(pending, depth)
        if count:
            yield _decode_line_block(decoder, block, record, count, source)
            record += count
        if closed:
            return
        if len(pending) > max(64 * size, 1 << 26):
            break
    if opened:
        yield from _array_end(decoder, pending, record, depth, source)


def _array_end(decoder, pending: bytes, record: int, depth: int, source: str) -> Iterator[RecordChunk]:
    """The last elements of an array, and a cut-off element if the file ends inside one."""
    block, count, rest, closed = _split_elements(pending, depth)
    if count:
        yield _decode_line_block(decoder, block, record, count, source)
    tail = b"" if closed else rest.strip()
    if tail:
        yield _decode_line_block(decoder, tail.replace(b"\r", b" ").replace(b"\n", b" "), record + count, 1, source)


def _split_elements(pending: bytes, depth: int) -> tuple[bytes, int, bytes, bool]:
    """Split complete elements exactly: (JSON Lines block, count, rest, array closed).

    ``pending`` starts right after an element separator (or the opening bracket). Newlines
    inside an element become spaces (JSON allows any whitespace between tokens, and a
    string cannot hold a raw newline) and the commas between elements become newlines, so
    the block decodes like JSON Lines.
    """
    _, separators, closed = _element_separators(pending, depth, True)
    if not len(separators):
        return b"", 0, pending, closed
    block = _as_lines(pending, 0, separators)
    return block, len(separators), pending[int(separators[-1]) + 1:], closed


def _as_lines(buf: bytes, start: int, separators: np.ndarray) -> bytes:
    """Bytes from ``start`` up to the last separator, with separators turned into newlines."""
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


# --------------------------------------------------------------------------- columns


def pluck_many(records: list, paths: Mapping[str, str]) -> dict[str, list]:
    """Values at each attribute path ("a.b.c") of every record; None where a level is None.

    ``map`` with ``getattr`` runs in C, so this costs no Python bytecode per record, and
    each shared prefix ("a.b") is walked only once.
    """
    walked: dict[str, list] = {"": records}

    def values_at(path: str) -> list:
        if path not in walked:
            parent, _, name = path.rpartition(".")
            walked[path] = list(map(getattr, values_at(parent), repeat(name), repeat(None)))
        return walked[path]

    return {name: values_at(path) for name, path in paths.items()}


def text_column(values: list, index=None) -> pd.Series:
    """A nullable string column from decoded JSON scalars; blanks and "-" become missing."""
    try:
        text = pa.array(values, type=pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        # Numbers among the strings (shippers differ): let pandas render them as text.
        text = pa.array(pd.Series(values, dtype=object).astype("string").array, type=pa.string())
    text = pc.utf8_trim_whitespace(text)
    text = pc.if_else(pc.is_in(text, value_set=_NO_VALUE), pa.scalar(None, pa.string()), text)
    return pd.Series(pd.arrays.ArrowStringArray(text), index=index)


_NO_VALUE = pa.array(["", "-"])


def os_and_browser(os: pd.Series, browser: pd.Series) -> pd.Series:
    """``"<os> / <browser>"``, a coarse device stand-in when a log names no device.

    Operating system and browser family change rarely for one person's device, unlike the
    raw user agent string, which changes with every browser update. NA when neither is known.
    """
    known = os.notna() | browser.notna()
    return (os.fillna("?") + " / " + browser.fillna("?")).where(known)


def regex_replace(series: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """RE2 substitution through Arrow (pandas may fall back to Python's re per value)."""
    replaced = pc.replace_substring_regex(_arrow(series), pattern=pattern, replacement=replacement)
    return pd.Series(pd.arrays.ArrowStringArray(replaced), index=series.index)


def regex_matches(series: pd.Series, pattern: str) -> np.ndarray:
    """True where the RE2 ``pattern`` is found; False for missing values."""
    found = pc.match_substring_regex(_arrow(series), pattern=pattern)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def _arrow(series: pd.Series) -> pa.Array:
    return pa.array(series.astype("string").array, type=pa.string())


def parse_times(text: pd.Series, timezone: str, ambiguous_dst=None) -> pd.Series:
    """Parse ISO 8601 timestamps to UTC; those without an offset are local to ``timezone``.

    ``ambiguous_dst`` (bool array, True = summer time) settles wall-clock times that occur
    twice when clocks go back; by default the first (summer-time) occurrence is taken.
    Unparseable values become NaT.
    """
    has_offset = pd.Series(regex_matches(text, r"(?:[zZ]|[+-]\d\d:?\d\d) *$"), index=text.index)
    out = pd.to_datetime(text.where(has_offset), format="ISO8601", utc=True, errors="coerce")
    out = out.astype("datetime64[us, UTC]")
    naive = ~has_offset & text.notna()
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        hint = None if ambiguous_dst is None else np.asarray(ambiguous_dst)[naive.to_numpy()]
        out[naive] = localize(local, timezone, hint).astype("datetime64[us, UTC]")
    return out


def localize(naive: pd.Series, timezone: str, ambiguous_dst=None) -> pd.Series:
    """Attach ``timezone`` to naive wall-clock times and convert them to UTC.

    Times that never existed (the hour skipped when clocks go forward) are shifted forward;
    times that occur twice follow ``ambiguous_dst`` (default: summer time).
    """
    if timezone == "UTC":
        return naive.dt.tz_localize("UTC")
    hint = np.ones(len(naive), dtype=bool) if ambiguous_dst is None else np.asarray(ambiguous_dst, dtype=bool)
    local = naive.dt.tz_localize(timezone, ambiguous=hint, nonexistent="shift_forward")
    return local.dt.tz_convert("UTC")


def stable_ids(prefix: str, parts: pd.DataFrame) -> pd.Series:
    """Stable hex identifiers hashed from ``parts`` (vectorised, fixed key)."""
    hashed = pd.util.hash_pandas_object(parts, index=False, hash_key="ztad-sources-v01").to_numpy()
    hex_digits = np.frombuffer(binascii.hexlify(hashed.astype(">u8").tobytes()), dtype="S16")
    return prefix + pd.Series(hex_digits.astype("U16"), index=parts.index, dtype="string")


def batch(frame: pd.DataFrame, quarantine: pd.DataFrame) -> RawBatch:
    """Wrap one block's parsed frame and quarantine as a :class:`RawBatch`."""
    return RawBatch(frame.reset_index(drop=True), quarantine.reset_index(drop=True))


# --------------------------------------------------------------------------- the mapping format

INPUT_COLUMNS = tuple(REQUIRED_INPUT_COLUMNS) + tuple(OPTIONAL_INPUT_COLUMNS)


@dataclass(frozen=True)
class MappingSpec:
    """A parsed mapping file: how a CSV or JSON Lines file becomes ztad input columns."""

    format: str | None
    columns: dict[str, str]
    timestamp_format: str | None = None
    timezone: str = "UTC"
    success_values: tuple[str, ...] | None = None
    failure_values: tuple[str, ...] | None = None
    constants: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","


def load_mapping(spec: str | Mapping[str, Any]) -> MappingSpec:
    """Read and check a mapping (a YAML/JSON file path or URL, or the mapping as a dict)."""
    if isinstance(spec, Mapping):
        data, where = dict(spec), "mapping"
    else:
        data, where = _read_mapping_file(str(spec)), str(spec)
    if not isinstance(data, Mapping) or not isinstance(data.get("columns"), Mapping):
        raise MappingError(f"{where}: a mapping needs a 'columns' table of ztad column -> source column")
    columns = {str(k): str(v) for k, v in data["columns"].items()}
    constants = {str(k): str(v) for k, v in (data.get("constants") or {}).items()}
    unknown = sorted(set(columns) - set(INPUT_COLUMNS) | set(constants) - set(INPUT_COLUMNS))
    if unknown:
        raise MappingError(f"{where}: unknown ztad column(s) {unknown}; known: {list(INPUT_COLUMNS)}")
    missing = [c for c in REQUIRED_INPUT_COLUMNS if c not in columns and c not in constants]
    if missing:
        raise MappingError(f"{where}: required column(s) {missing} are not mapped")
    fmt = data.get("format")
    if fmt is not None and str(fmt).lower() not in {"csv", "jsonl"}:
        raise MappingError(f"{where}: format must be csv or jsonl, not {fmt!r}")
    timezone = option_timezone({"timezone": data.get("timezone") or "UTC"})
    return MappingSpec(
        format=str(fmt).lower() if fmt else None,
        columns=columns,
        timestamp_format=data.get("timestamp_format") or None,
        timezone=timezone,
        success_values=_lowered(data.get("success_values")),
        failure_values=_lowered(data.get("failure_values")),
        constants=constants,
        delimiter=str(data.get("delimiter") or ","),
    )


def _read_mapping_file(path: str):
    with open_binary(path) as stream:
        text = stream.read().decode("utf-8")
    try:
        if path.lower().endswith(".json"):
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except (ValueError, ImportError) as error:
        raise MappingError(f"{path}: cannot read the mapping file: {error}") from None


def _lowered(values) -> tuple[str, ...] | None:
    if values is None:
        return None
    if not isinstance(values, (list, tuple)):
        values = [values]
    return tuple(str(v).strip().lower() for v in values)


def read(path: str, options: dict) -> Iterator[RawBatch]:
    """Read a CSV or JSON Lines file through the mapping named by option ``mapping``.

    Yields one :class:`RawBatch` per block of about ``chunk_bytes`` bytes. Rows whose
    timestamp cannot be parsed with the mapping's format, or whose ``login_success`` is in
    neither value list (when both are given), are quarantined with their line number.
    """
    if not options.get("mapping"):
        raise SourceOptionError("format 'mapping' needs option 'mapping': the path of a mapping file")
    spec = load_mapping(options["mapping"])
    fmt = spec.format or _format_from_name(path)
    tables = _csv_tables(path, spec, options) if fmt == "csv" else _jsonl_tables(path, spec, options)
    for table, rows, raw_at, quarantine in tables:
        frame, bad = _apply_mapping(table, rows, raw_at, spec, path)
        yield batch(frame, concat_quarantine([quarantine, bad]))


def _format_from_name(path: str) -> str:
    suffixes = [s.lower() for s in PurePosixPath(path.split("?")[0]).suffixes]
    if ".csv" in suffixes or ".tsv" in suffixes:
        return "csv"
    if {".jsonl", ".ndjson", ".json"} & set(suffixes):
        return "jsonl"
    raise MappingError(f"{path}: cannot tell csv from jsonl by the name; set 'format' in the mapping")


def _csv_tables(path: str, spec: MappingSpec, options):
    """Yield (source columns, line numbers, None, quarantine) per batch of a CSV file.

    The builtin CSV reader does the splitting, so line numbers and quoting follow the same
    rules as format ``csv``.
    """
    from ztad.sources.readers import read_csv

    csv_options = {"delimiter": spec.delimiter, "chunk_bytes": chunk_bytes(options)}
    for raw_batch in read_csv(path, csv_options):
        table = raw_batch.frame
        missing = sorted(set(spec.columns.values()) - set(table.columns))
        if missing:
            raise MappingError(
                f"{path}: column(s) {missing} named in the mapping are not in the file; "
                f"its columns are {[c for c in table.columns if c != 'source_row']}"
            )
        rows = table.pop("source_row").to_numpy(dtype=np.int64)
        yield table, rows, None, raw_batch.quarantine


def _jsonl_tables(path: str, spec: MappingSpec, options):
    """Yield (columns frame, line numbers, raw text getter, quarantine) per block of JSON Lines."""
    record_type, attribute_paths = _struct_for_paths(sorted(set(spec.columns.values())))
    for chunk in iter_json_records(path, record_type, options):
        values = pluck_many(chunk.records, attribute_paths)
        table = pd.DataFrame({source: text_column(column) for source, column in values.items()})
        yield table, chunk.rows, chunk.raw_at, chunk.quarantine


def _struct_for_paths(paths: list[str]) -> tuple[type, dict[str, str]]:
    """Build a msgspec Struct type that decodes only the given dotted JSON paths.

    Returns the type and, for each path, the attribute path to pluck. Keys become generated
    attribute names (``f0``, ``f1``...) renamed to the JSON key, so any key text works.
    """
    tree: dict = {}
    for path in paths:
        node = tree
        for key in path.split("."):
            node = node.setdefault(key, {})
    counter = iter(range(1_000_000))
    attribute_paths: dict[str, str] = {}

    def build(node: dict, prefix_keys: list[str], prefix_attrs: list[str]) -> type:
        fields, rename = [], {}
        for key, child in node.items():
            attr = f"f{next(counter)}"
            rename[attr] = key
            if child:
                fields.append((attr, build(child, prefix_keys + [key], prefix_attrs + [attr]) | None, None))
            else:
                fields.append((attr, Any, None))
                attribute_paths[".".join(prefix_keys + [key])] = ".".join(prefix_attrs + [attr])
        return msgspec.defstruct(f"Record{next(counter)}", fields, rename=rename, gc=False)

    return build(tree, [], []), attribute_paths


def _apply_mapping(table: pd.DataFrame, rows: np.ndarray, raw_at, spec: MappingSpec, source: str):
    """Turn source columns into ztad input columns; return (frame, quarantine)."""
    frame = pd.DataFrame({c: table[s] for c, s in spec.columns.items()}, index=table.index)
    for column, value in spec.constants.items():
        frame[column] = pd.Series(value, index=table.index, dtype="string")
    field_name = pd.Series(pd.NA, index=table.index, dtype="string")
    reason = pd.Series(pd.NA, index=table.index, dtype="string")
    if "timestamp" in spec.columns:
        text = frame["timestamp"]
        frame["timestamp"] = _mapped_times(text, spec)
        bad = (frame["timestamp"].isna() & text.notna()).to_numpy()
        field_name[bad] = "timestamp"
        reason[bad] = "unparseable timestamp " + text[bad].map(repr)
    if spec.success_values is not None and "login_success" in spec.columns:
        text = frame["login_success"]
        frame["login_success"], unknown = _mapped_success(text, spec)
        bad = (unknown & field_name.isna()).to_numpy()
        field_name[bad] = "login_success"
        reason[bad] = text[bad].map(repr) + " is neither a success nor a failure value"
    frame["source_row"] = rows
    bad = field_name.notna().to_numpy()
    quarantine = quarantine_records(
        source, rows[bad], field_name[bad], reason[bad], _raw_rows(table, raw_at, bad), raw_is_json=True
    )
    return frame[~bad], quarantine


def _raw_rows(table: pd.DataFrame, raw_at, bad: np.ndarray) -> list:
    """Original text of the bad rows: the JSON line, or the CSV row's fields as JSON."""
    if raw_at is not None:
        return raw_at(np.flatnonzero(bad))
    return [json.dumps(row) for row in table[bad].to_dict("records")]


def _mapped_times(text: pd.Series, spec: MappingSpec) -> pd.Series:
    """Timestamps in UTC; with a format carrying no zone, local to the mapping's zone."""
    fmt = spec.timestamp_format
    if not fmt:
        return parse_times(text, spec.timezone)
    if "%z" in fmt or "%Z" in fmt:
        return pd.to_datetime(text, format=fmt, utc=True, errors="coerce").astype("datetime64[us, UTC]")
    naive = pd.to_datetime(text, format=fmt, errors="coerce")
    return localize(naive, spec.timezone).astype("datetime64[us, UTC]")


def _mapped_success(text: pd.Series, spec: MappingSpec) -> tuple[pd.Series, pd.Series]:
    """Success flags from the value lists, and a mask of values in neither list."""
    value = text.str.strip().str.lower()
    success = value.isin(spec.success_values).fillna(False).astype(bool)
    if spec.failure_values is None:
        return success, pd.Series(False, index=text.index)
    failure = value.isin(spec.failure_values).fillna(False).astype(bool)
    return success, ~(success | failure)
