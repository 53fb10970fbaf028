"""write_day_files: a day written batch by batch gives load_day's events, quarantine and counts,
in memory that does not grow with the day's rows."""

import subprocess
import sys
import textwrap
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ztad.config import SourceConfig
from ztad.ingest import MissingColumnError, MissingPartitionError, load_day, write_day_files

DAY = date(2024, 3, 1)
HEADER = "timestamp,user_id,device_id,ip_address,location,login_success,access_time,resource_accessed,bytes_transferred"
#: The smallest CSV batch the reader allows (option ``chunk_bytes``): a few rows each.
TINY_BATCHES = {"chunk_bytes": "1"}


def line(minute: int, user: str = "alice", ok: str = "1", nbytes: str = "100", ip: str = "10.0.0.1") -> str:
    return f'2024-03-01T{minute // 60:02d}:{minute % 60:02d}:00Z,{user},dev-1,{ip},"Paris, France",{ok},' \
           f"08:00:00,hr,{nbytes}"


def with_id(event_id: str, text: str) -> str:
    return f"{text},{event_id}"


def write(root, name: str, lines: list[str], header: str = HEADER) -> None:
    folder = root / f"date={DAY.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([header, *lines]) + "\n")


def pulled(root, tmp_path, options=None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    source = SourceConfig(str(root), options=dict(options or TINY_BATCHES))
    counts = write_day_files(source, DAY, None, tmp_path / "out" / "events.parquet",
                             tmp_path / "out" / "quarantine.parquet")
    events = pd.read_parquet(tmp_path / "out" / "events.parquet")
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    return events, quarantine, counts


def assert_same_as_load_day(root, tmp_path, options=None) -> dict:
    """The files hold exactly what load_day returns (written as pull wrote it), with its counts."""
    events, quarantine, counts = pulled(root, tmp_path, options)
    whole = load_day(SourceConfig(str(root), options=dict(options or TINY_BATCHES)), DAY)
    whole.events.to_parquet(tmp_path / "whole_events.parquet", index=False)
    whole.quarantine.astype({"raw": "string"}).to_parquet(tmp_path / "whole_quarantine.parquet", index=False)
    pd.testing.assert_frame_equal(events, pd.read_parquet(tmp_path / "whole_events.parquet"))
    pd.testing.assert_frame_equal(quarantine, pd.read_parquet(tmp_path / "whole_quarantine.parquet"))
    for name in ("events", "quarantine"):
        assert pq.read_schema(tmp_path / "out" / f"{name}.parquet").equals(
            pq.read_schema(tmp_path / f"whole_{name}.parquet"), check_metadata=True)
    assert counts == {
        "rows_read": whole.rows_read, "rows_valid": len(whole.events), "rows_quarantined": len(whole.quarantine),
        "rows_duplicate": whole.duplicates, "rows_skipped": whole.rows_skipped, "files_skipped": whole.skipped_files,
    }
    assert counts["rows_read"] == sum(counts[k] for k in ("rows_valid", "rows_quarantined", "rows_duplicate",
                                                          "rows_skipped"))
    return counts


def test_duplicates_and_bad_rows_across_batches_and_files_as_load_day(tmp_path):
    events = [line(m, user=f"u{m % 5}") for m in range(120)]
    first = events[:60] + [line(3, ok="2"), line(4, nbytes="-1")] + events[10:20] + ["only,three,fields"]
    second = events[55:120] + events[:5] + [line(7, ip="300.1.1.1"), ""] + events[100:110]
    write(tmp_path / "logs", "a.csv", first)
    write(tmp_path / "logs", "b.csv", second)
    counts = assert_same_as_load_day(tmp_path / "logs", tmp_path)
    assert counts["rows_duplicate"] == 10 + 5 + 5 + 10
    assert counts["rows_quarantined"] == 4
    assert counts["rows_valid"] == 120


def test_ids_repeated_with_other_content_are_quarantined_naming_the_first(tmp_path):
    header = HEADER + ",event_id"
    lines = [with_id(f"id-{m}", line(m)) for m in range(40)]
    lines += [with_id("id-3", line(3)),  # an exact copy: a duplicate
              with_id("id-5", line(5, user="mallory")),  # another event under an id seen batches ago
              with_id("id-5", line(5, user="mallory")),  # a copy of that one: a duplicate too
              with_id("", line(50)), with_id("", line(50)),  # no id: one derived from the content
              with_id("id-39", line(39, nbytes="7"))]
    write(tmp_path / "logs", "a.csv", lines, header)
    write(tmp_path / "logs", "b.csv", [with_id("id-7", line(7, ok="0")), with_id("id-41", line(41))], header)
    counts = assert_same_as_load_day(tmp_path / "logs", tmp_path)
    assert (counts["rows_duplicate"], counts["rows_quarantined"]) == (3, 3)
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    assert quarantine["reason"].iloc[0] == (
        f"event_id 'id-5' repeated with other content (first at {tmp_path / 'logs'}/date=2024-03-01/a.csv row 7)")
    assert quarantine["source_row"].tolist() == [43, 47, 2]


def test_an_id_given_by_the_source_that_ztad_would_derive_is_the_same_event(tmp_path):
    write(tmp_path / "logs", "a.csv", [line(m) for m in range(30)])
    derived = pulled(tmp_path / "logs", tmp_path)[0]
    given = [with_id(event_id, line(m)) for m, event_id in zip(range(30), derived["event_id"])]
    given[4] = with_id(derived["event_id"][4], line(4, user="mallory"))
    write(tmp_path / "logs", "b.csv", given, HEADER + ",event_id")
    counts = assert_same_as_load_day(tmp_path / "logs", tmp_path)
    assert (counts["rows_duplicate"], counts["rows_quarantined"]) == (29, 1)


def test_places_and_networks_are_looked_up_batch_by_batch_as_for_the_whole_day(tmp_path):
    from tests.fixtures.geoip import write_databases

    city_db, asn_db = write_databases(tmp_path / "geoip")
    addresses = ["81.2.69.160", "89.160.20.112", "10.1.2.3", "175.16.199.1", "2001:480::1"]
    lines = [line(m, ip=addresses[m % len(addresses)]) for m in range(40)]
    lines[7] = line(7, ip="81.2.69.160").replace('"Paris, France"', "")  # no place: one looked up
    lines[9] = line(9, ip="89.160.20.112").replace('"Paris, France"', "")
    write(tmp_path / "logs", "a.csv", lines + lines[:10])
    options = {**TINY_BATCHES, "geoip_city_db": city_db, "geoip_asn_db": asn_db}
    assert_same_as_load_day(tmp_path / "logs", tmp_path, options)
    events = pd.read_parquet(tmp_path / "out" / "events.parquet")
    assert events["location"].tolist()[7:10] == ["London, United Kingdom", "Paris, France", "Linkoping, Sweden"]
    assert events["asn"].notna().sum() == 33  # every public address, whatever its place


def test_header_only_partition_is_an_empty_day(tmp_path):
    write(tmp_path / "logs", "a.csv", [])
    counts = assert_same_as_load_day(tmp_path / "logs", tmp_path)
    assert counts["rows_read"] == 0


def test_missing_partition_raises_and_writes_nothing(tmp_path):
    (tmp_path / "logs" / "date=2024-03-02").mkdir(parents=True)
    with pytest.raises(MissingPartitionError, match="no partition folder"):
        pulled(tmp_path / "logs", tmp_path)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_failing_file_leaves_the_earlier_files_in_place(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "events.parquet").write_bytes(b"earlier")
    write(tmp_path / "logs", "a.csv", [line(1)])
    write(tmp_path / "logs", "b.csv", ["2024-03-01T08:00:00Z,bob"], header="timestamp,user_id")
    with pytest.raises(MissingColumnError):
        pulled(tmp_path / "logs", tmp_path)
    assert (out / "events.parquet").read_bytes() == b"earlier"
    assert sorted(path.name for path in out.iterdir()) == ["events.parquet"]


def test_flat_file_goes_through_the_whole_day(tmp_path):
    (tmp_path / "all.csv").write_text("\n".join([HEADER, line(1), line(1), line(2, ok="x")]) + "\n")
    events, quarantine, counts = pulled(tmp_path / "all.csv", tmp_path)
    assert (len(events), len(quarantine), counts["rows_duplicate"]) == (1, 1, 1)


MEASURE = textwrap.dedent("""
    import sys
    from datetime import date
    from pathlib import Path
    from ztad.config import SourceConfig
    from ztad.ingest import day_files, write_day_files

    day_files.ROW_GROUP_ROWS = 5_000  # the rows gathered for a row group are not the day's
    root = Path(sys.argv[1])
    def pull(name, chunk):
        source = SourceConfig(str(root / name), options={"chunk_bytes": chunk})
        return write_day_files(source, date(2024, 3, 1), None, root / "e.parquet", root / "q.parquet")["rows_valid"]
    def status(name):
        lines = Path("/proc/self/status").read_text().splitlines()
        return 1024 * int(next(line for line in lines if line.startswith(name)).split()[1])
    pull("warm", "1")  # imports and first use
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
    before = status("VmRSS:")
    rows = pull(sys.argv[2], str(64 << 10))  # the CSV reader holds 32 blocks ahead: keep them small
    print(rows, status("VmHWM:") - before)
""")


def peak_growth(root, name: str, attempts: int = 3) -> tuple[int, int]:
    """Rows pulled from partition ``name`` and how far the peak RSS of a process of its own
    rose meanwhile (Linux: the peak is reset through ``/proc/self/clear_refs`` once the
    imports are done), the least of ``attempts`` processes: with every core busy, the reader's
    threads can hold a few more blocks at once in one run than in another, but a day held
    whole would raise every run's peak."""
    measured = []
    for _ in range(attempts):
        done = subprocess.run([sys.executable, "-c", MEASURE, str(root), name], capture_output=True, text=True,
                              check=True)
        rows, growth = done.stdout.split()
        measured.append((int(rows), int(growth)))
    return min(measured, key=lambda pulled: pulled[1])


def events_csv(root, name: str, n: int) -> None:
    """``n`` distinct events in one CSV file of partition ``name``."""
    minutes = np.arange(n) % 1440
    frame = pd.DataFrame({
        "timestamp": pd.Timestamp("2024-03-01") + pd.to_timedelta(minutes * 60 + np.arange(n) % 60, unit="s"),
        "user_id": pd.Series(np.arange(n) % 5000).map("user{}".format),
        "ip_address": "10.0.0.1", "login_success": 1, "bytes_transferred": np.arange(n),
    })
    (root / name / f"date={DAY}").mkdir(parents=True)
    frame.to_csv(root / name / f"date={DAY}" / "a.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")


def test_memory_does_not_grow_with_the_day(tmp_path):
    """Peak memory (RSS) of writing a day in small batches hardly grows from 20,000 to 120,000
    events: by the events' keys (some 30 bytes each), not by their rows (some 450 bytes each
    when the day is held whole, 45 MB more here)."""
    events_csv(tmp_path, "warm", 2_000)
    events_csv(tmp_path, "small", 20_000)
    events_csv(tmp_path, "large", 120_000)
    (small_rows, small), (large_rows, large) = peak_growth(tmp_path, "small"), peak_growth(tmp_path, "large")
    assert (small_rows, large_rows) == (20_000, 120_000)
    assert large - small < 16 * 2**20, (small, large)
