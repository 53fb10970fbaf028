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


def _varied_day() -> tuple[list[dict], list[dict]]:
    """History and a day of events that take every turn the features have: a known user at
    home, travelling, on a new device and a new address, failing (a password and a key), an
    unknown user, an event without an address or a place, an IPv6 address, an unresolvable
    place, an event with its own coordinates, an autonomous system, a sensitive resource."""
    history = working_days("ann", DAY - timedelta(days=20), 20, ip="192.0.2.10", asn=64500)
    history += working_days("bob", DAY - timedelta(days=3), 3, location="Oslo, Norway", ip="198.51.100.7")
    today = [
        login("ann", f"{DAY} 08:00", ip="192.0.2.10", asn=64500),
        login("ann", f"{DAY} 09:30", "Lagos, Nigeria", ip="203.0.113.9", device="ann-phone"),
        login("ann", f"{DAY} 09:31", "Lagos, Nigeria", ip="203.0.113.9", success=False),
        {**login("ann", f"{DAY} 09:32", None, ip="203.0.113.9", success=False), "auth_method": "publickey"},
        login("bob", f"{DAY} 10:00", "Bergen, Norway", ip="2001:db8::1", resource="payroll"),
        login("bob", f"{DAY} 10:05", "Atlantis, Nowhere", ip=None, success=False),
        login("zed", f"{DAY} 03:00", "Sao Paulo, Brazil", ip="198.51.100.99", department=None),
        login("zed", f"{DAY} 03:01", "Sao Paulo, Brazil", ip="198.51.100.99", success=False, nbytes=0),
        {**login("eve", f"{DAY} 23:59", "Tokyo, Japan", ip="203.0.113.200"), "latitude": 35.0, "longitude": 139.0},
    ]
    return history, today


@pytest.mark.parametrize("unknown_place", [True, False], ids=["an unknown place", "known places only"])
def test_a_few_events_get_the_features_they_get_among_many(unknown_place):
    """A few events take the few-row paths (Python in place of pandas and Arrow kernels);
    among a hundred others they take the vectorised ones: the same values either way. A few
    events' places are looked up one by one unless one is unknown (the gazetteer then
    reports it); holidays are a company day off, or a public holiday on another day."""
    history, today = _varied_day()
    if not unknown_place:
        today = [event for event in today if event["location"] != "Atlantis, Nowhere"]
    today.append(login("ann", f"{DAY + timedelta(days=1)} 09:00", "Dublin, Ireland"))  # Saint Patrick's Day
    settings = FeatureSettings(public_holidays=True, company_holidays=(str(DAY),))
    # Other users on addresses and devices of their own: nothing they do reaches the events'
    # own features, but they make the day large enough for the vectorised paths.
    others = [
        login(f"other{k:03d}", f"{DAY} 12:{k % 60:02d}", "London, UK", ip=f"10.9.{k}.1", department="ops")
        for k in range(120)
    ]
    state = state_from(history + others[:40])
    config = DetectionConfig(sensitive_resources=("payroll",))
    few = compute_features(frame(today), state, config, settings)
    many = compute_features(frame(today + others), state, config, settings).iloc[: len(today)]
    assert len(few) < 64 < len(today + others)
    assert {"company day off", "Saint Patrick's Day"} <= set(few["ctx_holiday"].dropna())
    pd.testing.assert_frame_equal(_plain(few), _plain(many), check_exact=True)


def _plain(features: pd.DataFrame) -> pd.DataFrame:
    """Features with their categorical columns as values (the categories of a column depend on
    the events judged together; the values do not)."""
    return features.apply(lambda c: c.astype(object) if isinstance(c.dtype, pd.CategoricalDtype) else c)


def test_a_requests_features_hold_their_numbers_in_one_block_with_the_values_of_a_days(monkeypatch):
    """Up to ONE_BLOCK_ROWS events, the float64 columns are copied into one block (picking the
    flagged rows out of it costs less than out of sixty); a larger day keeps its arrays as
    they are. The values are the same either way."""
    from ztad.behaviour import features

    history, today = _varied_day()
    others = [login(f"other{k:03d}", f"{DAY} 12:{k % 60:02d}", "London, UK", ip=f"10.9.{k}.1") for k in range(120)]
    state = state_from(history + others[:40])
    events = frame(today + others)
    one_block = compute_features(events, state, DetectionConfig(), FeatureSettings())
    monkeypatch.setattr(features, "ONE_BLOCK_ROWS", 64)
    as_computed = compute_features(events, state, DetectionConfig(), FeatureSettings())
    numbers = [block for block in one_block._mgr.blocks if block.dtype == np.float64]
    assert len(numbers) == 1 and len(as_computed._mgr.blocks) > len(one_block._mgr.blocks)
    pd.testing.assert_frame_equal(one_block, as_computed, check_exact=True)
