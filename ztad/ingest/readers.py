"""Readers turn one log file into batches of raw rows, each row tagged with where it came from.

A reader is a function ``read(path: str, options: dict) -> Iterator[RawBatch]``. It does not
judge values: it hands over the file's columns as they are (any dtype, usually text) plus
``source_row``, so that :func:`ztad.ingest.validation.validate` sees exactly what the file said and
can quarantine a bad row with its original content. Records the reader cannot even split
into fields go straight to the batch's ``quarantine``.

Builtin formats (compression is inferred from the file name, e.g. ``.csv.gz``):

``csv``
    Header line, then one record per line. Every value is read as text. ``source_row`` is the
    physical line number in the (decompressed) file: the header is line 1, so the first data
    row is line 2; a quoted value spanning several lines moves later rows down accordingly.
    Blank lines are skipped (they hold no event). Options: ``delimiter`` (default ``,``),
    ``encoding`` (default UTF-8), ``chunk_bytes`` (bytes parsed per batch, default 16 MiB).
``jsonl``
    One JSON object per line; ``source_row`` is the line number (first line = 1). Blank lines
    are skipped. Option ``chunk_bytes`` as for CSV.
``parquet``
    ``source_row`` is the 1-based row number in the file. Option ``chunk_rows`` (rows per
    batch, default 262144).

Any other format name ``fmt`` is a plug-in: the module ``ztad.ingest.formats.<fmt>`` and its
``read(path, options)``.
"""

from __future__ import annotations

import codecs
import contextlib
import importlib
import io
import json
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ztad.ingest.validation import QUARANTINE_COLUMNS, empty_quarantine, quarantine_frame

__all__ = [
    "QUARANTINE_COLUMNS",
    "RawBatch",
    "SourceReadError",
    "UnknownFormatError",
    "UnreadableFileError",
    "empty_quarantine",
    "format_from_name",
    "get_reader",
    "known_formats",
    "quarantine_frame",
    "read_csv",
    "read_jsonl",
    "read_parquet",
]

BUILTIN_FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")

#: File name endings of the builtin formats, longest first so ``.csv.gz`` wins over ``.gz``.
FORMAT_SUFFIXES: dict[str, str] = {
    ".csv.gz": "csv",
    ".jsonl.gz": "jsonl",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".parquet": "parquet",
}

DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
DEFAULT_CHUNK_ROWS = 262_144
_MIN_BLOCK = 1024

Reader = Callable[[str, dict], Iterator["RawBatch"]]


class UnknownFormatError(ValueError):
    """A format name that is neither builtin nor a ``ztad.ingest`` plug-in module."""


class SourceReadError(ValueError):
    """A whole file cannot be read (corrupt, wrong format); the message names the file."""


class UnreadableFileError(SourceReadError):
    """A file breaks off or is corrupt while it is read (a truncated ``.gz``).

    Attributes
    ----------
    path
        The file or URL.
    """

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        super().__init__(f"{path}: {detail}")


@dataclass
class RawBatch:
    """One chunk of a source file.

    Attributes
    ----------
    frame
        The file's columns with raw values (any dtype) plus ``source_row`` (int64, 1-based).
    quarantine
        Records the reader could not parse into fields (:data:`QUARANTINE_COLUMNS`).
    skipped
        ``source_row`` of each record read that carries no authentication attempt (an sshd
        session or cron line, a Windows event id that is not a sign-in, an Okta step of a
        sign-in not yet decided...): counted, neither scored nor quarantined.
    """

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    skipped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


# --------------------------------------------------------------------------- formats


def format_from_name(path: str) -> str | None:
    """The builtin format a file name ends with (``x.csv.gz`` -> ``csv``), else ``None``."""
    name = path.split("?", 1)[0].lower()
    for suffix, fmt in FORMAT_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return None


def known_formats() -> list[str]:
    """Builtin formats followed by the plug-in modules found in ``ztad.ingest.formats``."""
    import ztad.ingest.formats as package

    plugins = sorted(
        info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_")
    )
    return list(BUILTIN_FORMATS) + [name for name in plugins if name not in BUILTIN_FORMATS]


