"""JSON records streamed in blocks, decoded a piece at a time, bad records quarantined alone."""

import json

import msgspec
import numpy as np
import pandas as pd
import pytest

from tests.ztad.ingest.streaming.records import Record
from ztad.ingest.streaming.json_records import LEARNING_BYTES, PIECE_BYTES
from ztad.ingest.streaming.json_stream import iter_json_records, json_layout

FIELDS = {"a": "a", "s": "s"}


def read_all(path, chunk=None, fields=FIELDS, record_type=Record):
    options = {"chunk_bytes": str(chunk)} if chunk else {}
    chunks = list(iter_json_records(str(path), record_type, options, fields))
    values = {name: sum((chunk.columns[name].to_pylist() for chunk in chunks), []) for name in fields}
    rows = [int(row) for chunk in chunks for row in chunk.rows]
    quarantine = pd.concat([chunk.quarantine for chunk in chunks], ignore_index=True)
    return chunks, values, rows, quarantine


def tricky_records(n):
    """Strings holding brackets, commas, escaped quotes and backslashes."""
    return [{"a": i, "s": 'x"},[' + "\\" * (i % 3) + '"]{' if i % 2 else "plain"} for i in range(n)]


# --------------------------------------------------------------------------- arrays


@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("chunk", ["100", "1000", "1048576"])
def test_array_elements_are_decoded_exactly_whatever_the_block_size(tmp_path, wrapped, chunk):
    records = tricky_records(1500)  # larger than the first 64 KiB read
    document = {"@odata.context": "x", "value": records, "@odata.nextLink": "y"} if wrapped else records
    path = tmp_path / "records.json"
    path.write_text(json.dumps(document, indent=2))
    assert json_layout(path.read_bytes()) == ("wrapped" if wrapped else "array")
    chunks, values, rows, quarantine = read_all(path, chunk)
    assert quarantine.empty
    assert list(zip(values["a"], values["s"])) == [(r["a"], r["s"]) for r in records]
    assert rows == list(range(1, 1501))


def test_original_text_of_array_elements_is_recovered(tmp_path):
    records = tricky_records(3000)
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records))
    for chunk in iter_json_records(str(path), Record, {"chunk_bytes": "3000"}, FIELDS):
        texts = chunk.raw_at(range(len(chunk)))
        assert [json.loads(text) for text in texts] == [records[row - 1] for row in chunk.rows]


@pytest.mark.parametrize("chunk", [5000, None])
def test_a_bad_element_in_an_array_is_quarantined_alone(tmp_path, chunk):
    records = tricky_records(60_000 if chunk is None else 3000)  # several pieces in one block
    bad = 2012 if chunk else 41_234
    records[bad]["a"] = [1, 2]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records, indent=1))
    chunks, values, rows, quarantine = read_all(path, chunk)
    assert quarantine["source_row"].tolist() == [bad + 1]
    assert quarantine["reason"].iloc[0].startswith("unexpected JSON value")
    assert json.loads(json.loads(quarantine["raw"].iloc[0]))["a"] == [1, 2]  # its text, as a JSON string
    assert rows == [n for n in range(1, len(records) + 1) if n != bad + 1]
    assert values["a"] == [r["a"] for i, r in enumerate(records) if i != bad]


def test_records_whose_nested_lists_look_like_the_array_are_still_split_right(tmp_path):
    """The separator between records occurs inside records too: decoding proves each cut."""
    count = 80_000  # enough records for more than two pieces
    records = [
        {"id": f"r{i}", "kind": "signIn",
         "policies": [{"id": f"p{i}", "kind": "signIn"}, {"id": "q", "kind": "signIn"}]}
        for i in range(count)
    ]
    path = tmp_path / "nested.json"
    text = json.dumps({"value": records}, separators=(",", ":"))
    assert len(text) > 2 * PIECE_BYTES
    path.write_text(text)

    class Nested(msgspec.Struct):
        id: str | None = None

    for chunk in (None, 200_000):
        _, values, rows, quarantine = read_all(path, chunk, {"id": "id"}, Nested)
        assert quarantine.empty
        assert values["id"] == [f"r{i}" for i in range(count)]
        assert rows == list(range(1, count + 1))


