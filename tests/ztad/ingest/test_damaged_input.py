"""A corpus of damaged input: every case ends in quarantine with its reason, a skipped file, or
one error naming the file, and no row is lost without being counted.

Each case is one day's partition holding a good row next to the damage, so that the good row is
seen to survive it.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from ztad.config import SourceConfig
from ztad.ingest import LoadResult, UnreadableFileError, load_day

DAY = date(2026, 3, 2)
HEADER = "timestamp,user_id,ip_address,login_success,event_id"
GOOD_CSV = "2026-03-02T10:00:00Z,alice,192.0.2.10,1,good-1"
GOOD_JSON = {"timestamp": "2026-03-02T10:00:00Z", "user_id": "alice", "ip_address": "192.0.2.10",
             "login_success": 1, "event_id": "good-1"}
GOOD_SSHD = "Mar  2 10:00:00 h sshd[1]: Accepted password for alice from 192.0.2.10 port 1 ssh2"
NXLOG = Path(__file__).parents[2] / "data" / "sources" / "windows_nxlog.jsonl"


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join([HEADER, GOOD_CSV, *rows]) + "\n").encode()


def jsonl_bytes(*lines: bytes) -> bytes:
    return json.dumps(GOOD_JSON).encode() + b"\n" + b"\n".join(lines) + b"\n"


def nxlog_bytes(**fields) -> bytes:
    base = json.loads(NXLOG.read_text().splitlines()[0])
    good = json.dumps({**base, "EventTime": "2026-03-02 10:00:00"})
    return (good + "\n" + json.dumps({**base, "EventTime": "2026-03-02 10:05:00", **fields}) + "\n").encode()


@dataclass
class Case:
    """Files of one partition, and what must become of the damage."""

    files: dict[str, bytes]
    quarantined: str | None = None  # the field a quarantine record names
    reason: str | None = None  # ... and words of its reason
    events: int = 1
    skipped_file: str | None = None
    options: dict = field(default_factory=dict)
    format: str | None = None


CASES = {
    "latin-1 bytes in a CSV row": Case({"a.csv": csv_bytes("2026-03-02T11:00:00Z,jos\xe9,192.0.2.11,0,e2")
                                        .replace("jos\xe9".encode(), b"jos\xe9")}, "row", "not UTF-8"),
    "latin-1 bytes in a JSON line": Case({"a.jsonl": jsonl_bytes(b'{"user_id": "jos\xe9"}')}, "row", "not UTF-8"),
    "latin-1 bytes in an sshd line": Case(
        {"auth.log": (GOOD_SSHD + "\n").encode()
         + b"Mar  2 10:01:00 h sshd[2]: Failed password for jos\xe9 from 192.0.2.11 port 2 ssh2\n"},
        "line", "not UTF-8", format="sshd", options={"year": "2026"}),
    "a JSON integer of 10**25": Case(
        {"a.jsonl": jsonl_bytes(json.dumps({**GOOD_JSON, "event_id": "e2", "bytes_transferred": 10**25}).encode())},
        "bytes_transferred", "out of range"),
    "NUL bytes in a CSV value": Case({"a.csv": csv_bytes("2026-03-02T11:00:00Z,al\x00ice,192.0.2.11,0,e2")},
                                     "user_id", "NUL"),
    "a NUL escape in JSON": Case({"a.jsonl": jsonl_bytes(json.dumps({**GOOD_JSON, "event_id": "e2",
                                                                      "device_id": "pc\u0000"}).encode())},
                                 "device_id", "NUL"),
    "a NUL in a Windows account name": Case({"s.jsonl": nxlog_bytes(TargetUserName="bo\u0000b", RecordNumber=9)},
                                            "user_id", "NUL", format="windows"),
    "an empty file": Case({"a.csv": b""}, events=0),
    "an empty Windows export": Case({"s.jsonl": b""}, events=0, format="windows"),
    "a header-only file": Case({"a.csv": (HEADER + "\n").encode()}, events=0),
    "an unknown file ending": Case({"a.csv": csv_bytes(), "b.csv.bz2": b"BZh91AY&SY" + bytes(30)},
                                   skipped_file="b.csv.bz2"),
    "a row whose fields are all empty": Case({"a.csv": csv_bytes(",,,,")}, "row", "every field is empty"),
    "a JSON line whose fields are all empty": Case(
        {"a.jsonl": jsonl_bytes(b'{"timestamp": "", "user_id": "", "ip_address": "", "login_success": ""}')},
        "timestamp", "missing timestamp"),
    "a source event_id repeated with other content": Case(
        {"a.csv": csv_bytes("2026-03-02T11:00:00Z,bob,192.0.2.11,0,good-1")}, "event_id", "repeated"),
    "a quote ending a quoted value early": Case({"a.csv": csv_bytes('2026-03-02T11:00:00Z,"u000"01",192.0.2.11,0,e2')},
                                                "row", "malformed CSV quoting"),
    "a valid ISO time beyond the years pandas reads in nanoseconds": Case(
        {"a.csv": csv_bytes("2026-03-02T11:00:00.123456789Z,bob,192.0.2.11,0,e2",
                            "1500-01-01T00:00:00Z,carol,192.0.2.12,0,e3")},
        "timestamp", "outside partition day", events=2),
    "a time before year 1 once its offset is applied": Case(
        {"a.csv": csv_bytes("0001-01-01T00:00:00+01:00,bob,192.0.2.11,0,e2")}, "timestamp", "out of range"),
    "a JSON line with a trailing comma": Case(
        {"a.jsonl": jsonl_bytes(json.dumps({**GOOD_JSON, "event_id": "e2"})[:-1].encode() + b",}")},
        "row", "not valid JSON"),
}


def write(root: Path, files: dict[str, bytes]) -> None:
    folder = root / f"date={DAY.isoformat()}"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def assert_nothing_lost(result: LoadResult) -> None:
    assert result.accounted(), (result.rows_read, len(result.events), len(result.quarantine),
                                result.duplicates, result.rows_skipped)


@pytest.mark.parametrize("name", list(CASES))
def test_damage_is_quarantined_skipped_or_counted(tmp_path, name):
    case = CASES[name]
    write(tmp_path, case.files)
    result = load_day(SourceConfig(str(tmp_path), format=case.format, options=case.options), DAY)
    assert_nothing_lost(result)
    assert len(result.events) == case.events
    if case.quarantined is None:
        assert result.quarantine.empty
    else:
        assert len(result.quarantine) == 1, result.quarantine[["field", "reason"]].values.tolist()
        bad = result.quarantine.iloc[0]
        assert bad["field"] == case.quarantined and case.reason in bad["reason"], (bad["field"], bad["reason"])
        assert "\x00" not in bad["raw"] + bad["reason"]  # PostgreSQL text cannot hold NUL
        assert bad["source"].endswith(next(iter(case.files)))
    if case.skipped_file:
        [skipped] = result.skipped_files
        assert skipped["path"].endswith(case.skipped_file)
        assert skipped["size_bytes"] == len(case.files[case.skipped_file]) and "unknown file ending" in skipped["reason"]
    else:
        assert result.skipped_files == []


@pytest.mark.parametrize(("name", "fmt"), [("a.csv.gz", None), ("a.jsonl.gz", None), ("auth.log.gz", "sshd")])
def test_a_truncated_gzip_file_is_one_error_naming_it(tmp_path, name, fmt):
    text = csv_bytes() if name.startswith("a.csv") else jsonl_bytes() if fmt is None else (GOOD_SSHD + "\n").encode()
    packed = gzip.compress(text * 2000)
    write(tmp_path, {name: packed[: len(packed) // 2]})
    with pytest.raises(UnreadableFileError) as caught:
        load_day(SourceConfig(str(tmp_path), format=fmt, options={"year": "2026"} if fmt else {}), DAY)
    assert caught.value.path.endswith(name)
    assert name in str(caught.value) and "\n" not in str(caught.value)
    assert "truncated or corrupt" in str(caught.value)


def test_an_exact_copy_of_a_row_is_a_duplicate_not_a_failure(tmp_path):
    write(tmp_path, {"a.csv": csv_bytes(GOOD_CSV)})
    result = load_day(SourceConfig(str(tmp_path)), DAY)
    assert (len(result.events), result.duplicates, len(result.quarantine)) == (1, 1, 0)
    assert_nothing_lost(result)


def test_quoting_is_checked_in_every_batch_of_a_file_full_of_quotes(tmp_path):
    rows = [f'2026-03-02T10:{m:02d}:00Z,"say ""hi"" {m}",192.0.2.11,0,e{m}' for m in range(60)]
    rows[41] = '2026-03-02T10:41:00Z,"u000"01",192.0.2.11,0,e41'
    write(tmp_path, {"a.csv": csv_bytes(*rows)})
    result = load_day(SourceConfig(str(tmp_path), options={"chunk_bytes": "1"}), DAY)
    assert_nothing_lost(result)
    assert result.quarantine[["source_row", "field"]].values.tolist() == [[44, "row"]]  # header, good row, 42nd
    assert len(result.events) == 60 and 'say "hi" 7' in set(result.events["user_id"])