def get_reader(fmt: str) -> Reader:
    """Return the reader for ``fmt``.

    ``csv``, ``parquet`` and ``jsonl`` (also written ``csv.gz``, ``jsonl.gz``) are builtin;
    any other name is looked up as the module ``ztad.ingest.formats.<fmt>``, which must define
    ``read(path, options)``.

    Raises
    ------
    UnknownFormatError
        When no such reader exists; the message lists the known formats.
    """
    name = str(fmt).strip().lower()
    builtin = {"csv": read_csv, "parquet": read_parquet, "jsonl": read_jsonl}
    base = name.removesuffix(".gz")
    if base in builtin:
        return builtin[base]
    if not name.isidentifier():
        raise _unknown(fmt)
    module_name = f"ztad.ingest.formats.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise  # the plug-in exists but one of its own imports is missing
        raise _unknown(fmt) from None
    reader = getattr(module, "read", None)
    if not callable(reader):
        raise UnknownFormatError(f"module {module_name} has no read(path, options) function")
    return reader


def _unknown(fmt: str) -> UnknownFormatError:
    return UnknownFormatError(
        f"unknown log format {fmt!r}; known formats: {', '.join(known_formats())}. "
        "Set SourceConfig.format to one of them, or leave it empty to guess from file names."
    )


# --------------------------------------------------------------------------- shared pieces


@contextlib.contextmanager
def open_binary(path: str):
    """Open a local path or fsspec URL for binary reading, decompressing by file name.

    A byte order mark is not data: a UTF-8 one is skipped, and a UTF-16 file (as Windows
    tools such as PowerShell write them) is read as UTF-8.
    """
    import fsspec

    with fsspec.open(path, "rb", compression="infer") as stream:
        head = stream.read(3)
        if head.startswith(codecs.BOM_UTF8):
            yield stream
            return
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            stream.seek(0)
            yield io.BufferedReader(_Utf16AsUtf8(stream), buffer_size=1 << 20)
            return
        stream.seek(0)
        yield stream


class _Utf16AsUtf8(io.RawIOBase):
    """A UTF-16 stream (with its byte order mark) read as UTF-8 bytes."""

    def __init__(self, stream) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
        self.stream, self.pending = stream, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            data = self.stream.read(1 << 20)
            self.pending = self.decoder.decode(data, final=not data).encode("utf-8")
            if not data:
                break
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _int_option(options: dict, name: str, default: int) -> int:
    value = (options or {}).get(name)
    if value is None or str(value).strip() == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"source option {name!r} must be a positive whole number, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"source option {name!r} must be a positive whole number, got {value!r}")
    return number


def _as_json_text(texts) -> list[str]:
    """Unparsed record text as a JSON string, so every ``raw`` value is valid JSON."""
    return [json.dumps(text, ensure_ascii=False) for text in texts]


def _arrow_to_pandas(table) -> pd.DataFrame:
    """Arrow data to pandas with nullable ``string`` columns for text."""
    import pyarrow as pa

    def mapper(arrow_type):
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            return pd.StringDtype()
        return None

    return table.to_pandas(types_mapper=mapper)


# --------------------------------------------------------------------------- CSV


