"""Generic CSV / JSON Lines through a mapping file, and the streaming the adapters share."""

import json

import msgspec
import numpy as np
import pandas as pd
import pytest
import yaml

from ztad.sources import get_reader
from ztad.sources.mapping import (
    MappingError,
    SourceOptionError,
    decode_records,
    iter_json_records,
    json_layout,
    load_mapping,
    option_bool,
    read,
)

VPN_CSV = (
    "when;login;src;result;gateway;octets\n"
    "02/03/2026 09:15:04;alice;81.2.69.160;OK;vpn-gw1;1234\n"
    "\n"
    "02/03/2026 09:16:00;bob;203.0.113.5;DENIED;vpn-gw1;0\n"
    "31/02/2026 10:00:00;carol;192.0.2.4;OK;vpn-gw1;5\n"
    "02/03/2026 10:00:00;dave;192.0.2.4;MAYBE;vpn-gw1;5\n"
    "1;2;3\n"
    "02/03/2026 11:00:00;erin;192.0.2.5;ok;vpn-gw2;7\n"
)
VPN_MAPPING = {
    "format": "csv",
    "delimiter": ";",
    "columns": {
        "timestamp": "when",
        "user_id": "login",
        "ip_address": "src",
        "login_success": "result",
        "resource_accessed": "gateway",
        "bytes_transferred": "octets",
    },
    "timestamp_format": "%d/%m/%Y %H:%M:%S",
    "timezone": "Europe/Madrid",
    "success_values": ["ok"],
    "failure_values": ["denied"],
}
APP_JSONL = (
    '{"ts":"2026-03-02T08:00:00Z","user":{"name":"alice"},"net":{"ip":"81.2.69.160"},"ok":true}\n'
    '{"ts":"2026-03-02T08:01:00Z","user":{"name":"bob"},"net":{"ip":"192.0.2.4"},"ok":false}\n'
    "not json\n"
    '{"ts":"yesterday","user":{"name":"carol"},"net":{"ip":"192.0.2.4"},"ok":true}\n'
)
APP_MAPPING = {
    "columns": {"timestamp": "ts", "user_id": "user.name", "ip_address": "net.ip", "login_success": "ok"},
    "success_values": [True],
    "constants": {"resource_accessed": "intranet"},
}


def load(path, options):
    batches = list(read(str(path), options))
    events = pd.concat([b.frame for b in batches], ignore_index=True)
    quarantine = pd.concat([b.quarantine for b in batches], ignore_index=True)
    return events.set_index("source_row"), quarantine.set_index("source_row"), len(batches)


@pytest.fixture
def vpn(tmp_path):
    path = tmp_path / "vpn.csv"
    path.write_text(VPN_CSV)
    return path


def test_csv_columns_are_mapped_with_format_zone_and_value_lists(vpn):
    events, _, _ = load(vpn, {"mapping": VPN_MAPPING})
    assert list(events.index) == [2, 4, 8]  # physical line numbers, header = 1
    alice = events.loc[2]
    assert alice["timestamp"] == pd.Timestamp("2026-03-02 08:15:04", tz="UTC")  # Madrid local time
    assert (alice["user_id"], alice["ip_address"], alice["resource_accessed"]) == ("alice", "81.2.69.160", "vpn-gw1")
    assert alice["bytes_transferred"] == "1234"  # numbers are left to validation
    assert events["login_success"].tolist() == [True, False, True]  # "ok" in any case


def test_csv_rows_that_do_not_fit_the_mapping_are_quarantined(vpn):
    _, quarantine, _ = load(vpn, {"mapping": VPN_MAPPING})
    assert quarantine.loc[5, "field"] == "timestamp"  # 31 February
    assert quarantine.loc[6, "field"] == "login_success"
    assert "MAYBE" in quarantine.loc[6, "reason"]
    assert json.loads(quarantine.loc[6, "raw"])["login"] == "dave"
    assert quarantine.loc[7, "field"] == "row"  # too few fields


def test_without_failure_values_every_other_value_is_a_failure(vpn):
    mapping = {**VPN_MAPPING, "failure_values": None}
    events, quarantine, _ = load(vpn, {"mapping": mapping})
    assert 6 in events.index and bool(events.loc[6, "login_success"]) is False
    assert 6 not in quarantine.index


def test_jsonl_with_nested_paths_from_a_yaml_mapping_file(tmp_path):
    data = tmp_path / "app.log.jsonl"
    data.write_text(APP_JSONL)
    mapping = tmp_path / "app-mapping.yaml"
    mapping.write_text(yaml.safe_dump(APP_MAPPING))
    events, quarantine, _ = load(data, {"mapping": str(mapping)})
    assert events["user_id"].tolist() == ["alice", "bob"]
    assert events["ip_address"].tolist() == ["81.2.69.160", "192.0.2.4"]
    assert events["login_success"].tolist() == [True, False]
    assert set(events["resource_accessed"]) == {"intranet"}
    assert quarantine.loc[3, "field"] == "record"
    assert quarantine.loc[4, "field"] == "timestamp"


