"""Cross-user counts: computed once over the whole day, they make a shard's features exact; worked
out a part of the users at a time, they are the same and hold no context of the whole day."""

from __future__ import annotations

import tracemalloc
from datetime import date
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.spray_day import spray_day_inputs
from ztad.behaviour.baselines import baseline_as_of
from ztad.behaviour.features import (
    CROSS_USER_COLUMNS,
    FeatureInputError,
    compute_features,
    cross_user_signals,
)
from ztad.behaviour.features.cross_user import _TextCodes
from ztad.behaviour.features.user_parts import features_by_part, part_order
from ztad.config import DetectionConfig, SourceConfig
from ztad.ingest import MissingPartitionError, load_day
from ztad.synth import generate

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


@pytest.mark.parametrize("part_events", [40, 150])
def test_the_signals_worked_out_a_part_at_a_time_are_the_whole_days(day, part_events):
    """Each part's inputs from its own context, its text coded against its own values: the
    day's counts are exactly those of the day counted in one context."""
    events = day["events"]
    order, bounds = part_order(events["user_id"], part_events)
    assert len(bounds) > 3
    parts = [order[begin:end] for begin, end in pairwise(bounds)]
    in_parts = cross_user_signals(events, day["baseline"], CONFIG, parts=parts)
    pd.testing.assert_frame_equal(in_parts, day["signals"], check_exact=True)


def test_text_codes_given_a_part_at_a_time_are_equal_where_the_text_is():
    """The same address in two parts has one code of the day, a missing one none."""
    parts = [pd.Series(["a", None, "b", "a"], dtype="string"), pd.Series(["c", "b", None], dtype="string[pyarrow]")]
    codes = _TextCodes(7)
    codes.add(slice(0, 4), parts[0])
    codes.add(np.array([6, 4, 5]), parts[1])
    day_codes = codes.day_codes()
    text = ["a", None, "b", "a", "b", None, "c"]
    assert day_codes.dtype == np.int32
    assert (day_codes == -1).tolist() == [value is None for value in text]
    for first in range(7):
        for second in range(7):
            if text[first] is not None and text[second] is not None:
                assert (day_codes[first] == day_codes[second]) == (text[first] == text[second])


@pytest.fixture(scope="module")
def large_day(tmp_path_factory):
    """A generated weekday of about 20,000 events of 1,400 users and the baseline of the two
    days before it, in parts of about 1,000 events."""
    root = tmp_path_factory.mktemp("cross_user_logs")
    generate(root, start=date(2026, 3, 2), days=3, users=1_500, seed=5, clean_days=2)
    source = SourceConfig(root=str(root))

    def load(past_day: date) -> pd.DataFrame:
        try:
            return load_day(source, past_day).events
        except MissingPartitionError:
            return pd.DataFrame()

    events = load_day(source, date(2026, 3, 4)).events
    baseline = baseline_as_of(tmp_path_factory.mktemp("cross_user_state"), date(2026, 3, 4), 2, load)
    order, bounds = part_order(events["user_id"], 1_000)
    compute_features(events.iloc[:1_000], baseline, CONFIG)  # the baseline's lookups, built once for good
    return events, baseline, order, bounds


def _traced_peak(work) -> int:
    """The most Python and numpy memory ``work()`` held at once, beyond what was held before."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


#: What the cross-user pass of a day in parts may hold per event of the day: its narrow
#: inputs (codes, times, flags: about 40 bytes), the counts and their working arrays, and one
#: part's context (about 110 in all). One context of the whole day holds about 380, and with
#: the volume features of the whole day about 480.
CROSS_USER_BYTES_PER_EVENT = 160
#: What a day's features taken part by part may hold per event of the day, the features of
#: each part dropped as they come: the day's counts and one part's work (about 150 bytes).
#: The whole day's features computed at once hold about 1,000.
PARTS_BYTES_PER_EVENT = 300


@pytest.mark.slow
def test_the_cross_user_pass_of_a_day_in_parts_holds_no_context_of_the_whole_day(large_day):
    events, baseline, order, bounds = large_day
    parts = [order[begin:end] for begin, end in pairwise(bounds)]
    peak = _traced_peak(lambda: cross_user_signals(events, baseline, CONFIG, parts=parts))
    assert peak / len(events) <= CROSS_USER_BYTES_PER_EVENT, (
        f"the cross-user pass of {len(events):,} events in {len(parts)} parts peaked at "
        f"{peak / len(events):,.0f} bytes per event, over {CROSS_USER_BYTES_PER_EVENT}"
    )
    whole = _traced_peak(lambda: cross_user_signals(events, baseline, CONFIG))
    assert whole / len(events) > 2 * CROSS_USER_BYTES_PER_EVENT  # what the budget guards against


@pytest.mark.slow
def test_a_days_features_taken_part_by_part_hold_one_parts_work(large_day):
    events, baseline, order, bounds = large_day
    in_order = events.iloc[order].reset_index(drop=True)

    def take_every_part():
        read = lambda begin, end: in_order.iloc[begin:end].reset_index(drop=True)
        for features in features_by_part(read, bounds, baseline, CONFIG, None):
            del features

    peak = _traced_peak(take_every_part)
    assert peak / len(events) <= PARTS_BYTES_PER_EVENT, (
        f"the features of {len(events):,} events taken part by part peaked at "
        f"{peak / len(events):,.0f} bytes per event, over {PARTS_BYTES_PER_EVENT}"
    )