def read_csv(path: str, options: dict) -> Iterator[RawBatch]:
    """Read a CSV file (header line first) in batches of whole records, every value as text.

    ``source_row`` is the physical line number: header = line 1, first data row = line 2.
    Records with the wrong number of fields are quarantined with field ``row``.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    delimiter = (options or {}).get("delimiter") or ","
    encoding = (options or {}).get("encoding") or "utf8"
    names = _csv_header(path, delimiter, encoding)
    if names is None:
        return
    rejected: list[tuple[int, str]] = []

    def on_invalid(row) -> str:
        rejected.append((row.number, row.text))
        return "skip"

    read_options = pacsv.ReadOptions(
        use_threads=False,  # record numbers of rejected rows are only known when serial
        block_size=_csv_block_size(options, names),
        column_names=names,
        skip_rows=1,
        encoding=encoding,
    )
    parse_options = pacsv.ParseOptions(
        delimiter=delimiter,
        newlines_in_values=True,
        ignore_empty_lines=False,  # keeps line numbering exact; blank rows are dropped below
        invalid_row_handler=on_invalid,
    )
    # UTF-8 is checked per value once parsed (:func:`_utf8_text`), so that one row of other
    # bytes is quarantined instead of failing the file; other encodings are transcoded.
    checked = _is_utf8_name(encoding)
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.binary() if checked else pa.string() for name in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    lines = _CsvLines(header_breaks=sum(name.count("\n") for name in names))
    record_text = _RecordText(path, delimiter, encoding)
    with open_binary(path) as stream:
        try:
            reader = pacsv.open_csv(stream, read_options, parse_options, convert_options)
            for record_batch in reader:
                yield _csv_batch(path, record_batch, rejected, lines, record_text, final=False)
        except pa.ArrowInvalid as error:
            raise SourceReadError(f"{path}: cannot read as CSV: {error}") from None
        finally:
            record_text.close()
    # Rejected records after the last accepted one, in an empty frame that still carries the
    # header's columns (so a header-only file is checked for required columns too).
    no_rows = pa.record_batch({name: pa.array([], pa.string()) for name in names})
    yield _csv_batch(path, no_rows, rejected, lines, record_text, final=True)


def _is_utf8_name(encoding: str) -> bool:
    return encoding.lower().replace("-", "").replace("_", "") == "utf8"


def _utf8_text(record_batch) -> tuple[object, np.ndarray]:
    """The batch with text columns, and a mask of records holding bytes that are not UTF-8.

    Arrow checks a whole column at once; only a column that fails is looked at value by
    value, and its bad values become text with U+FFFD in place of the bad bytes.
    """
    import pyarrow as pa

    bad = np.zeros(record_batch.num_rows, dtype=bool)
    columns = []
    for column in record_batch.columns:
        if not pa.types.is_binary(column.type):
            columns.append(column)
            continue
        try:
            columns.append(column.cast(pa.string()))
        except pa.ArrowInvalid:
            values = column.to_pylist()
            bad |= np.array([value is not None and not _is_utf8(value) for value in values], dtype=bool)
            texts = [None if value is None else value.decode("utf-8", errors="replace") for value in values]
            columns.append(pa.array(texts, type=pa.string()))
    return pa.RecordBatch.from_arrays(columns, names=record_batch.schema.names), bad


class _RecordText:
    """The original text of a few CSV records, read again from the file when needed: to tell
    an empty line from a line of delimiters, and to find malformed quoting.

    Arrow takes ``"u000"01"`` as the value ``u00001"``: a quote that ends a quoted value
    early is dropped and the rest kept. Only records with a ``"`` in a value can be such
    records; their lines are read again and checked by Python's strict CSV parser. Records are
    asked for in file order, so the file is read again once at most, forward, and only as far
    as the last record asked for; a clean file is never read again.
    """

    def __init__(self, path: str, delimiter: str, encoding: str) -> None:
        self.path, self.delimiter, self.encoding = path, delimiter, encoding
        self.opened = None
        self.stream = None
        self.line = 0  # lines of the file read so far

    def close(self) -> None:
        if self.opened is not None:
            self.opened.__exit__(None, None, None)
            self.opened = self.stream = None

    def malformed(self, starts: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Mask of the records (first line ``starts``, ``breaks`` line ends inside) that are
        malformed, and their text."""
        import csv

        texts = self.lines(starts, breaks)
        bad = np.zeros(len(starts), dtype=bool)
        for i, text in enumerate(texts):
            try:
                list(csv.reader(io.StringIO(text), delimiter=self.delimiter, strict=True))
            except csv.Error:
                bad[i] = True
        return bad, [text for text, is_bad in zip(texts, bad) if is_bad]

    def lines(self, starts: np.ndarray, breaks: np.ndarray) -> list[str]:
        """The text of the records starting on lines ``starts`` (each ``breaks`` lines more),
        which lie after every record asked for before."""
        wanted = {int(line): i for i, start in enumerate(starts) for line in range(start, start + breaks[i] + 1)}
        parts: list[list[str]] = [[] for _ in starts]
        if self.stream is None:
            self.opened = open_binary(self.path)
            self.stream = self.opened.__enter__()
        last = max(wanted)
        while self.line < last:
            raw = self.stream.readline()
            if not raw:
                break
            self.line += 1
            if self.line in wanted:
                parts[wanted[self.line]].append(raw.decode(self.encoding, errors="replace").rstrip("\r\n"))
        return ["\n".join(part) for part in parts]


