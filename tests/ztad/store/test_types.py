"""Value conversions behind the column types."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from ztad.store.engine import dumps_json
from ztad.store.types import as_utc_datetime, document_text, json_safe


def test_json_safe_turns_numpy_and_nan_into_json_values():
    value = {
        "scores": np.array([0.5, np.nan]),
        "count": np.int64(3),
        "flag": np.bool_(True),
        "reasons": [{"code": "x", "value": float("inf")}],
        "day": date(2024, 3, 5),
        "missing": pd.NA,
    }
    assert json_safe(value) == {
        "scores": [0.5, None],
        "count": 3,
        "flag": True,
        "reasons": [{"code": "x", "value": None}],
        "day": "2024-03-05",
        "missing": None,
    }


@pytest.mark.parametrize(
    "value",
    [
        {"code": "new_device", "text": "device d-7 (é): seen on 0 of the user's days", "share": 0.25},
        [["bytes_log_ratio", 1.5], ["hour_rarity", np.float64(0.125)], ("tuple", 3)],
        {"scores": np.array([0.5, np.nan]), "count": np.int64(3), "flag": np.bool_(True)},
        {"x": np.float32(0.1), "y": np.float32("nan")},
        {"reasons": [{"code": "x", "value": float("inf")}], "day": date(2024, 3, 5), "missing": pd.NA},
        {"when": datetime(2024, 3, 5, 1, 0), "nothing": None, "nat": pd.NaT, 3: "a number as key"},
        "text alone",
        np.int64(7),
    ],
)
def test_document_text_is_the_text_of_the_json_safe_value(value):
    assert document_text(value) == dumps_json(json_safe(value))


def test_document_text_of_none_is_null_and_an_unknown_object_is_refused():
    assert [document_text(v) for v in (None, np.float64("nan"), pd.NA, pd.NaT)] == [None] * 4
    with pytest.raises(TypeError, match="not JSON serializable"):
        document_text({"x": object()})


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-05T03:00:00+02:00",
        pd.Timestamp("2024-03-05 01:00", tz="UTC"),
        datetime(2024, 3, 5, 1, 0),
        datetime(2024, 3, 4, 20, 0, tzinfo=timezone(timedelta(hours=-5))),
        np.datetime64("2024-03-05T01:00:00"),
    ],
)
def test_timestamps_become_aware_utc(value):
    assert as_utc_datetime(value) == datetime(2024, 3, 5, 1, 0, tzinfo=timezone.utc)
    assert as_utc_datetime(value).tzinfo is timezone.utc


def test_null_timestamps_are_none_and_other_values_refused():
    assert as_utc_datetime(None) is None and as_utc_datetime(pd.NaT) is None
    with pytest.raises(TypeError, match="datetime"):
        as_utc_datetime(math.pi)
