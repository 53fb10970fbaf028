"""A flat log file is read once for all its days: every day's load from the index is the load
the file gives when read whole for that day, and a later day does not read the file again."""

from __future__ import annotations

import gzip
import os
from datetime import date, timedelta

import pandas as pd
import pytest

from tests.fixtures.real_logs import write_sshd_server_log
from tests.ztad.ingest.test_damaged_input import CASES, GOOD_SSHD, csv_bytes
from tests.ztad.ingest.test_files import csv_text, line
from tests.ztad.ingest.test_real_logs import BUILDERS as REAL_LOGS
from ztad.config import SourceConfig
from ztad.ingest import MissingPartitionError, UnreadableFileError, files, load_day
from ztad.ingest.flat_index import IndexWriter, index_key


def loaded(source: SourceConfig, day: date, index_dir=None):
    """The load of ``day``, or the error it ends in (type and message)."""
    try:
        return load_day(source, day, index_dir)
    except (MissingPartitionError, UnreadableFileError, ValueError) as error:
        return type(error), str(error)


def assert_same(direct, indexed) -> None:
    if isinstance(direct, tuple):
        assert direct == indexed
        return
    pd.testing.assert_frame_equal(direct.events, indexed.events, check_exact=True)
    pd.testing.assert_frame_equal(direct.quarantine, indexed.quarantine, check_exact=True)
    assert (direct.rows_read, direct.duplicates, direct.rows_skipped, direct.skipped_files) == (
        indexed.rows_read, indexed.duplicates, indexed.rows_skipped, indexed.skipped_files)


def assert_every_day_the_same(source: SourceConfig, first: date, last: date, index_dir, margin: int = 1) -> int:
    """Compare both ways for every day from ``margin`` days before ``first`` to as many after ``last``."""
    days = [first + timedelta(days=k) for k in range(-margin, (last - first).days + 1 + margin)]
    for day in days:
        assert_same(loaded(source, day), loaded(source, day, index_dir))
    return len(days)


@pytest.mark.parametrize("fmt", list(REAL_LOGS))
def test_every_day_of_a_real_export_loads_as_from_the_whole_file(tmp_path, fmt):
    write, name = REAL_LOGS[fmt]
    log = write(tmp_path / name)
    source = SourceConfig(str(log.path), format=log.format, options=log.options)
    assert assert_every_day_the_same(source, log.first_day, log.last_day, tmp_path / "index") >= 5


def counted_passes(monkeypatch) -> list[str]:
    """Every pass over a file, counted as the reading starts (the real reader still reads)."""
    passes: list[str] = []
    read = files._batches

    def counting(path, root, source):
        passes.append(path)
        return read(path, root, source)

    monkeypatch.setattr(files, "_batches", counting)
    return passes


def test_a_later_day_does_not_read_the_file_again(tmp_path, monkeypatch):
    log = write_sshd_server_log(tmp_path / "auth.log")
    source = SourceConfig(str(log.path), format=log.format, options=log.options)
    passes = counted_passes(monkeypatch)
    first = load_day(source, log.first_day, tmp_path / "index")
    assert len(passes) == 1
    last = load_day(source, log.last_day, tmp_path / "index")
    with pytest.raises(MissingPartitionError, match="no row of the file falls on"):
        load_day(source, log.last_day + timedelta(days=3), tmp_path / "index")
    assert len(passes) == 1 and len(first.events) and len(last.events)
    load_day(source, log.last_day)  # without an index the file is read whole again
    assert len(passes) == 2


def test_a_changed_file_is_read_again_and_its_old_index_removed(tmp_path, monkeypatch):
    path = tmp_path / "all.csv"
    path.write_text(csv_text(line(ts="2024-03-01T08:00:00Z", user="u1")))
    source, day = SourceConfig(str(path)), date(2024, 3, 1)
    passes = counted_passes(monkeypatch)
    assert load_day(source, day, tmp_path / "index").events["user_id"].tolist() == ["u1"]
    path.write_text(csv_text(line(ts="2024-03-01T08:00:00Z", user="u1"), line(ts="2024-03-01T09:00:00Z", user="u2")))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert load_day(source, day, tmp_path / "index").events["user_id"].tolist() == ["u1", "u2"]
    assert len(passes) == 2
    assert len(list((tmp_path / "index").iterdir())) == 1


def test_damaged_input_loads_the_same_from_the_index(tmp_path):
    for number, case in enumerate(CASES.values()):
        name, data = next(iter(case.files.items()))
        path = tmp_path / str(number) / name
        path.parent.mkdir()
        path.write_bytes(data)
        source = SourceConfig(str(path), format=case.format, options=case.options)
        assert_every_day_the_same(source, date(2026, 3, 2), date(2026, 3, 2), tmp_path / "index", margin=0)


@pytest.mark.parametrize(("name", "fmt", "text"), [("a.csv.gz", None, csv_bytes()),
                                                    ("auth.log.gz", "sshd", (GOOD_SSHD + "\n").encode())])