def _csv_block_size(options: dict, names: list[str]) -> int:
    """Bytes per batch; never less than the header needs, which must fit in the first block."""
    asked = _int_option(options, "chunk_bytes", DEFAULT_CHUNK_BYTES)
    return max(asked, _MIN_BLOCK + 2 * len(",".join(names)))


def _csv_header(path: str, delimiter: str, encoding: str) -> list[str] | None:
    """The column names on the header line, or ``None`` for an empty file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open_binary(path) as stream:
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 20, encoding=encoding),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, newlines_in_values=True, invalid_row_handler=lambda row: "skip"
                ),
            )
        except pa.ArrowInvalid as error:
            if "Empty CSV file" in str(error):
                return None
            raise SourceReadError(f"{path}: cannot read the CSV header: {error}") from None
        names = [name.strip() for name in reader.schema.names]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise SourceReadError(f"{path}: the header repeats column(s) {duplicated}; names must be unique")
    return names


def _csv_batch(path, record_batch, rejected, lines: _CsvLines, record_text: _RecordText, final: bool) -> RawBatch:
    """Number one batch's records and rejected rows by physical line; quarantine records that
    are not UTF-8, have malformed quoting or only empty fields."""
    import pyarrow.compute as pc

    record_batch, not_utf8 = _utf8_text(record_batch)
    frame = _arrow_to_pandas(record_batch)
    breaks = np.zeros(record_batch.num_rows, dtype=np.int64)
    quoted = np.zeros(record_batch.num_rows, dtype=bool)
    for column in record_batch.columns:
        if _may_hold(column, b"\n"):
            breaks += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
        if _may_hold(column, b'"'):
            quoted |= pc.fill_null(pc.match_substring(column, '"'), False).to_numpy(zero_copy_only=False)
    rows, bad_rows, bad_text = lines.assign(breaks, rejected, final)
    blank_line = [text.strip() == "" for text in bad_text]  # a line of only spaces
    keep = ~np.asarray(blank_line, dtype=bool)
    blank = np.ones(len(frame), dtype=bool)
    for name in frame.columns:  # most rows fail on the first column: stop early
        blank &= (frame[name] == "").to_numpy(dtype=bool, na_value=False)
        if not blank.any():
            break
    empty_line = blank.copy()
    if blank.any():  # an empty line is no record; a line of delimiters is one, with no value
        blank[blank] = [text.strip() != "" for text in record_text.lines(rows[blank], breaks[blank])]
        empty_line &= ~blank
    malformed = np.zeros(len(frame), dtype=bool)
    if quoted.any():
        malformed[quoted], quoting_text = record_text.malformed(rows[quoted], breaks[quoted])
    else:
        quoting_text = []
    quarantine = pd.concat(
        [
            quarantine_frame(path, bad_rows[keep], "row", "wrong number of fields",
                             _as_json_text(np.asarray(bad_text, dtype=object)[keep])),
            quarantine_frame(path, rows[not_utf8], "row", "not UTF-8 text (set option 'encoding')",
                             _row_texts(frame[not_utf8])),
            quarantine_frame(path, rows[malformed & ~not_utf8], "row",
                             "malformed CSV quoting (a quote inside a quoted value must be doubled)",
                             _as_json_text([t for t, u in zip(quoting_text, not_utf8[malformed]) if not u])),
            quarantine_frame(path, rows[blank], "row", "every field is empty", _row_texts(frame[blank])),
        ],
        ignore_index=True,
    ).sort_values("source_row", kind="stable", ignore_index=True)
    frame["source_row"] = rows
    good = ~(blank | not_utf8 | malformed)
    return RawBatch(frame[good & ~empty_line].reset_index(drop=True), quarantine)


def _may_hold(column, text: bytes) -> bool:
    """Whether a value of a text column may hold ``text``: one search of the bytes its values
    lie in, where Arrow's search goes value by value. Most columns hold no line break and no
    quote, and are then not searched value by value at all. (Any other column: yes.)"""
    import pyarrow as pa

    if not len(column):
        return False
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return True
    _, offsets, data = column.buffers()
    if data is None:
        return False
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    ends = np.frombuffer(offsets, dtype=width)[[column.offset, column.offset + len(column)]]
    return text in data[int(ends[0]):int(ends[1])].to_pybytes()


def _row_texts(frame: pd.DataFrame) -> list[str]:
    """Each row's values as a JSON object, for quarantine."""
    return [json.dumps(record, ensure_ascii=False) for record in frame.to_dict("records")]


