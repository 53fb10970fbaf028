"""Windows Security events (Winlogbeat, NXLog, EVTX-to-JSON) -> sign-in events."""

import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from ztad.ingest import get_reader
from ztad.ingest.formats.windows import detect_layout, read
from ztad.ingest.options import SourceOptionError

DATA = Path(__file__).parents[3] / "data" / "sources"
WINLOGBEAT = DATA / "windows_winlogbeat.jsonl"
NXLOG = DATA / "windows_nxlog.jsonl"
EVTX = DATA / "windows_evtx.jsonl"


def load(path, **options):
    batches = list(read(str(path), options))
    events = pd.concat([b.frame for b in batches], ignore_index=True)
    quarantine = pd.concat([b.quarantine for b in batches], ignore_index=True)
    return events.set_index("source_row"), quarantine, len(batches)


def utc(text):
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture(scope="module")
def winlogbeat():
    return load(WINLOGBEAT)


@pytest.mark.parametrize(
    ("path", "layout"), [(WINLOGBEAT, "winlogbeat"), (NXLOG, "nxlog"), (EVTX, "evtx")]
)
def test_layout_is_recognised_from_the_first_record(path, layout):
    assert detect_layout(str(path)) == layout


def test_network_logon_maps_every_field(winlogbeat):
    events, _, _ = winlogbeat
    logon = events.loc[1]
    assert logon["timestamp"] == utc("2026-03-02 08:15:04.312")
    assert logon["user_id"] == "alice"  # TargetUserName "Alice", case folded
    assert logon["ip_address"] == "10.20.30.41"
    assert logon["resource_accessed"] == "fs01.corp.example.com"
    assert pd.isna(logon["device_id"])  # WorkstationName "-" means none
    assert logon["event_id"] == "win:fs01.corp.example.com:118201"
    assert bool(logon["login_success"]) is True


def test_success_and_failure_follow_event_id_and_status(winlogbeat):
    events, _, _ = winlogbeat
    success = events["login_success"].astype(bool).to_dict()
    assert success[1] is True  # 4624
    assert success[2] is False  # 4625
    assert success[5] is True  # 4769, Status 0x0
    assert success[6] is False  # 4768, Status 0x12
    assert success[7] is False  # 4771
    assert success[8] is False  # 4776, Status 0xc000006a
    assert success[11] is True  # 4648


def test_kerberos_and_ntlm_fields(winlogbeat):
    events, _, _ = winlogbeat
    ticket = events.loc[5]
    assert ticket["user_id"] == "alice"  # "alice@CORP.EXAMPLE.COM" without the realm
    assert ticket["ip_address"] == "10.20.30.41"  # "::ffff:10.20.30.41" unwrapped
    assert ticket["resource_accessed"] == "fs01"  # the service the ticket is for
    assert events.loc[7, "resource_accessed"] == "dc01.corp.example.com"
    ntlm = events.loc[8]
    assert ntlm["device_id"] == "ws077" and pd.isna(ntlm["ip_address"])
    assert events.loc[11, "resource_accessed"] == "srv-db01.corp.example.com"  # 4648 target server


def test_machine_accounts_anonymous_and_other_events_are_filtered(winlogbeat):
    events, quarantine, _ = winlogbeat
    assert not {3, 4, 10} & set(events.index)  # WS042$, ANONYMOUS LOGON, 4634 logoff
    assert not {3, 4, 10} & set(quarantine["source_row"])


def test_options_keep_machine_accounts_and_anonymous_logons():
    events, _, _ = load(WINLOGBEAT, keep_machine_accounts="true", keep_anonymous="yes")
    assert events.loc[3, "user_id"] == "ws042$"
    assert events.loc[4, "user_id"] == "anonymous logon"
    assert 10 not in events.index


def test_logon_types_option_keeps_only_those_logons():
    events, _, _ = load(NXLOG, logon_types="3")
    assert list(events.index) == [3]  # the type 10 (remote desktop) logon is dropped


