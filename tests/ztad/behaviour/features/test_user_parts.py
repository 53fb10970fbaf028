"""A day's features computed a part of its users at a time: the whole day's frame, exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.spray_day import spray_day_inputs
from ztad.behaviour.features import compute_features
from ztad.behaviour.features.user_parts import compute_features_in_parts, user_parts
from ztad.config import DetectionConfig

CONFIG = DetectionConfig()


@pytest.fixture(scope="module")
def day(small_logs, tmp_path_factory):
    """The spray day's events (under an index of their own), its baseline and its features
    computed in one go."""
    events, baseline = spray_day_inputs(small_logs, tmp_path_factory.mktemp("state"))
    events.index = pd.RangeIndex(1000, 1000 + len(events))
    return {"events": events, "baseline": baseline, "whole": compute_features(events, baseline, CONFIG)}


def assert_same_features(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The same columns, index and values (numbers to the bit); a categorical column's
    categories may come in another order, or hold another part's values besides."""
    assert list(actual.columns) == list(expected.columns) and actual.index.equals(expected.index)
    for name in expected.columns:
        a, b = actual[name], expected[name]
        if isinstance(b.dtype, pd.CategoricalDtype):
            assert isinstance(a.dtype, pd.CategoricalDtype), name
            assert a.cat.categories.dtype == b.cat.categories.dtype, name
            assert a.astype(object).fillna("<NA>").tolist() == b.astype(object).fillna("<NA>").tolist(), name
        else:
            assert a.dtype == b.dtype and np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=True), name


def test_every_event_of_a_user_is_in_one_part_and_parts_hold_about_the_size_asked():
    users = pd.Series(["a", "b", "a", "c", "b", "d", "d", "d", "e"])
    parts = user_parts(users, 3)
    for user in users.unique():
        assert len(set(parts[users == user])) == 1
    assert parts.tolist() == [0, 0, 0, 1, 0, 1, 1, 1, 2]


@pytest.mark.parametrize("part_events", [50, 150])
def test_the_features_in_parts_are_the_whole_days(day, part_events):
    events = day["events"]
    assert len(np.unique(user_parts(events["user_id"], part_events))) > 1
    given = events.copy()
    parts = compute_features_in_parts(given, day["baseline"], CONFIG, part_events=part_events)
    assert_same_features(parts, day["whole"])
    assert given.columns.empty  # taken over, each part's events released once computed


def test_a_day_within_one_part_is_computed_in_one_go(day):
    events = day["events"]
    whole = compute_features_in_parts(events, day["baseline"], CONFIG, part_events=len(events))
    pd.testing.assert_frame_equal(whole, day["whole"], check_exact=True)
