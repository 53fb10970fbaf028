"""The flagged rows' evidence reads each column once and hands every reader its own copy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ztad.findings.evidence import FEW_CATEGORIES, FlaggedRows


def _rows() -> FlaggedRows:
    events = pd.DataFrame({"ip_address": pd.array(["203.0.113.9", None], dtype="string"), "location": ["Lagos", "Madrid"]})
    features = pd.DataFrame({"ctx_travel_km": [812.5, np.nan], "ctx_home_location": pd.Categorical(["Madrid", None])})
    hits = pd.DataFrame({"impossible_travel": [True, False]})
    return FlaggedRows(events, features, hits, missing_number=0.0, missing_text="unknown")


def test_columns_read_as_numbers_text_and_rule_hits():
    rows = _rows()
    assert rows.text("ip_address").tolist() == ["203.0.113.9", "unknown"]
    assert rows.text("ctx_home_location").tolist() == ["Madrid", "unknown"]
    assert rows.text("location").tolist() == ["Lagos", "Madrid"]
    assert np.array_equal(rows.num("ctx_travel_km"), [812.5, np.nan], equal_nan=True)
    assert rows.num("absent").tolist() == [0.0, 0.0] and rows.text("absent").tolist() == ["unknown", "unknown"]
    assert rows.rule("impossible_travel").tolist() == [True, False] and rows.rule("absent").tolist() == [False, False]


def test_a_reader_changing_its_values_does_not_change_the_next_reader_s():
    rows = _rows()
    rows.num("ctx_travel_km")[0] = -1.0
    rows.text("ip_address")[0] = "changed"
    rows.rule("impossible_travel")[0] = False
    assert rows.num("ctx_travel_km")[0] == 812.5
    assert rows.text("ip_address")[0] == "203.0.113.9"
    assert rows.rule("impossible_travel")[0]


def test_a_categorical_column_reads_as_the_same_text_as_converted_whole():
    categories = pd.Categorical(["Europe/Madrid", None, "UTC", "Europe/Madrid"], categories=["UTC", "Europe/Madrid", "unused"])
    numbers = pd.Categorical([2.5, None, 10.0, 2.5])
    features = pd.DataFrame({"ctx_timezone": categories, "ctx_code": numbers, "ctx_none": pd.Categorical([None] * 4)})
    rows = FlaggedRows(pd.DataFrame(index=range(4)), features, missing_text="unknown")
    for name in features.columns:
        whole = features[name].astype("string").to_numpy(dtype=object, na_value="unknown")
        assert rows.text(name).tolist() == whole.tolist()
    assert rows.text("ctx_timezone").tolist() == ["Europe/Madrid", "unknown", "UTC", "Europe/Madrid"]
    empty = FlaggedRows(pd.DataFrame(), features.iloc[:0])
    assert empty.text("ctx_timezone").tolist() == []


@pytest.mark.parametrize("dtype", ["string", "str"])
@pytest.mark.parametrize("count", [3, FEW_CATEGORIES + 5])
def test_text_categories_few_or_many_read_as_the_same_text_as_converted_whole(dtype, count):
    names = pd.Index([f"group {k}" for k in range(count)], dtype=dtype)
    values = pd.Categorical.from_codes([count - 1, -1, 0, count - 1], categories=names)
    features = pd.DataFrame({"ctx_peer_group": values})
    rows = FlaggedRows(pd.DataFrame(index=range(4)), features, missing_text="unknown")
    whole = features["ctx_peer_group"].astype("string").to_numpy(dtype=object, na_value="unknown")
    assert rows.text("ctx_peer_group").tolist() == whole.tolist() == [f"group {count - 1}", "unknown", "group 0", f"group {count - 1}"]
    assert all(type(text) is str for text in rows.text("ctx_peer_group"))


def test_rule_hits_held_as_nullable_or_object_read_as_those_held_as_bool():
    plain = pd.DataFrame({"brute_force": [True, False, False]})
    nullable = pd.DataFrame({"brute_force": pd.array([True, None, False], dtype="boolean")})
    loose = pd.DataFrame({"brute_force": np.array([True, None, False], dtype=object)})
    for hits in (plain, nullable, loose):
        rows = FlaggedRows(pd.DataFrame(index=range(3)), pd.DataFrame(index=range(3)), hits)
        assert rows.rule("brute_force").tolist() == [True, False, False]
        assert rows.rule("absent").tolist() == [False, False, False]


def test_an_event_field_is_present_where_it_holds_a_value():
    rows = _rows()
    assert rows.present("ip_address").tolist() == [True, False]
    assert rows.present("location").tolist() == [True, True]
    assert rows.present("ctx_travel_km").tolist() == [False, False], "features are no event fields"


def test_finite_numbers_read_as_numpy_nan_to_num_and_are_the_reader_s_own():
    values = [np.nan, np.inf, -np.inf, -0.0, 1.5, 1e308]
    rows = FlaggedRows(pd.DataFrame(index=range(6)), pd.DataFrame({"ctx_travel_kmh": values}))
    finite = rows.finite("ctx_travel_kmh")
    expected = np.nan_to_num(np.array(values))
    assert np.array_equal(finite, expected) and np.array_equal(np.signbit(finite), np.signbit(expected))
    finite[0] = 7.0
    assert np.isnan(rows.num("ctx_travel_kmh")[0]) and rows.finite("ctx_travel_kmh")[0] == 0.0
    assert rows.finite("absent").tolist() == [0.0] * 6
