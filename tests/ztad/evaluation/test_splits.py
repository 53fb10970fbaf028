"""The time split never lets a scored day's events into training; the random one stratifies."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ztad.evaluation import EvaluationError
from ztad.evaluation.splits import default_cutoff, event_days, random_split, time_split
from ztad.schema import is_anomaly_label

CUTOFF = date(2026, 3, 9)


def boundary_events() -> pd.DataFrame:
    """Events right at the edges of the cut-off day, in UTC and in another offset."""
    stamps = [
        "2026-03-08 23:59:59.999999+00:00",  # last instant before the cut-off: trains
        "2026-03-09 00:00:00+00:00",  # first instant of the cut-off day: scored
        "2026-03-09 01:30:00+02:00",  # 23:30 UTC on the 8th: trains
        "2026-03-09 23:30:00-02:00",  # 01:30 UTC on the 10th: scored
    ]
    return pd.DataFrame({
        "event_id": ["a", "b", "c", "d"],
        "timestamp": pd.to_datetime(stamps, utc=True, format="ISO8601"),
        "event_label": pd.array(["normal", "normal", "x", "normal"], dtype="string"),
    })


def test_time_split_puts_each_instant_on_the_right_side():
    split = time_split(boundary_events(), CUTOFF)
    assert list(split.train["event_id"]) == ["a", "c"]
    assert list(split.test["event_id"]) == ["b", "d"]
    assert split.protocol == "time" and split.cutoff == CUTOFF
    assert "2026-03-09" in split.description


def test_time_split_puts_history_before_the_cutoff_and_scored_days_after_it(labelled_events):
    split = time_split(labelled_events, CUTOFF)
    train_days = set(pd.to_datetime(split.train["timestamp"], utc=True).dt.date)
    test_days = set(pd.to_datetime(split.test["timestamp"], utc=True).dt.date)
    assert train_days and test_days
    assert not train_days & test_days
    assert max(train_days) < CUTOFF <= min(test_days)
    assert not set(split.train["event_id"]) & set(split.test["event_id"])
    assert len(split.train) + len(split.test) == len(labelled_events)


def test_time_split_with_nothing_on_one_side_is_an_error(labelled_events):
    first, last = min(event_days(labelled_events)), max(event_days(labelled_events))
    with pytest.raises(EvaluationError, match="no events before"):
        time_split(labelled_events, first)
    with pytest.raises(EvaluationError, match="no events on or after"):
        time_split(labelled_events, last + timedelta(days=1))


def test_time_split_refuses_an_event_without_timestamp():
    events = boundary_events()
    events.loc[2, "timestamp"] = pd.NaT
    with pytest.raises(EvaluationError, match="row 2: field timestamp"):
        time_split(events, CUTOFF)


def test_default_cutoff_leaves_the_history_days_before_it():
    days = [date(2026, 3, 2) + timedelta(days=i) for i in range(20)]
    assert default_cutoff(days, 14) == date(2026, 3, 16)
    with pytest.raises(EvaluationError, match="shorter than the 14 days"):
        default_cutoff(days[:10], 14)


def test_random_split_is_stratified_disjoint_and_seeded(labelled_events):
    split = random_split(labelled_events, test_fraction=0.25, seed=3)
    again = random_split(labelled_events, test_fraction=0.25, seed=3)
    assert list(split.test["event_id"]) == list(again.test["event_id"])
    assert not set(split.train["event_id"]) & set(split.test["event_id"])
    assert len(split.train) + len(split.test) == len(labelled_events)
    rate = lambda frame: is_anomaly_label(frame["event_label"]).astype(bool).mean()  # noqa: E731
    assert abs(rate(split.test) - rate(labelled_events)) < 0.005
    assert split.test.shape[0] == pytest.approx(0.25 * len(labelled_events), abs=1)
    assert split.protocol == "random" and "stratified" in split.description


def test_random_split_needs_both_classes():
    events = boundary_events().assign(event_label="normal")
    with pytest.raises(EvaluationError, match="two normal and two anomalous"):
        random_split(events)


def test_random_split_mixes_days_unlike_the_time_split(labelled_events):
    split = random_split(labelled_events, seed=0)
    train_days = set(pd.to_datetime(split.train["timestamp"], utc=True).dt.date)
    test_days = set(pd.to_datetime(split.test["timestamp"], utc=True).dt.date)
    assert np.all([day in train_days for day in test_days])


def test_validation_days_are_the_last_days_of_history_before_the_cutoff(labelled_events):
    from ztad.evaluation.splits import validation_split

    split = time_split(labelled_events, CUTOFF)
    inner = validation_split(split, days=3)
    fit_days = set(pd.to_datetime(inner.train["timestamp"], utc=True).dt.date)
    validation_days = set(pd.to_datetime(inner.test["timestamp"], utc=True).dt.date)
    history = sorted(set(pd.to_datetime(split.train["timestamp"], utc=True).dt.date))
    assert validation_days == set(history[-3:]) and max(fit_days) < min(validation_days)
    assert max(validation_days) < CUTOFF
    assert len(inner.train) + len(inner.test) == len(split.train)


def test_validation_needs_history_before_the_validation_days(labelled_events):
    from ztad.evaluation.splits import validation_split

    split = time_split(labelled_events, CUTOFF)
    days = len(set(pd.to_datetime(split.train["timestamp"], utc=True).dt.date))
    with pytest.raises(EvaluationError, match=f"has {days} day\\(s\\) with data: too few to hold out {days}"):
        validation_split(split, days=days)


def test_random_validation_is_a_share_of_the_training_events(labelled_events):
    from ztad.evaluation.splits import validation_split

    split = random_split(labelled_events, seed=1)
    inner = validation_split(split, fraction=0.25, seed=1)
    assert set(inner.test["event_id"]) <= set(split.train["event_id"])
    assert not set(inner.test["event_id"]) & set(split.test["event_id"])
    assert len(inner.test) == pytest.approx(0.25 * len(split.train), abs=1)
