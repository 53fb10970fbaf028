"""The public feature API: names, descriptions, shape, dtypes and clear errors."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.sequences import DAY, features_of, frame, login, state_from, working_days
from ztad.behaviour.features import (
    FEATURE_DESCRIPTIONS,
    FEATURE_NAMES,
    FeatureInputError,
    FeatureSettings,
    compute_features,
)
from ztad.config import DetectionConfig


def test_every_feature_has_a_plain_words_description():
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) > 20
    assert set(FEATURE_DESCRIPTIONS) == set(FEATURE_NAMES)
    assert all(len(text.split()) >= 6 for text in FEATURE_DESCRIPTIONS.values())


def test_output_is_float64_finite_and_keeps_the_events_index_and_order():
    history = working_days("alice", DAY - timedelta(days=7), 7)
    events = frame([login("alice", f"{DAY} 10:00"), login("bob", f"{DAY} 09:00", "Lagos, Nigeria")])
    events.index = [7, 3]
    out = compute_features(events, state_from(history), DetectionConfig())
    assert list(out.index) == [7, 3]
    assert list(out.columns[: len(FEATURE_NAMES)]) == list(FEATURE_NAMES)
    block = out[list(FEATURE_NAMES)]
    assert (block.dtypes == "float64").all()
    assert np.isfinite(block.to_numpy()).all()
    assert all(c.startswith("ctx_") for c in out.columns[len(FEATURE_NAMES):])
    assert out.loc[3, "ctx_user_known"] == 0.0 and out.loc[7, "ctx_user_known"] == 1.0


def test_a_user_with_a_single_event_and_no_history_gets_finite_features():
    out = features_of([], [login("solo", f"{DAY} 09:00")])
    assert len(out) == 1
    assert np.isfinite(out[list(FEATURE_NAMES)].to_numpy()).all()
    assert out["travel_speed"][0] == 0.0 and out["user_failures_10m"][0] == 0.0


def test_an_unresolvable_place_is_not_a_crash():
    history = working_days("alice", DAY - timedelta(days=5), 5)
    out = features_of(history, [login("alice", f"{DAY} 09:00"), login("alice", f"{DAY} 09:05", "Atlantis, Nowhere-Land")])
    assert np.isfinite(out[list(FEATURE_NAMES)].to_numpy()).all()
    assert out["travel_speed"].tolist() == [0.0, 0.0]
    assert out["city_novelty"][1] == 1.0  # still a city the user has never used


def test_missing_columns_and_empty_users_are_clear_errors():
    events = frame([login("alice", f"{DAY} 09:00")])
    state = state_from([])
    with pytest.raises(FeatureInputError, match="bytes_transferred"):
        compute_features(events.drop(columns=["bytes_transferred"]), state, DetectionConfig())
    events["user_id"] = pd.array([None], dtype="string")
    with pytest.raises(FeatureInputError, match="row 0: field user_id"):
        compute_features(events, state, DetectionConfig())


def test_a_state_judged_again_gives_the_features_of_a_fresh_one():
    """Tables over every user are derived from the state once and reused: the scoring service
    judges request after request against one state, with the job's settings or others."""
    history = working_days("alice", DAY - timedelta(days=7), 7) + working_days(
        "bob", DAY - timedelta(days=7), 7, hours=(22, 23), location="Lagos, Nigeria"
    )
    today = frame([login("alice", f"{DAY} 03:00", "Lagos, Nigeria"), login("bob", f"{DAY} 10:00")])
    state = state_from(history)
    wide = FeatureSettings(hour_prior_events=50.0, usual_hours_share=0.95)
    for settings in (None, wide, None):
        again = compute_features(today, state, DetectionConfig(), settings)
        fresh = compute_features(today, state_from(history), DetectionConfig(), settings)
        pd.testing.assert_frame_equal(again, fresh)
    assert state.derived(("usual_windows", wide.hour_prior_events, wide.usual_hours_share), None) is not None


def test_the_input_columns_are_all_the_features_read(small_logs, tmp_path):
    from tests.ztad.behaviour.features.spray_day import spray_day_inputs
    from ztad.behaviour.features import INPUT_COLUMNS

    events, baseline = spray_day_inputs(small_logs, tmp_path)
    assert set(events.columns) - set(INPUT_COLUMNS), "the day carries columns the features do not read"
    config = DetectionConfig()
    pd.testing.assert_frame_equal(
        compute_features(events[list(INPUT_COLUMNS)], baseline, config), compute_features(events, baseline, config)
    )