class _CsvLines:
    """Physical line numbers of CSV records, given the reader's rejected records.

    The CSV reader numbers records (header = 1) and says which it rejected; accepted records
    fill the other numbers in order. A record starts on line
    ``record number + line breaks inside all earlier records``.
    """

    def __init__(self, header_breaks: int = 0) -> None:
        self.next_record = 2
        self.extra_lines = header_breaks
        self.placed = 0

    def assign(self, breaks: np.ndarray, rejected: list[tuple[int, str]], final: bool):
        """Line numbers for ``len(breaks)`` accepted records, and the rejected ones now placed.

        Returns ``(rows, rejected_rows, rejected_texts)``.
        """
        count = len(breaks)
        pending = rejected[self.placed:]
        pending_numbers = np.asarray([number for number, _ in pending], dtype=np.int64)
        if count:
            candidates = np.arange(self.next_record, self.next_record + count + len(pending), dtype=np.int64)
            accepted = candidates[~np.isin(candidates, pending_numbers)][:count]
            last = int(accepted[-1])
        else:
            accepted = np.zeros(0, dtype=np.int64)
            last = int(pending_numbers.max()) if final and len(pending) else self.next_record - 1
        take = int(np.count_nonzero(pending_numbers <= last))
        placed = pending[:take]
        self.placed += take
        numbers = np.concatenate([accepted, pending_numbers[:take]])
        record_breaks = np.concatenate(
            [breaks, np.asarray([text.count("\n") for _, text in placed], dtype=np.int64)]
        )
        order = np.argsort(numbers, kind="stable")
        before = np.cumsum(record_breaks[order]) - record_breaks[order] + self.extra_lines
        lines = np.empty_like(numbers)
        lines[order] = numbers[order] + before
        self.extra_lines += int(record_breaks.sum())
        self.next_record = last + 1
        return lines[:count], lines[count:], [text for _, text in placed]


# --------------------------------------------------------------------------- JSON Lines


def read_jsonl(path: str, options: dict) -> Iterator[RawBatch]:
    """Read JSON Lines in batches of whole lines; ``source_row`` is the 1-based line number.

    Lines that are not a JSON object (or not UTF-8) are quarantined with field ``row``.
    """
    size = _int_option(options, "chunk_bytes", DEFAULT_CHUNK_BYTES)
    first_line = 1
    with open_binary(path) as stream:
        for block in _line_blocks(stream, size):
            lines, undecodable = _decode_lines(block)
            yield _jsonl_batch(path, lines, undecodable, first_line)
            first_line += len(lines)


def _line_blocks(stream, size: int) -> Iterator[bytes]:
    """Blocks of about ``size`` bytes that end at a line break (the last may not)."""
    carry = b""
    while True:
        data = stream.read(size)
        if not data:
            break
        data = carry + data
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1:]
        yield data[: cut + 1]
    if carry:
        yield carry