def test_malformed_lines_are_quarantined_with_line_numbers(winlogbeat):
    _, quarantine, _ = winlogbeat
    by_row = quarantine.set_index("source_row")
    assert by_row.loc[9, "field"] == "record"
    assert by_row.loc[9, "reason"].startswith("malformed JSON")
    assert json.loads(by_row.loc[9, "raw"]).startswith('{"@timestamp"')  # the cut line, as text
    assert by_row.loc[12, "field"] == "timestamp"
    assert json.loads(by_row.loc[12, "raw"])["@timestamp"] == "yesterday morning"


def test_nxlog_local_event_time_uses_the_timezone_option():
    events, quarantine, _ = load(NXLOG, timezone="Europe/Madrid")
    assert events.loc[1, "timestamp"] == utc("2026-03-02 08:15:04")
    assert events.loc[1, "device_id"] == "laptop-alice"
    assert bool(events.loc[3, "login_success"]) is False
    assert quarantine["source_row"].tolist() == [2]


def test_evtx_export_with_attributes_and_typed_values():
    events, quarantine, _ = load(EVTX)
    assert events.loc[1, "timestamp"] == utc("2026-03-02 08:15:04.312766")
    assert events.loc[2, "user_id"] == "bob"  # EventID given as {"#text": 4625, ...}
    assert bool(events.loc[2, "login_success"]) is False
    assert quarantine.set_index("source_row").loc[3, "reason"].startswith("unexpected JSON value")


def test_the_same_event_from_different_shippers_has_the_same_id():
    rows = {WINLOGBEAT: 2, NXLOG: 3, EVTX: 2}  # bob's failed logon, record 118202, in each file
    ids = {load(path)[0].loc[row, "event_id"] for path, row in rows.items()}
    assert ids == {"win:fs01.corp.example.com:118202"}


def test_unreadable_status_is_quarantined(tmp_path):
    line = json.loads(WINLOGBEAT.read_text().splitlines()[4])  # 4769
    line["winlog"]["event_data"]["Status"] = "pending"
    path = tmp_path / "bad-status.jsonl"
    path.write_text(json.dumps(line) + "\n")
    events, quarantine, _ = load(path)
    assert events.empty
    assert quarantine[["field", "reason"]].values.tolist() == [["Status", "missing or unreadable Status"]]


def test_large_file_is_read_in_several_batches(tmp_path):
    template = json.loads(WINLOGBEAT.read_text().splitlines()[1])  # 4625
    lines = []
    for i in range(3000):
        template["winlog"]["record_id"] = 200000 + i
        template["winlog"]["event_data"]["TargetUserName"] = f"user{i % 40}"
        lines.append(json.dumps(template))
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    batches = list(read(str(path), {"chunk_bytes": "65536"}))
    assert len(batches) > 10
    assert max(len(b.frame) for b in batches) < 500
    rows = pd.concat([b.frame["source_row"] for b in batches])
    assert sorted(rows) == list(range(1, 3001))
    assert pd.concat([b.frame["event_id"] for b in batches]).is_unique


