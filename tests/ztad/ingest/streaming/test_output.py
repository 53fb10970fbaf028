"""Decoded values -> typed Arrow columns, text and number rules, ISO times, quarantine records."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ztad.ingest.geoip import format_place
from ztad.ingest.streaming.output import (
    MAX_RAW_CHARS,
    concat_values,
    int_column,
    iso_times,
    numbers,
    parse_times,
    per_distinct,
    quarantine_records,
    regex_matches,
    regex_replace,
    text,
    text_column,
    values_array,
)


def test_values_are_typed_by_what_they_hold():
    assert values_array(["a", None]).type == pa.string()
    assert values_array([1, None, 3]).type == pa.int64()
    assert values_array([None, None]).type == pa.null()
    assert values_array(["4624", 4625, 1.5, True]).to_pylist() == ["4624", "4625", "1.5", "True"]


def test_text_trims_and_treats_blanks_and_dashes_as_missing():
    assert text(["  alice ", "", "-", " - ", None, "bob"]).to_pylist() == ["alice", None, None, None, None, "bob"]
    assert text(values_array([118201, None])).to_pylist() == ["118201", None]
    assert text(values_array([51.5, 1.0])).to_pylist() == ["51.5", "1.0"]  # as Python writes them
    assert text_column([" x "]).dtype == "string"


def test_pieces_of_different_kinds_join_as_one_column():
    assert concat_values([values_array([1, 2]), values_array(["a"])]).to_pylist() == ["1", "2", "a"]
    assert concat_values([values_array([1]), values_array([2.5])]).to_pylist() == [1.0, 2.5]
    assert concat_values([values_array([None]), values_array(["a"])]).to_pylist() == [None, "a"]


def test_numbers_written_as_text_are_read_like_pandas_does():
    values = ["20712", " 51.5 ", "AS15169", None, "+5", "1e3", "-"]
    got = numbers(values_array(values)).to_pylist()
    expected = pd.to_numeric(text_column(values), errors="coerce").astype("float64").tolist()
    assert got[:2] == [20712.0, 51.5] and got[4:6] == [5.0, 1000.0]
    assert [None if pd.isna(v) else v for v in expected] == got
    assert numbers(values_array(["4624", "4625"])).type == pa.int64()
    assert int_column(values_array([20712, 1.5, None, "7"])).tolist() == [20712, pd.NA, pd.NA, 7]


TIMES = [
    "2026-03-02T08:15:04Z",
    "2026-03-02T08:15:04.312Z",
    "2026-03-02T08:15:04.312766+01:00",
    "2026-03-02T08:15:04.3127661Z",  # seven digits: pandas reads it
    "2026-03-02 09:15:04",
    "2026-03-29 02:30:00",  # skipped in Madrid: shifted forward
    "2026-10-25 02:30:00",  # twice in Madrid: summer time
    "2026-02-31T00:00:00Z",
    "2026-03-02t08:15:04z",
    "yesterday",
    None,
    "",
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Madrid"])
@pytest.mark.parametrize("subset", [slice(None), slice(0, 3), slice(4, 7), slice(10, 12)])
def test_iso_times_read_as_pandas_reads_them(zone, subset):
    values = TIMES[subset]
    got = iso_times(values_array(values), zone)
    expected = parse_times(text_column(values), zone)
    assert got.dtype == "datetime64[us, UTC]"
    pd.testing.assert_series_equal(got, expected, check_names=False)


def test_times_without_offset_follow_the_zone():
    local = ["2026-03-29 02:30:00", "2026-10-25 02:30:00", "2026-03-02 09:15:04"]
    got = iso_times(values_array(local), "Europe/Madrid")
    assert got.tolist() == [
        pd.Timestamp("2026-03-29 01:00", tz="UTC"),
        pd.Timestamp("2026-10-25 00:30", tz="UTC"),
        pd.Timestamp("2026-03-02 08:15:04", tz="UTC"),
    ]


def test_a_row_by_row_function_runs_once_per_distinct_row():
    city = text(["London", None, "Paris", "London", " ", None] * 50)
    country = text(["United Kingdom", "Spain", "France", "United Kingdom", None, None] * 50)
    calls = []

    def place(city, country):
        calls.append(len(city))
        return format_place(city, country)

    got = per_distinct(place, city, country)
    expected = format_place(text_column(city), text_column(country))
    pd.testing.assert_series_equal(got, expected, check_names=False)
    assert calls == [4]


def test_regular_expressions_skip_rows_ruled_out_and_repeated_values():
    names = text(["CORP\\alice", "bob", "carol@CORP", None] * 10)
    where = np.array([True, False, True, False] * 10)
    pattern = r"^[^\\]*\\|@.*$"
    assert regex_replace(names, pattern, "", where=where).equals(regex_replace(names, pattern, ""))
    assert (regex_matches(names, "^b", few=True) == regex_matches(names, "^b")).all()


def test_quarantined_text_is_valid_json_and_bounded():
    frame = quarantine_records("f.json", [3, 4], "record", ["bad", "long"], [b'{"a": 1}', "x" * (3 * MAX_RAW_CHARS)],
                               raw_is_json=True)
    assert json.loads(frame["raw"][0]) == {"a": 1}
    assert len(json.loads(frame["raw"][1])) == MAX_RAW_CHARS
    assert frame["source_row"].tolist() == [3, 4]