def test_json_mapping_file_is_read_too(tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(APP_MAPPING))
    assert load_mapping(str(mapping)).columns["user_id"] == "user.name"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": {**APP_MAPPING["columns"], "username": "u"}}, "unknown ztad column"),
        ({"columns": {"timestamp": "ts", "user_id": "u"}}, "required column"),
        ({"format": "xml"}, "csv or jsonl"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"columns": None}, "'columns'"),
    ],
)
def test_unusable_mappings_are_clear_errors(change, message):
    with pytest.raises(ValueError, match=message):
        load_mapping({**APP_MAPPING, **change})


def test_a_mapped_column_missing_from_the_file_is_named(vpn):
    mapping = {**VPN_MAPPING, "columns": {**VPN_MAPPING["columns"], "user_id": "account"}}
    with pytest.raises(MappingError, match="account"):
        load(vpn, {"mapping": mapping})


def test_the_mapping_option_is_required(vpn):
    with pytest.raises(SourceOptionError, match="mapping"):
        load(vpn, {})


def test_large_csv_is_read_in_several_batches(tmp_path):
    lines = ["when;login;src;result;gateway;octets"]
    lines += [f"02/03/2026 09:{i // 60 % 60:02d}:{i % 60:02d};u{i % 30};192.0.2.{i % 250};OK;gw;{i}" for i in range(4000)]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    batches = list(read(str(path), {"mapping": VPN_MAPPING, "chunk_bytes": "16384"}))
    assert len(batches) > 5
    rows = pd.concat([b.frame["source_row"] for b in batches])
    assert sorted(rows) == list(range(2, 4002))


def test_the_reader_is_found_by_format_name():
    assert get_reader("mapping") is read


# --------------------------------------------------------------------------- shared streaming


class Record(msgspec.Struct):
    a: int | str | None = None
    s: str | None = None


def tricky_records(n):
    """Strings holding brackets, commas, escaped quotes and backslashes."""
    return [{"a": i, "s": 'x"},[' + "\\" * (i % 3) + '"]{' if i % 2 else "plain"} for i in range(n)]


@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("chunk", ["100", "1000", "1048576"])
def test_array_elements_are_decoded_exactly_whatever_the_block_size(tmp_path, wrapped, chunk):
    records = tricky_records(1500)  # larger than the first 64 KiB read
    document = {"@odata.context": "x", "value": records, "@odata.nextLink": "y"} if wrapped else records
    path = tmp_path / "records.json"
    path.write_text(json.dumps(document, indent=2))
    assert json_layout(path.read_bytes()) == ("wrapped" if wrapped else "array")
    chunks = list(iter_json_records(str(path), Record, {"chunk_bytes": chunk}))
    assert all(chunk.quarantine.empty for chunk in chunks)
    assert [(r.a, r.s) for chunk in chunks for r in chunk.records] == [(r["a"], r["s"]) for r in records]
    assert [int(row) for chunk in chunks for row in chunk.rows] == list(range(1, 1501))


def test_original_text_of_array_elements_is_recovered(tmp_path):
    records = tricky_records(3000)
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records))
    for chunk in iter_json_records(str(path), Record, {"chunk_bytes": "3000"}):
        texts = chunk.raw_at(range(len(chunk.records)))
        assert [json.loads(text) for text in texts] == [records[row - 1] for row in chunk.rows]


def test_a_bad_element_in_an_array_is_quarantined_alone(tmp_path):
    records = tricky_records(3000)
    records[2012]["a"] = [1, 2]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records, indent=1))
    chunks = list(iter_json_records(str(path), Record, {"chunk_bytes": "5000"}))
    quarantine = pd.concat([chunk.quarantine for chunk in chunks])
    assert quarantine["source_row"].tolist() == [2013]
    assert [int(row) for chunk in chunks for row in chunk.rows] == [n for n in range(1, 3001) if n != 2013]


def test_bad_lines_are_isolated_with_reasons():
    lines = [b'{"a": 1}', b"", b'{"a": [1]}', b"not json", b'{"a": 2}{"a": 3}', b'{"a": "z"}']
    chunk = decode_records(msgspec.json.Decoder(Record), lines, np.arange(1, 7), "f.jsonl")
    assert [r.a for r in chunk.records] == [1, "z"]
    assert chunk.rows.tolist() == [1, 6]
    reasons = chunk.quarantine.set_index("source_row")["reason"]
    assert reasons[3].startswith("unexpected JSON value")
    assert reasons[4].startswith("malformed JSON")
    assert reasons[5].startswith("malformed JSON")
    assert json.loads(chunk.quarantine.set_index("source_row").loc[4, "raw"]) == "not json"


def test_boolean_options_accept_common_spellings_and_reject_others():
    assert option_bool({"x": "Yes"}, "x", False) is True
    assert option_bool({"x": "0"}, "x", True) is False
    assert option_bool({}, "x", True) is True
    with pytest.raises(SourceOptionError, match="'x'"):
        option_bool({"x": "maybe"}, "x", False)
