"""Readers: raw batches with exact row/line numbers, chunking, formats and the plug-in lookup."""

import gzip
import io
import json

import pandas as pd
import pytest

from ztad.ingest.readers import (
    QUARANTINE_COLUMNS,
    RawBatch,
    SourceReadError,
    UnknownFormatError,
    format_from_name,
    get_reader,
    read_csv,
    read_jsonl,
    read_parquet,
)


def collect(batches) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(all frames, all quarantine, number of batches)."""
    batches = list(batches)
    assert all(isinstance(b, RawBatch) for b in batches)
    frames = [b.frame for b in batches if len(b.frame)]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    quarantine = pd.concat([b.quarantine for b in batches], ignore_index=True)
    return frame, quarantine, len(batches)


HEADER = "timestamp,user_id,note\n"  # line 1
TRICKY_ROWS = (  # 12 lines
    "t1,a,plain\n"  # line +0
    't2,b,"two\nlines"\n'  # lines +1, +2
    "short,row\n"  # line +3: wrong number of fields
    "\n"  # line +4: blank
    "t3,c,x\n"  # line +5
    "   \n"  # line +6: spaces only
    't4,d,"a\nb\nc"\n'  # lines +7 to +9
    "t5,e,f,g\n"  # line +10: too many fields
    "t6,f,last\n"  # line +11
)


@pytest.mark.parametrize("chunk_bytes", ["16", "1500", "100000"])
def test_csv_source_row_is_the_physical_line_with_header_as_line_1(tmp_path, chunk_bytes):
    repeats = 40
    path = tmp_path / "logs.csv"
    path.write_text(HEADER + TRICKY_ROWS * repeats)
    frame, quarantine, _ = collect(read_csv(str(path), {"chunk_bytes": chunk_bytes}))
    starts = [2 + 12 * k for k in range(repeats)]
    assert frame["user_id"].tolist() == ["a", "b", "c", "d", "f"] * repeats
    assert frame["source_row"].tolist() == [s + offset for s in starts for offset in (0, 1, 5, 7, 11)]
    assert frame["note"].tolist()[1] == "two\nlines"
    assert quarantine["source_row"].tolist() == [s + offset for s in starts for offset in (3, 10)]
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    assert set(quarantine["field"]) == {"row"}
    assert set(quarantine["reason"]) == {"wrong number of fields"}
    assert [json.loads(raw) for raw in quarantine["raw"][:2]] == ["short,row", "t5,e,f,g"]


def test_csv_last_line_without_line_break_is_read(tmp_path):
    path = tmp_path / "logs.csv"
    path.write_text(HEADER + "t1,a,x\nt2,b,y")
    frame, _, _ = collect(read_csv(str(path), {}))
    assert frame["source_row"].tolist() == [2, 3]


def test_csv_reads_every_value_as_text(tmp_path):
    path = tmp_path / "logs.csv"
    path.write_text("timestamp,bytes_transferred,login_success\n2024-03-01,007,1\n2024-03-01,,true\n")
    frame, _, _ = collect(read_csv(str(path), {}))
    assert frame["bytes_transferred"].tolist() == ["007", ""]
    assert frame["login_success"].tolist() == ["1", "true"]


def test_csv_in_small_chunks_gives_several_batches_and_the_same_rows(tmp_path):
    path = tmp_path / "logs.csv"
    path.write_text("timestamp,user_id\n" + "".join(f"2024-03-01T00:00:{i % 60:02d}Z,u{i}\n" for i in range(300)))
    whole, _, whole_batches = collect(read_csv(str(path), {}))
    chunked, _, chunked_batches = collect(read_csv(str(path), {"chunk_bytes": "256"}))
    assert chunked_batches > whole_batches
    pd.testing.assert_frame_equal(whole, chunked)
    assert whole["source_row"].tolist() == list(range(2, 302))


def test_csv_line_breaks_and_bad_quotes_late_in_a_file_of_plain_batches(tmp_path):
    """Batches of plain values come first; the line break and the bad quote in a later one
    still number the rows after them and quarantine the record."""
    plain = "".join(f"2024-03-01T00:00:{i % 60:02d}Z,u{i},plain\n" for i in range(300))
    path = tmp_path / "logs.csv"
    path.write_text(HEADER + plain + 't1,a,"two\nlines"\n' + 't2,b,"u000"01"\n' + "t3,c,after\n")
    frame, quarantine, batches = collect(read_csv(str(path), {"chunk_bytes": "1500"}))
    assert batches > 2
    assert frame["source_row"].tolist()[-2:] == [302, 305]
    assert frame["note"].tolist()[-2:] == ["two\nlines", "after"]
    assert quarantine["source_row"].tolist() == [304]
    assert quarantine["reason"].str.startswith("malformed CSV quoting").all()


@pytest.mark.parametrize("text_type", ["string", "large_string"])
def test_may_hold_searches_only_the_bytes_of_the_arrays_values(text_type):
    import pyarrow as pa

    from ztad.ingest.readers import _may_hold

    array = pa.array(['a"b', None, "c\nd", "plain", "x"], getattr(pa, text_type)())
    assert _may_hold(array, b"\n") and _may_hold(array, b'"')
    assert not _may_hold(array.slice(3), b"\n") and not _may_hold(array.slice(3), b'"')
    assert _may_hold(array.slice(2, 1), b"\n") and not _may_hold(array.slice(2, 1), b'"')
    assert not _may_hold(array.slice(1, 1), b"\n")  # a missing value only
    assert not _may_hold(array.slice(0, 0), b'"')


def test_csv_gz_header_only_and_empty_files(tmp_path):
    gz = tmp_path / "logs.csv.gz"
    gz.write_bytes(gzip.compress(b"timestamp,user_id\n2024-03-01,a\n"))
    frame, _, _ = collect(read_csv(str(gz), {}))
    assert frame["user_id"].tolist() == ["a"] and frame["source_row"].tolist() == [2]
    header_only = tmp_path / "header.csv"
    header_only.write_text("timestamp,user_id\n")
    frame, quarantine, batches = collect(read_csv(str(header_only), {}))
    assert frame.empty and quarantine.empty and batches == 1
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert list(read_csv(str(empty), {})) == []


def test_csv_header_only_batch_keeps_the_column_names(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("timestamp,user_id\n")
    (batch,) = list(read_csv(str(path), {}))
    assert {"timestamp", "user_id", "source_row"} <= set(batch.frame.columns)


def test_csv_delimiter_option_and_repeated_header(tmp_path):
    path = tmp_path / "logs.csv"
    path.write_text("timestamp;user_id\n2024-03-01;a\n")
    frame, _, _ = collect(read_csv(str(path), {"delimiter": ";"}))
    assert frame["user_id"].tolist() == ["a"]
    repeated = tmp_path / "repeated.csv"
    repeated.write_text("timestamp,user_id,user_id\n1,2,3\n")
    with pytest.raises(SourceReadError, match="repeats column"):
        list(read_csv(str(repeated), {}))


def test_bad_chunk_option_is_a_clear_error(tmp_path):
    path = tmp_path / "logs.csv"
    path.write_text("timestamp\n1\n")
    with pytest.raises(ValueError, match="chunk_bytes"):
        list(read_csv(str(path), {"chunk_bytes": "lots"}))


JSONL = "\n".join(
    [
        json.dumps({"timestamp": "2024-03-01T10:00:00Z", "user_id": "a", "login_success": True}),  # 1
        "",  # 2: blank
        "not json",  # 3
        json.dumps({"timestamp": "2024-03-01T11:00:00Z", "user_id": "b", "login_success": 0}),  # 4
        '{"timestamp": "2024-03-01T12:00:00Z", "user_id": }',  # 5: broken object
        json.dumps([1, 2]),  # 6: not an object
        json.dumps({"timestamp": "2024-03-01T13:00:00Z", "user_id": "c", "extra": {"x": 1}}),  # 7
    ]
) + "\n"


@pytest.mark.parametrize("chunk_bytes", ["20", "100000"])
def test_jsonl_line_numbers_and_bad_lines(tmp_path, chunk_bytes):
    path = tmp_path / "logs.jsonl.gz"
    path.write_bytes(gzip.compress(JSONL.encode()))
    frame, quarantine, _ = collect(read_jsonl(str(path), {"chunk_bytes": chunk_bytes}))
    assert frame["user_id"].tolist() == ["a", "b", "c"]
    assert frame["source_row"].tolist() == [1, 4, 7]
    assert frame["timestamp"].tolist()[0] == "2024-03-01T10:00:00Z"  # values as decoded, no guessing
    assert quarantine["source_row"].tolist() == [3, 5, 6]
    assert quarantine["reason"].tolist() == ["line is not a JSON object", "line is not valid JSON", "line is not a JSON object"]
    assert json.loads(quarantine["raw"].iloc[0]) == "not json"


def test_jsonl_line_that_is_not_utf8_is_quarantined(tmp_path):
    path = tmp_path / "logs.jsonl"
    path.write_bytes(b'{"user_id": "a"}\n{"user_id": "\xff"}\n{"user_id": "b"}\n')
    frame, quarantine, _ = collect(read_jsonl(str(path), {}))
    assert frame["source_row"].tolist() == [1, 3]
    assert quarantine["source_row"].tolist() == [2]
    assert quarantine["reason"].tolist() == ["line is not UTF-8 text"]


def test_parquet_rows_are_numbered_from_1_in_batches(tmp_path):
    path = tmp_path / "logs.parquet"
    pd.DataFrame({"user_id": [f"u{i}" for i in range(10)], "bytes_transferred": range(10)}).to_parquet(path)
    frame, quarantine, batches = collect(read_parquet(str(path), {"chunk_rows": "3"}))
    assert batches == 4
    assert frame["source_row"].tolist() == list(range(1, 11))
    assert frame["bytes_transferred"].tolist() == list(range(10))
    assert quarantine.empty


def test_corrupt_parquet_names_the_file(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(SourceReadError, match="broken.parquet"):
        list(read_parquet(str(path), {}))


@pytest.mark.parametrize(
    "name, fmt",
    [("a.csv", "csv"), ("A.CSV.GZ", "csv"), ("x.jsonl.gz", "jsonl"), ("x.parquet", "parquet"), ("auth.log", None), ("x.gz", None)],
)
def test_format_from_name(name, fmt):
    assert format_from_name(name) == fmt


def test_get_reader_builtin_and_gz_aliases():
    assert get_reader("csv") is read_csv
    assert get_reader("CSV.gz") is read_csv
    assert get_reader("jsonl.gz") is read_jsonl
    assert get_reader("parquet") is read_parquet


def test_get_reader_imports_a_plugin_module(monkeypatch):
    import sys
    import types

    module = types.ModuleType("ztad.ingest.formats.fakevendor")

    def read(path, options):
        yield RawBatch(pd.DataFrame({"source_row": [1]}), pd.DataFrame(columns=QUARANTINE_COLUMNS))

    module.read = read
    monkeypatch.setitem(sys.modules, "ztad.ingest.formats.fakevendor", module)
    assert get_reader("fakevendor") is read


@pytest.mark.parametrize("fmt", ["nosuchformat", "../etc", "files", "readers"])
def test_unknown_format_lists_the_known_ones(fmt):
    with pytest.raises(UnknownFormatError) as caught:
        get_reader(fmt)
    message = str(caught.value)
    assert repr(fmt) in message
    assert "csv, parquet, jsonl" in message
    assert isinstance(caught.value, ValueError)


def test_in_memory_buffer_is_not_a_path():
    with pytest.raises(Exception):
        list(read_csv(io.StringIO("a\n1\n"), {}))  # readers take a path or URL
