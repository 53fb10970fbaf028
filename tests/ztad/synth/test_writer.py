import csv
import filecmp
import json
from datetime import date

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ztad.synth import OUTPUT_COLUMNS, GeneratorSettingsError, generate
from ztad.synth.writer import iso_timestamps

TINY = {"start": date(2026, 3, 2), "days": 3, "users": 20, "clean_days": 1}
HEADER = list(OUTPUT_COLUMNS)


def read_csvs(paths) -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths]
    return pd.concat(frames, ignore_index=True)


def test_partitions_hold_one_utc_day_each_with_the_exact_header(small_logs, small_logs_summary):
    folders = sorted(p.name for p in small_logs.iterdir())
    assert folders == [f"date={date(2026, 3, d).isoformat()}" for d in range(2, 23)]
    for path in small_logs_summary.paths:
        with path.open(newline="") as handle:
            rows = csv.reader(handle)
            assert next(rows) == HEADER
            day = path.parent.name.removeprefix("date=")
            assert all(row[0].startswith(day + "T") for row in rows)


def test_text_values_are_in_the_origin_format(small_logs_summary):
    events = read_csvs(small_logs_summary.paths[:2])
    assert events["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert (events["timestamp"].str[11:19] == events["access_time"]).all()
    assert set(events["login_success"]) == {"0", "1"}
    assert events["bytes_transferred"].str.fullmatch(r"\d+").all()
    assert events["location"].str.fullmatch(r"[^,]+, [^,]+").all()
    assert events["ip_address"].str.fullmatch(r"\d+\.\d+\.\d+\.\d+").all()


def test_summary_counts_what_the_files_hold(small_logs_summary):
    events = read_csvs(small_logs_summary.paths)
    summary = small_logs_summary
    assert summary.events == len(events)
    assert summary.labels == events["event_label"].value_counts().to_dict()
    assert summary.scenarios == events.loc[events["scenario"] != "", "scenario"].value_counts().to_dict()
    assert summary.attack_events == (events["event_label"] != "normal").sum() > 0
    assert summary.days == 21 and summary.end == date(2026, 3, 22)
    assert "password_spray" in str(summary)


def test_same_seed_writes_the_same_files_and_another_seed_others(tmp_path):
    first = generate(tmp_path / "a", seed=3, **TINY)
    again = generate(tmp_path / "b", seed=3, **TINY)
    other = generate(tmp_path / "c", seed=4, **TINY)
    for x, y, z in zip(first.paths, again.paths, other.paths):
        assert filecmp.cmp(x, y, shallow=False)
        assert not filecmp.cmp(x, z, shallow=False)


def test_a_flat_file_holds_the_same_events_as_the_partitions(tmp_path):
    parts = generate(tmp_path / "parts", **TINY)
    flat = generate(tmp_path / "flat", layout="flat", **TINY)
    assert [p.name for p in flat.paths] == ["events.csv"]
    pd.testing.assert_frame_equal(read_csvs(parts.paths), read_csvs(flat.paths))


def test_parquet_and_json_lines_hold_the_same_events_as_csv(tmp_path):
    text = read_csvs(generate(tmp_path / "csv", **TINY).paths)
    parquet = generate(tmp_path / "pq", fmt="parquet", layout="flat", **TINY)
    table = pq.read_table(parquet.paths[0]).to_pandas()
    assert list(table.columns) == HEADER
    assert str(table["timestamp"].dtype).startswith("datetime64") and str(table["timestamp"].dt.tz) == "UTC"
    assert (table["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ") == text["timestamp"]).all()
    assert (table["user_id"] == text["user_id"]).all() and (table["bytes_transferred"].astype(str) == text["bytes_transferred"]).all()

    jsonl = generate(tmp_path / "jl", fmt="jsonl", **TINY)
    rows = [json.loads(line) for path in jsonl.paths for line in path.read_text().splitlines()]
    assert list(rows[0]) == HEADER
    assert [r["timestamp"] for r in rows] == text["timestamp"].tolist()
    assert [str(r["login_success"]) for r in rows] == text["login_success"].tolist()


def test_writing_a_day_again_in_another_format_replaces_it(tmp_path):
    generate(tmp_path, **TINY)
    summary = generate(tmp_path, fmt="parquet", **TINY)
    for path in summary.paths:
        assert sorted(p.name for p in path.parent.iterdir()) == ["events.parquet"]


def test_progress_is_reported_after_each_day(tmp_path):
    seen = []
    generate(tmp_path, progress=lambda done, total: seen.append((done, total)), **TINY)
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("change, message", [({"layout": "nested"}, "layout"), ({"fmt": "xml"}, "fmt")])
def test_unknown_layout_or_format_is_refused_by_name(tmp_path, change, message):
    with pytest.raises(GeneratorSettingsError, match=message):
        generate(tmp_path, **TINY, **change)
    assert not any(tmp_path.iterdir())


def test_iso_timestamps_span_several_days():
    stamps = pd.Series(pd.to_datetime([0, 86400 + 3661], unit="s", utc=True))
    assert list(iso_timestamps(stamps).astype(str)) == ["1970-01-01T00:00:00Z", "1970-01-02T01:01:01Z"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("layout", ["partitioned", "flat"])
def test_a_day_written_in_chunks_is_the_day_written_whole(tmp_path, layout, fmt):
    whole = generate(tmp_path / "whole", layout=layout, fmt=fmt, chunk_rows=10**9, **TINY)
    chunked = generate(tmp_path / "chunked", layout=layout, fmt=fmt, chunk_rows=37, **TINY)
    assert whole.events > 3 * 37 and (whole.labels, whole.scenarios) == (chunked.labels, chunked.scenarios)
    assert [p.relative_to(tmp_path / "whole") for p in whole.paths] == [
        p.relative_to(tmp_path / "chunked") for p in chunked.paths]
    for one, many in zip(whole.paths, chunked.paths):
        if fmt == "parquet":  # row groups follow the chunks; the table is the same
            assert pq.read_table(one).equals(pq.read_table(many))
        else:
            assert filecmp.cmp(one, many, shallow=False)


def test_chunks_must_hold_an_event(tmp_path):
    with pytest.raises(GeneratorSettingsError, match="chunk_rows"):
        generate(tmp_path, chunk_rows=0, **TINY)
    assert not any(tmp_path.iterdir())