def _decode_lines(block: bytes) -> tuple[pd.Series, np.ndarray]:
    """The block's lines as text, and a mask of lines that are not valid UTF-8."""
    if block.endswith(b"\n"):
        block = block[:-1]
    try:
        texts = block.decode("utf-8").split("\n")
        undecodable = np.zeros(len(texts), dtype=bool)
    except UnicodeDecodeError:  # rare: find the bad lines one by one
        raw_lines = block.split(b"\n")
        undecodable = np.asarray([not _is_utf8(line) for line in raw_lines], dtype=bool)
        texts = [line.decode("utf-8", errors="replace") for line in raw_lines]
    lines = pd.Series(texts, dtype="string").str.removesuffix("\r")
    return lines, undecodable


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _jsonl_batch(path: str, lines: pd.Series, undecodable: np.ndarray, first_line: int) -> RawBatch:
    numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
    stripped = lines.str.strip()
    blank = (stripped == "").fillna(False).to_numpy(dtype=bool) & ~undecodable
    is_object = (stripped.str.startswith("{") & stripped.str.endswith("}")).fillna(False).to_numpy(dtype=bool)
    candidate = is_object & ~blank & ~undecodable
    frame, failed = _parse_json_objects(lines[candidate])
    rows = numbers[candidate]
    bad_shape = ~candidate & ~blank & ~undecodable
    quarantine = pd.concat(
        [
            quarantine_frame(path, numbers[undecodable], "row", "line is not UTF-8 text",
                             _as_json_text(lines[undecodable])),
            quarantine_frame(path, numbers[bad_shape], "row", "line is not a JSON object",
                             _as_json_text(lines[bad_shape])),
            quarantine_frame(path, rows[failed], "row", "line is not valid JSON",
                             _as_json_text(lines[candidate][failed])),
        ],
        ignore_index=True,
    ).sort_values("source_row", kind="stable", ignore_index=True)
    frame["source_row"] = rows[~failed]
    return RawBatch(frame.reset_index(drop=True), quarantine)


def _parse_json_objects(lines: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse lines that look like JSON objects; returns (frame of good lines, failed mask).

    pandas' fast reader accepts a trailing comma (``{"a": 1,}``), which is not JSON: lines
    with a comma before a closing bracket are checked by the strict parser first.
    """
    failed = np.zeros(len(lines), dtype=bool)
    if not len(lines):
        return pd.DataFrame(), failed
    trailing = lines.str.contains(r",\s*[}\]]", regex=True).fillna(False).to_numpy(dtype=bool)
    if not trailing.any():
        try:
            frame = _read_json_lines("\n".join(lines.tolist()))
            if len(frame) == len(lines):
                return frame, failed
        except ValueError:  # a bad line, or a number too large for pandas (10**25)
            pass
    # Find the bad lines one by one; the good ones keep the values Python decoded (a whole
    # number too large for 64 bits stays a number, and validation judges it).
    records = []
    for position, text in enumerate(lines.tolist()):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            records.append(value)
        else:
            failed[position] = True
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame.columns = [str(name) for name in frame.columns]
    return frame, failed


def _read_json_lines(text: str) -> pd.DataFrame:
    """JSON objects, one per line, to a frame of their values as decoded (no type guessing)."""
    frame = pd.read_json(
        io.StringIO(text),
        lines=True,
        dtype=False,  # also keeps date-like text as text
        precise_float=True,
    )
    frame.columns = [str(name) for name in frame.columns]
    return frame


# --------------------------------------------------------------------------- Parquet


def read_parquet(path: str, options: dict) -> Iterator[RawBatch]:
    """Read a Parquet file in row batches; ``source_row`` is the 1-based row number."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    size = _int_option(options, "chunk_rows", DEFAULT_CHUNK_ROWS)
    next_row = 1
    with open_binary(path) as stream:
        try:
            parquet = pq.ParquetFile(stream)
            for record_batch in parquet.iter_batches(batch_size=size):
                frame = _arrow_to_pandas(record_batch)
                frame["source_row"] = np.arange(next_row, next_row + len(frame), dtype=np.int64)
                next_row += len(frame)
                yield RawBatch(frame, empty_quarantine())
        except (pa.ArrowInvalid, OSError) as error:
            raise SourceReadError(f"{path}: cannot read as Parquet: {error}") from None

