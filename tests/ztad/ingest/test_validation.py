"""validate(): canonical events out, every bad row quarantined once with field, reason and raw."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.ingest.validation import (
    QUARANTINE_COLUMNS,
    MissingColumnError,
    empty_quarantine,
    event_times,
    validate,
)
from ztad.schema import CANONICAL_DTYPES

GOOD = {
    "timestamp": "2024-03-01T08:15:00Z",
    "user_id": "alice",
    "device_id": "laptop-1",
    "ip_address": "10.0.0.1",
    "location": "Paris, France",
    "login_success": "1",
    "access_time": "08:15:00",
    "resource_accessed": "hr-portal",
    "bytes_transferred": "1200",
    "event_label": "normal",
}


def rows(*changes: dict) -> pd.DataFrame:
    """One text row per change (a good row with those fields replaced), numbered from line 2."""
    frame = pd.DataFrame([{**GOOD, **change} for change in changes], dtype="string")
    frame["source_row"] = np.arange(2, len(frame) + 2, dtype=np.int64)
    return frame


def only_problem(change: dict) -> pd.Series:
    events, quarantine = validate(rows(change), "logs.csv")
    assert events.empty, "the bad row must not become an event"
    assert len(quarantine) == 1
    return quarantine.iloc[0]


def test_good_row_becomes_canonical_event():
    events, quarantine = validate(rows({}), "logs.csv")
    assert quarantine.empty
    assert list(events.columns) == list(CANONICAL_DTYPES)
    assert {c: str(t) for c, t in events.dtypes.items()} == CANONICAL_DTYPES
    event = events.iloc[0]
    assert event["timestamp"] == pd.Timestamp("2024-03-01T08:15:00Z")
    assert event["user_id"] == "alice"
    assert event["resource"] == "hr-portal"
    assert bool(event["login_success"]) is True
    assert event["bytes_transferred"] == 1200
    assert event["source_row"] == 2
    assert pd.isna(event["department"]) and np.isnan(event["latitude"])
    assert len(event["event_id"]) == 32


@pytest.mark.parametrize(
    "change, field, reason",
    [
        ({"timestamp": "yesterday-ish"}, "timestamp", "unparseable timestamp 'yesterday-ish'"),
        ({"timestamp": "2024-02-30T10:00:00"}, "timestamp", "unparseable timestamp"),
        ({"timestamp": ""}, "timestamp", "missing timestamp"),
        ({"user_id": ""}, "user_id", "empty user_id"),
        ({"user_id": "   "}, "user_id", "empty user_id"),
        ({"user_id": None}, "user_id", "empty user_id"),
        ({"ip_address": "10.0.0.300"}, "ip_address", "invalid IP address '10.0.0.300'"),
        ({"ip_address": "010.0.0.1"}, "ip_address", "invalid IP address"),
        ({"ip_address": "not-an-ip"}, "ip_address", "invalid IP address"),
        ({"ip_address": "- -"}, "ip_address", "invalid IP address '- -'"),
        ({"asn": "AS-1"}, "asn", "asn must be a whole number"),
        ({"asn": "4294967296"}, "asn", "asn must be a whole number"),
        ({"login_success": "2"}, "login_success", "login_success must be 0/1 or true/false, got '2'"),
        ({"login_success": "yes"}, "login_success", "got 'yes'"),
        ({"login_success": ""}, "login_success", "login_success must be"),
        ({"bytes_transferred": "abc"}, "bytes_transferred", "bytes_transferred is not a number: 'abc'"),
        ({"bytes_transferred": "nan"}, "bytes_transferred", "is not a number"),
        ({"bytes_transferred": "-5"}, "bytes_transferred", "negative bytes_transferred: '-5'"),
        ({"bytes_transferred": "1.5"}, "bytes_transferred", "not a whole number"),
        ({"bytes_transferred": "1e30"}, "bytes_transferred", "out of range"),
    ],
)
def test_each_kind_of_bad_row_is_quarantined_with_field_and_reason(change, field, reason):
    record = only_problem(change)
    assert record["field"] == field
    assert reason in record["reason"]
    assert record["source"] == "logs.csv"
    assert record["source_row"] == 2
    raw = json.loads(record["raw"])
    assert raw["user_id"] == change.get("user_id", GOOD["user_id"])
    assert "source_row" not in raw


def test_quarantine_has_the_contract_columns():
    _, quarantine = validate(rows({"user_id": ""}), "logs.csv")
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    assert quarantine["source_row"].dtype == "int64"


def test_an_empty_quarantine_changed_by_one_caller_stays_empty_for_the_next():
    _, quarantine = validate(rows({}), "logs.csv")
    quarantine["source"] = quarantine["source"].str.upper()
    quarantine["extra"] = 1
    grown = empty_quarantine()
    grown.loc[0] = ["x", 1, "f", "r", "{}"]
    _, again = validate(rows({}), "logs.csv")
    assert again.empty and list(again.columns) == QUARANTINE_COLUMNS
    assert list(empty_quarantine().columns) == QUARANTINE_COLUMNS and empty_quarantine().empty


def test_row_with_several_problems_is_quarantined_once_listing_all():
    events, quarantine = validate(rows({"user_id": "", "ip_address": "x", "bytes_transferred": "-1"}), "f")
    assert events.empty and len(quarantine) == 1
    record = quarantine.iloc[0]
    assert record["field"] == "user_id"
    assert record["reason"] == "empty user_id; invalid IP address 'x'; negative bytes_transferred: '-1'"


def test_bad_rows_do_not_take_good_rows_with_them():
    frame = rows({}, {"user_id": ""}, {"user_id": "bob"}, {"ip_address": "::gg"}, {"user_id": "carol"})
    events, quarantine = validate(frame, "f")
    assert events["user_id"].tolist() == ["alice", "bob", "carol"]
    assert events["source_row"].tolist() == [2, 4, 6]
    assert quarantine["source_row"].tolist() == [3, 5]
    assert len(events) + len(quarantine) == len(frame)


@pytest.mark.parametrize("text, expected", [("1", True), ("0", False), ("TRUE", True), (" false ", False), ("True", True)])
def test_login_success_accepts_0_1_and_true_false_in_any_case(text, expected):
    events, quarantine = validate(rows({"login_success": text}), "f")
    assert quarantine.empty
    assert bool(events["login_success"].iloc[0]) is expected


def test_typed_columns_are_accepted_as_they_are():
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-03-01 10:00", "2024-03-01 11:00"]),  # naive = UTC
            "user_id": ["a", "b"],
            "ip_address": ["10.0.0.1", "10.0.0.2"],
            "login_success": [True, False],
            "bytes_transferred": [10, 20],
            "latitude": [48.85, np.nan],
        }
    )
    events, quarantine = validate(frame, "f.parquet")
    assert quarantine.empty
    assert events["timestamp"].tolist() == [pd.Timestamp("2024-03-01 10:00Z"), pd.Timestamp("2024-03-01 11:00Z")]
    assert events["login_success"].tolist() == [True, False]
    assert events["bytes_transferred"].tolist() == [10, 20]
    assert events["source_row"].tolist() == [1, 2]  # no source_row given: numbered in order
    assert events["latitude"].iloc[0] == 48.85 and np.isnan(events["latitude"].iloc[1])


def test_a_typed_time_beyond_years_1_to_9999_in_utc_is_quarantined():
    times = pd.to_datetime(["2024-03-01 10:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00"], utc=True,
                           format="ISO8601")
    frame = pd.DataFrame({"timestamp": times, "user_id": "a", "ip_address": "10.0.0.1", "login_success": True})
    events, quarantine = validate(frame, "f.parquet")
    assert events["source_row"].tolist() == [1]
    assert quarantine["source_row"].tolist() == [2, 3]
    assert quarantine["field"].tolist() == ["timestamp", "timestamp"]
    assert quarantine["reason"].str.startswith("timestamp out of range (years 1 to 9999 in UTC)").all()


@pytest.mark.parametrize("clean_rows", [1, 100])  # a request's few rows, and a file's many
def test_a_source_event_id_holding_a_nul_character_is_quarantined(clean_rows):
    clean = [{"event_id": f"e{i}"} for i in range(clean_rows)]
    events, quarantine = validate(rows({"event_id": "e\x00x"}, *clean, {"device_id": "pc\x00"}), "logs.csv")
    assert events["event_id"].tolist() == [f"e{i}" for i in range(clean_rows)]
    assert quarantine["field"].tolist() == ["event_id", "device_id"]
    assert quarantine["source_row"].tolist() == [2, clean_rows + 3]
    assert quarantine["reason"].str.contains("NUL").all()


def test_rows_of_any_index_are_numbered_in_frame_order():
    frame = rows({"user_id": "a"}, {"user_id": " "}, {"user_id": "c"}).drop(columns="source_row")
    frame.index = pd.Index([7, 3, 5], name="line")
    events, quarantine = validate(frame, "logs.csv")
    assert events["user_id"].tolist() == ["a", "c"] and events.index.tolist() == [0, 1]
    assert quarantine["source_row"].tolist() == [2] and quarantine["field"].tolist() == ["user_id"]


def test_addresses_are_normalised_once_per_distinct_value_across_chunks():
    text = pd.concat(
        [pd.Series(["10.0.0.1", " 2001:DB8::1 ", "-"], dtype="string"), pd.Series(["10.0.0.1", "x.1"], dtype="string")],
        ignore_index=True,
    )  # an Arrow column of two chunks, as a reader's batches make it
    frame = pd.concat([rows({})] * 5, ignore_index=True).assign(ip_address=text)
    events, quarantine = validate(frame, "logs.csv")
    assert events["ip_address"].tolist() == ["10.0.0.1", "2001:db8::1", pd.NA, "10.0.0.1"]
    assert quarantine["reason"].tolist() == ["invalid IP address 'x.1'"]


def test_numeric_login_success_other_than_0_1_is_quarantined():
    frame = pd.DataFrame(
        {"timestamp": ["2024-03-01T10:00:00Z"] * 3, "user_id": ["a", "b", "c"],
         "ip_address": ["10.0.0.1"] * 3, "login_success": [1, 0, 3]}
    )
    events, quarantine = validate(frame, "f")
    assert events["user_id"].tolist() == ["a", "b"]
    assert quarantine["field"].tolist() == ["login_success"]


def test_timestamps_naive_are_utc_and_offsets_are_converted():
    frame = rows(
        {"timestamp": "2024-03-01 10:00:00"},
        {"timestamp": "2024-03-01T12:00:00+02:00"},
        {"timestamp": "2024-03-01T10:00:00.250Z"},
    )
    events, quarantine = validate(frame, "f")
    assert quarantine.empty
    assert events["timestamp"].tolist() == [
        pd.Timestamp("2024-03-01T10:00:00Z"),
        pd.Timestamp("2024-03-01T10:00:00Z"),
        pd.Timestamp("2024-03-01T10:00:00.250Z"),
    ]


def test_date_only_timestamp_is_combined_with_access_time():
    frame = rows(
        {"timestamp": "2024-03-01", "access_time": "23:59:30"},
        {"timestamp": "2024-03-01", "access_time": "25:00:00"},
        {"timestamp": "2024-03-01", "access_time": ""},
        {"timestamp": "2024-03-01T07:00:00Z", "access_time": "09:00:00"},  # a full timestamp wins
    )
    events, quarantine = validate(frame, "f")
    assert events["timestamp"].tolist() == [pd.Timestamp("2024-03-01T23:59:30Z"), pd.Timestamp("2024-03-01T07:00:00Z")]
    assert quarantine["source_row"].tolist() == [3, 4]
    assert quarantine["reason"].tolist() == [
        "unparseable access_time '25:00:00' for date '2024-03-01'",
        "date-only timestamp '2024-03-01' and no access_time",
    ]


def test_date_only_timestamp_without_access_time_column_is_quarantined():
    frame = rows({"timestamp": "2024-03-01"}).drop(columns="access_time")
    events, quarantine = validate(frame, "f")
    assert events.empty
    assert quarantine["reason"].iloc[0] == "date-only timestamp '2024-03-01' and no access_time"


def test_rows_outside_the_partition_day_are_quarantined():
    frame = rows(
        {"timestamp": "2024-03-01T00:00:00Z"},
        {"timestamp": "2024-03-01T23:59:59.999999Z"},
        {"timestamp": "2024-03-02T00:00:00Z"},
        {"timestamp": "2024-03-01T23:30:00-01:00"},  # 00:30 UTC on the 2nd
        {"timestamp": "2024-02-29T23:59:59Z"},
    )
    events, quarantine = validate(frame, "f", day=date(2024, 3, 1))
    assert events["source_row"].tolist() == [2, 3]
    assert quarantine["source_row"].tolist() == [4, 5, 6]
    assert set(quarantine["field"]) == {"timestamp"}
    assert quarantine["reason"].str.startswith("timestamp outside partition day 2024-03-01").all()


def test_optional_columns_absent_are_null_and_bytes_zero():
    frame = rows({}, {"bytes_transferred": ""})[["timestamp", "user_id", "ip_address", "login_success", "source_row"]]
    events, quarantine = validate(frame, "f")
    assert quarantine.empty
    assert events["bytes_transferred"].tolist() == [0, 0]
    for column in ("device_id", "location", "resource", "event_label", "scenario", "department"):
        assert events[column].isna().all(), column
    assert events["latitude"].isna().all()


@pytest.mark.parametrize("bad_rows", [0, 1])
def test_text_columns_absent_are_the_events_of_the_same_columns_given_empty(bad_rows):
    # An absent text column is made as missing text only for the kept rows: the very events
    # (dtypes, storage and ids alike) that a column of blanks gives.
    required = ["timestamp", "user_id", "ip_address", "login_success", "source_row"]
    frame = rows(*[{}] * 3, *[{"user_id": ""}] * bad_rows)[required]
    blank = frame.assign(
        **{c: pd.array([None] * len(frame), dtype="string") for c in ("device_id", "location", "department")},
        resource_accessed=pd.array([" "] * len(frame), dtype="string"),
        event_id=pd.array([None] * len(frame), dtype="string"),
    )
    absent, quarantined = validate(frame, "f")
    given, _ = validate(blank, "f")
    assert len(absent) == 3 and len(quarantined) == bad_rows
    pd.testing.assert_frame_equal(absent, given)
    for column in absent.columns:
        assert type(absent[column].array) is type(given[column].array), column


def test_blank_optional_bytes_value_is_zero():
    events, quarantine = validate(rows({"bytes_transferred": " "}), "f")
    assert quarantine.empty and events["bytes_transferred"].iloc[0] == 0


def test_text_is_stripped_and_ips_are_normalised():
    events, _ = validate(rows({"user_id": "  alice ", "ip_address": " 2001:DB8:0:0::1 ", "location": " "}), "f")
    assert events["user_id"].iloc[0] == "alice"
    assert events["ip_address"].iloc[0] == "2001:db8::1"
    assert pd.isna(events["location"].iloc[0])


#: White space Python's ``str.strip`` and Arrow's ``utf8_trim_whitespace`` remove, and one
#: (zero width space) neither does.
_SPACES = [" ", "\t", "\n", "\x1c", "\x1f", "\x85", "\xa0", "\u2028", "\u3000", "\u200b"]


def test_text_of_a_request_of_a_few_rows_is_stripped_as_in_a_large_file():
    words = [f"{a}x y{b}" for a in _SPACES for b in _SPACES] + [*_SPACES, ""]
    many, _ = validate(rows(*({"location": word} for word in words)), "f")
    few = [validate(rows({"location": word}), "f")[0]["location"] for word in words]
    assert [value.iloc[0] if value.notna().all() else None for value in few] == [
        None if pd.isna(value) else value for value in many["location"]
    ]
    assert many["location"].iloc[0] == "x y" and pd.isna(many["location"].iloc[-1])
    assert many["location"].iloc[-2] == "\u200b"
    assert many["location"].iloc[9] == "x y\u200b"


@pytest.mark.parametrize("others", [[], ["\u0663.1.2.3"]], ids=["ascii only", "with other digits"])
def test_addresses_are_normalised_as_python_reads_them_whatever_else_the_batch_holds(others):
    import ipaddress
    import re

    from ztad.ingest.validation import _IPV4

    given = ["10.0.0.1", "010.0.0.1", "::FFFF:1.2.3.4", "1.2.3.4\n", "256.1.1.1", "1.2.3", *others]
    events, quarantine = validate(rows(*({"ip_address": value} for value in given)), "f")

    def normal(value):  # stripped, a dotted quad Python's ``\d`` reads is kept; others are parsed
        value = value.strip()
        if re.fullmatch(_IPV4, value):
            return value
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return None

    expected = [normal(value) for value in given]
    kept = [value for value in expected if value is not None]
    assert events["ip_address"].tolist() == kept and len(quarantine) == expected.count(None)


def test_coordinates_out_of_range_or_not_numbers_are_quarantined():
    frame = rows({"latitude": "91", "longitude": "0"}, {"latitude": "x"}, {"latitude": "45.5", "longitude": "-180"})
    events, quarantine = validate(frame, "f")
    assert quarantine["field"].tolist() == ["latitude", "latitude"]
    assert events["latitude"].tolist() == [45.5] and events["longitude"].tolist() == [-180.0]


@pytest.mark.parametrize("missing", ["", "   ", "-", None])
def test_an_event_without_a_client_address_is_kept_with_a_null_ip(missing):
    events, quarantine = validate(rows({"ip_address": missing}, {}), "f")
    assert quarantine.empty
    assert events["ip_address"].isna().tolist() == [True, False]
    assert events["user_id"].tolist() == ["alice", "alice"]


def test_an_address_free_event_has_a_stable_id_of_its_own():
    first, _ = validate(rows({"ip_address": ""}), "f")
    again, _ = validate(rows({"ip_address": "-"}), "f")
    addressed, _ = validate(rows({}), "f")
    assert first["event_id"].iloc[0] == again["event_id"].iloc[0] != addressed["event_id"].iloc[0]


@pytest.mark.parametrize("text, expected", [("15169", 15169), ("AS15169", 15169), (" as 20712 ", 20712), ("", None)])
def test_asn_is_read_as_a_number_with_or_without_the_as_prefix(text, expected):
    events, quarantine = validate(rows({"asn": text, "as_org": " Example Net "}), "f")
    assert quarantine.empty
    value = events["asn"].iloc[0]
    assert (pd.isna(value) if expected is None else value == expected)
    assert str(events["asn"].dtype) == "Int64" and events["as_org"].iloc[0] == "Example Net"


def test_numeric_asn_columns_are_kept_and_do_not_change_the_event_id():
    frame = rows({}, {})
    frame["asn"] = pd.Series([64500, None], dtype="Int64")
    events, quarantine = validate(frame, "f")
    assert quarantine.empty and events["asn"].tolist() == [64500, pd.NA]
    plain, _ = validate(rows({}), "f")
    assert events["event_id"].iloc[0] == plain["event_id"].iloc[0]


def test_resource_accessed_becomes_resource():
    events, _ = validate(rows({"resource_accessed": "git"}), "f")
    assert events["resource"].tolist() == ["git"]


def test_missing_required_column_is_a_clear_error():
    frame = rows({}).drop(columns=["user_id", "login_success"])
    with pytest.raises(MissingColumnError) as caught:
        validate(frame, "logs/day.csv")
    error = caught.value
    assert error.missing == ["user_id", "login_success"]
    assert "device_id" in error.found and "source_row" not in error.found
    assert "logs/day.csv" in str(error) and "'user_id'" in str(error) and "column_mapping" in str(error)
    assert isinstance(error, ValueError)


def test_missing_required_column_is_reported_even_without_rows():
    with pytest.raises(MissingColumnError, match="ip_address"):
        validate(pd.DataFrame(columns=["timestamp", "user_id", "login_success"]), "f")


def test_source_event_id_is_kept_and_missing_ones_derived():
    events, _ = validate(rows({"event_id": "evt-1"}, {"event_id": ""}), "f")
    assert events["event_id"].iloc[0] == "evt-1"
    assert len(events["event_id"].iloc[1]) == 32


def test_event_id_depends_on_content_not_on_position():
    first, _ = validate(rows({}, {"user_id": "bob"}), "a.csv")
    moved = rows({"user_id": "bob"}, {})
    moved["source_row"] = [40, 41]
    second, _ = validate(moved, "b.csv")
    assert first["event_id"].tolist() == second["event_id"].tolist()[::-1]
    assert first["event_id"].iloc[0] != first["event_id"].iloc[1]


def test_event_times_read_timestamps_like_validate():
    times = event_times(rows({"timestamp": "2024-03-01", "access_time": "10:00:00"}, {"timestamp": "nope"}))
    assert times.iloc[0] == pd.Timestamp("2024-03-01T10:00:00Z")
    assert pd.isna(times.iloc[1])