def test_a_truncated_file_is_the_same_error_and_leaves_no_index(tmp_path, name, fmt, text):
    packed = gzip.compress(text * 2000)
    (tmp_path / name).write_bytes(packed[: len(packed) // 2])
    source = SourceConfig(str(tmp_path / name), format=fmt, options={"year": "2026"} if fmt else {})
    direct, indexed = loaded(source, date(2026, 3, 2)), loaded(source, date(2026, 3, 2), tmp_path / "index")
    assert direct == indexed and direct[0] is UnreadableFileError
    assert list((tmp_path / "index").iterdir()) == []


def test_duplicates_across_days_and_rows_without_time_load_the_same(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text(csv_text(
        line(ts="never", user="early"),  # before any readable time: the first dated row's day
        "short,row",
        line(ts="2024-03-01T23:59:59Z", user="u1"),
        line(ts="2024-03-02T00:00:00Z", user="u2"),
        line(ts="2024-03-01T23:59:59Z", user="u1"),  # a copy of a row of the day before
        line(ts="", user="late"),  # no time: the day of the row before it
        line(ts="2024-03-04T06:00:00Z", user="u3", ip="nope"),
        line(ts="2024-03-02T00:00:00Z", user="u2"),  # a copy, after another day's row
    ))
    for options in ({}, {"chunk_bytes": "1"}):
        source = SourceConfig(str(path), options=options)
        assert_every_day_the_same(source, date(2024, 3, 1), date(2024, 3, 4), tmp_path / f"index{len(options)}")


def test_a_file_without_any_readable_time_says_so_from_the_index(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text(csv_text(line(ts="x"), line(ts="y")))
    _, message = loaded(SourceConfig(str(path)), date(2024, 3, 1), tmp_path / "index")
    assert "2 rows have no readable timestamp" in message
    assert_every_day_the_same(SourceConfig(str(path)), date(2024, 3, 1), date(2024, 3, 1), tmp_path / "index")


def test_two_processes_publishing_one_index_both_succeed(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text(csv_text(line()))
    key = index_key(tmp_path / "index", str(path), None, {}, {})
    writers = [IndexWriter(key), IndexWriter(key)]
    for writer in writers:
        writer.add(19783, pd.DataFrame({"a": [1]}), pd.DataFrame(), 0)
    for writer in writers:
        assert writer.publish(unattributed=0) == key.path
    assert [p.name for p in (tmp_path / "index").iterdir()] == [key.path.name]


def test_a_file_that_is_not_local_is_read_directly(tmp_path, monkeypatch):
    import fsspec

    fs, root = fsspec.filesystem("memory"), f"/ztad-test-{tmp_path.name}"
    fs.pipe(f"{root}/all.csv", csv_text(line(ts="2024-03-01T08:00:00Z", user="u1")).encode())
    try:
        passes = counted_passes(monkeypatch)
        for _ in range(2):
            result = load_day(SourceConfig(f"memory://{root}/all.csv"), date(2024, 3, 1), tmp_path / "index")
            assert result.events["user_id"].tolist() == ["u1"]
        assert len(passes) == 2 and not (tmp_path / "index").exists()
    finally:
        fs.rm(root, recursive=True)


def test_a_killed_pass_leaves_a_folder_that_a_later_index_removes(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text(csv_text(line()))
    key = index_key(tmp_path / "index", str(path), None, {}, {})
    killed, recent = IndexWriter(key), IndexWriter(key)
    os.utime(killed.tmp, (0, 0))
    IndexWriter(key).publish(unattributed=0)
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == sorted([key.path.name, recent.tmp.name])


def test_the_days_of_an_indexed_file_come_from_its_index(tmp_path, monkeypatch):
    log = write_sshd_server_log(tmp_path / "auth.log")
    source = SourceConfig(str(log.path), format=log.format, options=log.options)
    whole = files.available_days(source)
    passes = counted_passes(monkeypatch)
    assert files.available_days(source, tmp_path / "index") == whole  # no index yet: read whole
    assert len(passes) == 1 and not (tmp_path / "index").exists()  # and none is built
    load_day(source, log.first_day, tmp_path / "index")
    assert len(passes) == 2
    assert files.available_days(source, tmp_path / "index") == whole
    assert len(passes) == 2 and whole[0] == log.first_day and whole[-1] == log.last_day


def test_the_days_of_a_changed_file_are_read_from_the_file(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text(csv_text(line(ts="2024-03-01T08:00:00Z", user="u1")))
    source = SourceConfig(str(path))
    load_day(source, date(2024, 3, 1), tmp_path / "index")
    path.write_text(csv_text(line(ts="2024-03-01T08:00:00Z", user="u1"), line(ts="2024-03-03T09:00:00Z", user="u2")))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert files.available_days(source, tmp_path / "index") == [date(2024, 3, 1), date(2024, 3, 3)]