def test_records_larger_than_the_bytes_the_separator_is_learnt_from(tmp_path):
    """The first records alone outgrow the first exact split: it grows until one ends."""
    records = [{"a": i, "s": "x" * (LEARNING_BYTES + 5000 * i)} for i in range(12)]
    records[7]["a"] = {"not": "a scalar"}  # one bad record among them
    path = tmp_path / "large.json"
    path.write_text(json.dumps(records, separators=(",", ":")))
    for chunk in (None, 300_000):
        _, values, rows, quarantine = read_all(path, chunk)
        assert values["a"] == [i for i in range(12) if i != 7]
        assert values["s"] == [r["s"] for i, r in enumerate(records) if i != 7]
        assert rows == [n for n in range(1, 13) if n != 8]
        assert quarantine["source_row"].tolist() == [8]


def test_a_truncated_array_quarantines_the_cut_element(tmp_path):
    text = json.dumps(tricky_records(10))
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('{"a": 7') + 12])
    _, values, rows, quarantine = read_all(path)
    assert rows == list(range(1, 8))
    assert quarantine["source_row"].tolist() == [8]
    assert quarantine["reason"].iloc[0].startswith("malformed JSON")


# --------------------------------------------------------------------------- JSON Lines


def jsonl(records) -> str:
    return "\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n"


@pytest.mark.parametrize("chunk", [None, 65536, 3000])
def test_a_bad_line_amid_blocks_of_lines_is_quarantined_with_its_line_number(tmp_path, chunk):
    lines = jsonl(tricky_records(50_000)).splitlines()  # about 2 MB: several pieces
    lines[31_337] = lines[31_337][:-3]  # cut short
    lines[2] = '{"a": {"nested": 1}}'  # well-formed JSON, wrong type
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    _, values, rows, quarantine = read_all(path, chunk)
    assert quarantine["source_row"].tolist() == [3, 31_338]
    assert quarantine["reason"].str.split(":").str[0].tolist() == ["unexpected JSON value", "malformed JSON"]
    assert json.loads(quarantine["raw"].iloc[1]) == lines[31_337]  # the cut line, as a JSON string
    assert rows == [n for n in range(1, 50_001) if n not in (3, 31_338)]
    assert values["a"] == [n - 1 for n in rows]


def test_a_line_with_two_records_next_to_a_blank_line_is_not_misnumbered(tmp_path):
    """Two values on one line plus a blank line give as many records as lines: still caught."""
    lines = [json.dumps({"a": i}) for i in range(10)]
    lines[4] = lines[4] + " " + json.dumps({"a": 99})
    lines[6] = "   "
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    _, values, rows, quarantine = read_all(path)
    assert quarantine["source_row"].tolist() == [5]
    assert rows == [1, 2, 3, 4, 6, 8, 9, 10]
    assert values["a"] == [0, 1, 2, 3, 5, 7, 8, 9]


def test_windows_line_ends_and_a_missing_last_line_end(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_bytes(b'{"a": 1}\r\n{"a": 2}\r\n\r\n{"a": 3}')
    chunks, values, rows, quarantine = read_all(path)
    assert quarantine.empty and values["a"] == [1, 2, 3] and rows == [1, 2, 4]
    assert chunks[0].raw_at([2]) == [b'{"a": 3}']


def test_original_text_of_lines_is_recovered(tmp_path):
    records = tricky_records(20_000)
    path = tmp_path / "records.jsonl"
    path.write_text(jsonl(records))
    for chunk in iter_json_records(str(path), Record, {"chunk_bytes": "100000"}, FIELDS):
        picked = np.arange(0, len(chunk), 97)
        assert [json.loads(t) for t in chunk.raw_at(picked)] == [records[chunk.rows[i] - 1] for i in picked]


def test_fields_of_mixed_kinds_across_pieces_become_text(tmp_path):
    """Whole numbers in one piece and text in another: one text column, as Python spells it."""
    records = [{"a": i, "s": "x"} for i in range(30_000)] + [{"a": f"id-{i}", "s": "y"} for i in range(30_000)]
    path = tmp_path / "mixed.jsonl"
    path.write_text(jsonl(records))
    chunks, values, _, _ = read_all(path)
    assert len(chunks) == 1 and chunks[0].columns["a"].type == "string"
    assert values["a"] == [str(r["a"]) for r in records]
