"""Generic CSV / JSON Lines through a mapping file."""

import json

import pandas as pd
import pytest
import yaml

from ztad.ingest import get_reader
from ztad.ingest.formats.mapping import MappingError, load_mapping, read
from ztad.ingest.options import SourceOptionError

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


def test_large_json_lines_keep_their_line_numbers_around_a_bad_line(tmp_path):
    lines = [
        json.dumps({"ts": f"2026-03-02T08:{i // 60 % 60:02d}:{i % 60:02d}Z", "user": {"name": f"u{i}"},
                    "net": {"ip": "192.0.2.4"}, "ok": i % 2 == 0})
        for i in range(6000)
    ]
    lines[3210] = lines[3210][:40]  # cut short
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    events, quarantine, batches = load(path, {"mapping": APP_MAPPING, "chunk_bytes": "65536"})
    assert batches > 5
    assert quarantine.index.tolist() == [3211] and quarantine.loc[3211, "field"] == "record"
    assert events.index.tolist() == [n for n in range(1, 6001) if n != 3211]
    assert (events["user_id"] == "u" + (events.index - 1).astype(str)).all()
