"""Cross-user counts: computed once over the whole day, they make a shard's features exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.spray_day import spray_day_inputs
from ztad.behaviour.features import (
    CROSS_USER_COLUMNS,
    FeatureInputError,
    compute_features,
    cross_user_signals,
)
from ztad.config import DetectionConfig

CONFIG = DetectionConfig()
#: Features whose value depends on other users' events of the day.
CROSS_USER_FEATURES = {"ip_users_today", "ip_failed_users_60m"}
CROSS_USER_CONTEXT = {
    "ctx_ip_users_today", "ctx_ip_failures_60m", "ctx_ip_failed_users_60m",
    "ctx_source_attempts_today", "ctx_source_minutes_today", "ctx_source_scanner_like",
    "ctx_peer_surge_users",
}


@pytest.fixture(scope="module")
def day(small_logs, tmp_path_factory):
    """The spray day's events, its baseline, its whole-day features and cross-user counts."""
    events, baseline = spray_day_inputs(small_logs, tmp_path_factory.mktemp("state"))
    return {
        "events": events,
        "baseline": baseline,
        "whole": compute_features(events, baseline, CONFIG),
        "signals": cross_user_signals(events, baseline, CONFIG),
    }


def shard_rows(events: pd.DataFrame, count: int) -> list[np.ndarray]:
    """Rows of each shard when users are dealt round-robin in order of first appearance."""
    codes, _ = pd.factorize(events["user_id"])
    return [np.flatnonzero(codes % count == k) for k in range(count)]


def differing_columns(expected: pd.DataFrame, actual: pd.DataFrame) -> set[str]:
    """Columns whose values differ (numbers exactly, NaN equal to NaN; others as text)."""
    differ = set()
    for column in expected.columns:
        a, b = expected[column], actual[column]
        if pd.api.types.is_float_dtype(a):
            same = np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=True)
        else:
            same = a.astype("string").fillna("<NA>").tolist() == b.astype("string").fillna("<NA>").tolist()
        if not same:
            differ.add(column)
    return differ


def test_the_signals_are_row_aligned_counts_of_the_whole_day(day):
    signals, events = day["signals"], day["events"]
    assert list(signals.columns) == list(CROSS_USER_COLUMNS)
    assert signals.index.equals(events.index)
    whole = day["whole"]
    assert np.array_equal(np.log1p(signals["ip_users_today"]), whole["ip_users_today"])
    assert np.array_equal(signals["ip_failed_users_60m"], whole["ctx_ip_failed_users_60m"])
    assert signals["ip_failed_users_60m"].max() >= 5, "the spray day has a source failing across users"


@pytest.mark.parametrize("count", [2, 3, 7])
def test_a_shard_with_the_whole_days_signals_gets_the_whole_days_features(day, count):
    events, whole = day["events"], day["whole"]
    for rows in shard_rows(events, count):
        part = compute_features(
            events.iloc[rows], day["baseline"], CONFIG, cross_user=day["signals"].iloc[rows]
        )
        assert differing_columns(whole.iloc[rows], part) == set()


def test_without_the_signals_only_the_cross_user_counts_of_a_shard_change(day):
    """Counting inside a shard misses the other users: exactly the cross-user columns move,
    which also proves that no other feature looks across users."""
    events, whole = day["events"], day["whole"]
    changed = set()
    for rows in shard_rows(events, 3):
        changed |= differing_columns(whole.iloc[rows], compute_features(events.iloc[rows], day["baseline"], CONFIG))
    assert CROSS_USER_FEATURES <= changed
    assert changed <= CROSS_USER_FEATURES | CROSS_USER_CONTEXT


def test_signals_of_other_rows_are_refused(day):
    events = day["events"].iloc[:10]
    with pytest.raises(FeatureInputError, match="11 rows for 10 events"):
        compute_features(events, day["baseline"], CONFIG, cross_user=day["signals"].iloc[:11])


def test_signals_without_a_column_are_refused(day):
    events = day["events"].iloc[:10]
    signals = day["signals"].iloc[:10].drop(columns=["ip_failures_60m"])
    with pytest.raises(FeatureInputError, match="ip_failures_60m"):
        compute_features(events, day["baseline"], CONFIG, cross_user=signals)
