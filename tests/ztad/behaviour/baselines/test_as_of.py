"""The point-in-time baseline as of a day, from saved or rebuilt daily aggregates."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.baselines.days import day_events, loader
from tests.ztad.behaviour.features.sequences import DAY
from ztad.behaviour.baselines import (
    BaselineError,
    aggregate_dir,
    baseline_as_of,
    combine_aggregates,
    daily_aggregate,
    save_daily_aggregate,
)


def _same_state(a, b) -> None:
    pd.testing.assert_frame_equal(a.users, b.users)
    assert list(a.user_index) == list(b.user_index)
    np.testing.assert_array_equal(a.hour_counts, b.hour_counts)
    for kind in a.pairs:
        np.testing.assert_array_equal(a.pairs[kind].keys, b.pairs[kind].keys)
        pd.testing.assert_frame_equal(a.pairs[kind].values, b.pairs[kind].values)


def test_baseline_as_of_a_day_never_reads_that_day_or_later(tmp_path):
    days = {DAY + timedelta(days=k): day_events(DAY + timedelta(days=k)) for k in range(-3, 3)}
    asked: list[date] = []
    state = baseline_as_of(tmp_path, DAY, 30, loader(days, asked))
    assert asked and max(asked) < DAY
    assert state.users["last_day"].max() < DAY.toordinal()
    # Data arriving for DAY and later changes nothing about the state as of DAY.
    only_past = {d: e for d, e in days.items() if d < DAY}
    _same_state(state, baseline_as_of(tmp_path / "other", DAY, 30, loader(only_past)))


def test_nightly_increments_equal_a_direct_build(tmp_path):
    days = {DAY + timedelta(days=k): day_events(DAY + timedelta(days=k), hours=(8 + k % 3, 14)) for k in range(-5, 2)}
    nightly = tmp_path / "nightly"
    baseline_as_of(nightly, DAY, 30, loader(days))
    # The job scores DAY, then saves that day's aggregate, then the next day's, ...
    for d in (DAY, DAY + timedelta(days=1)):
        save_daily_aggregate(daily_aggregate(days[d]), nightly, d)
    later = DAY + timedelta(days=2)
    incremental = baseline_as_of(nightly, later, 30, loader({}))
    direct = baseline_as_of(tmp_path / "direct", later, 30, loader(days))
    _same_state(incremental, direct)
    assert incremental.users["events"].iloc[0] == 2 * 7  # two logins on each of 7 days


def test_a_window_built_from_raw_days_equals_the_same_window_read_back(tmp_path):
    days = {DAY - timedelta(days=k): day_events(DAY - timedelta(days=k), hours=(7 + k, 15)) for k in range(1, 5)}
    built = baseline_as_of(tmp_path, DAY, 30, loader(days))
    asked: list[date] = []
    read_back = baseline_as_of(tmp_path, DAY, 30, loader(days, asked))
    assert asked and not set(asked) & set(days)  # the days with events were saved by the first build
    _same_state(built, read_back)
    assert built.days_with_data == 4


def test_days_older_than_the_window_expire(tmp_path):
    old, recent = DAY - timedelta(days=40), DAY - timedelta(days=2)
    days = {old: day_events(old, "olga"), recent: day_events(recent, "rita")}
    assert list(baseline_as_of(tmp_path / "a", DAY, 30, loader(days)).user_index) == ["rita"]
    assert list(baseline_as_of(tmp_path / "b", DAY, 45, loader(days)).user_index) == ["olga", "rita"]


def test_days_without_data_are_skipped_and_not_saved(tmp_path):
    d = DAY - timedelta(days=1)
    state = baseline_as_of(tmp_path, DAY, 3, loader({d: day_events(d)}))
    assert state.days_with_data == 1
    assert not aggregate_dir(tmp_path, DAY - timedelta(days=2)).exists()
    assert aggregate_dir(tmp_path, d).exists()


def test_aggregates_of_the_day_itself_are_refused():
    agg = daily_aggregate(day_events(DAY))
    with pytest.raises(BaselineError, match="cannot be part"):
        combine_aggregates([(DAY, agg)], DAY, 30)
    with pytest.raises(BaselineError, match="window_days"):
        baseline_as_of("unused", DAY, 0, loader({}))