def test_unknown_layout_is_a_clear_error(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_text('{"time": "2026-03-02T08:00:00Z", "msg": "hello"}\n')
    with pytest.raises(SourceOptionError, match="layout"):
        load(path)
    with pytest.raises(SourceOptionError, match="layout"):
        load(WINLOGBEAT, layout="splunk")


def test_the_reader_is_found_by_format_name():
    assert get_reader("windows") is read


def test_documents_exported_from_elasticsearch_are_read(tmp_path):
    document = json.loads(WINLOGBEAT.read_text().splitlines()[1])
    hit = {"_index": ".ds-winlogbeat-8.13.4-2026.03.02-000001", "_id": "x1Yz", "_score": 1.0, "_source": document}
    path = tmp_path / "export.ndjson"
    path.write_text(json.dumps(hit) + "\n")
    assert detect_layout(str(path)) == "elastic"
    events, _, _ = load(path)
    assert events.loc[1, ["user_id", "ip_address"]].tolist() == ["bob", "198.51.100.7"]


def nxlog_line(**fields):
    base = json.loads(NXLOG.read_text().splitlines()[0])
    return json.dumps({**base, **fields})


def test_machine_accounts_are_filtered_after_the_realm_is_stripped(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join([
        nxlog_line(EventID=4769, TargetUserName="WORKSTATION7$@CORP.EXAMPLE.COM", Status="0x0", RecordNumber=1),
        nxlog_line(EventID=4769, TargetUserName="alice@CORP.EXAMPLE.COM", Status="0x0", RecordNumber=2),
    ]) + "\n")
    events, _, _ = load(path)
    assert events["user_id"].tolist() == ["alice"]
    kept, _, _ = load(path, keep_machine_accounts="true")
    assert kept["user_id"].tolist() == ["workstation7$", "alice"]


def test_nxlog_uses_a_utc_time_whenever_the_record_has_one(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join([
        nxlog_line(EventTime="2026-03-02 09:15:04", RecordNumber=1, **{"@timestamp": "2026-03-02T13:15:04.5Z"}),
        nxlog_line(EventTime="2026-03-02 09:15:04", RecordNumber=2, EventTimeUTC="2026-03-02 13:15:04"),
        nxlog_line(EventTime=1772457304312766, RecordNumber=3),  # integer($EventTime): microseconds
        nxlog_line(EventTime="2026-03-02 09:15:04", RecordNumber=4),  # local only: the option decides
    ]) + "\n")
    events, quarantine, _ = load(path, timezone="America/New_York")
    assert quarantine.empty
    assert events["timestamp"].tolist() == [
        utc("2026-03-02 13:15:04.5"), utc("2026-03-02 13:15:04"), utc("2026-03-02 13:15:04.312766"),
        utc("2026-03-02 14:15:04"),
    ]


def test_records_that_are_not_sign_ins_are_counted_as_skipped():
    batches = list(read(str(WINLOGBEAT), {}))
    skipped = sorted(int(row) for b in batches for row in b.skipped)
    events, quarantine, _ = load(WINLOGBEAT)
    lines = [n for n, text in enumerate(WINLOGBEAT.read_text().splitlines(), start=1) if text.strip()]
    assert sorted([*events.index, *quarantine["source_row"], *skipped]) == lines
    assert skipped  # the machine account, the anonymous logon, the event that is not a sign-in


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_exports_with_a_byte_order_mark_are_read(tmp_path, encoding):
    path = tmp_path / "a.jsonl"
    path.write_bytes(("\r\n".join(NXLOG.read_text().splitlines()) + "\r\n").encode(encoding))
    events, quarantine, _ = load(path, timezone="Europe/Madrid")
    assert events.loc[1, "timestamp"] == utc("2026-03-02 08:15:04")
    assert quarantine["source_row"].tolist() == [2]


def test_evtx_dump_default_output_of_indented_records_is_read(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    records = [json.loads(line) for line in EVTX.read_text().splitlines()[:2]]
    text = "".join(f"Record {n}\n{json.dumps(record, indent=2)}\n" for n, record in enumerate(records, start=1))
    cut = json.dumps(records[0], indent=2)[:300]  # an export that broke off mid-record
    path = tmp_path / "security.json"
    path.write_text(text.replace("\n", "\r\n") + f"Record 3\r\n{cut}")
    events, quarantine, _ = load(path)
    assert events["user_id"].tolist() == ["alice", "bob"] and events.index.tolist() == [1, 2]  # record numbers
    assert quarantine["source_row"].tolist() == [3] and set(quarantine["source"]) == {str(path)}
    assert not list(scratch.iterdir())  # the one-record-per-line copy is gone
