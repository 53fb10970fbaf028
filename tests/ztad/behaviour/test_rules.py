"""Behavioural rules on hand-set feature values: each fires on its pattern and not beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ztad.behaviour.features import FEATURE_NAMES
from ztad.behaviour.rules import (
    DEFAULT_THRESHOLDS,
    RULE_CONTEXT,
    RULES,
    RuleInputError,
    RuleThresholds,
    evaluate_rules,
)


def _rows(*changes: dict) -> pd.DataFrame:
    """One row per dict: a mature, unremarkable login with the given values changed; only the
    model features and :data:`RULE_CONTEXT`, the columns the scoring step reads."""
    base = {name: 0.0 for name in FEATURE_NAMES + RULE_CONTEXT}
    base.update(ctx_maturity=1.0, ctx_bytes_observations=50.0, ctx_group_size=20.0,
                ctx_resource_group_users=10.0, ctx_local_hour=12.0)
    return pd.DataFrame([{**base, **change} for change in changes])


def _fires(code: str, *changes: dict, thresholds: RuleThresholds = DEFAULT_THRESHOLDS) -> list[bool]:
    return evaluate_rules(_rows(*changes), thresholds)[code].tolist()


def test_one_bool_column_per_rule_on_the_same_index():
    features = _rows({}, {})
    features.index = [5, 9]
    hits = evaluate_rules(features)
    assert list(hits.columns) == list(RULES) and list(hits.index) == [5, 9]
    assert (hits.dtypes == bool).all() and not hits.to_numpy().any()


def test_impossible_travel_needs_both_distance_and_speed():
    assert _fires("impossible_travel",
                  {"ctx_travel_km": 3830, "ctx_travel_kmh": 5750},
                  {"ctx_travel_km": 400, "ctx_travel_kmh": 5000},
                  {"ctx_travel_km": 5800, "ctx_travel_kmh": 700}) == [True, False, False]


def test_password_spray_counts_distinct_users_per_source():
    assert _fires("password_spray", {"ctx_ip_failed_users_60m": 10}, {"ctx_ip_failed_users_60m": 9}) == [True, False]


def test_brute_force_and_success_after_failures():
    rows = ({"ctx_user_failures_10m": 12, "login_failed": 1.0},
            {"ctx_user_failures_10m": 12, "login_failed": 0.0},
            {"ctx_user_failures_10m": 6, "login_failed": 0.0})
    assert _fires("brute_force", *rows) == [True, True, False]
    assert _fires("success_after_failures", *rows) == [False, True, False]


def test_large_transfer_needs_ratio_spread_and_enough_history():
    big = {"bytes_log_ratio": np.log10(60), "bytes_z": 5.0, "ctx_own_surge_transfers": 2}
    assert _fires("large_transfer", big, {**big, "bytes_z": 2.0}, {**big, "bytes_log_ratio": 1.0},
                  {**big, "ctx_bytes_observations": 3}) == [True, False, False, False]


def test_large_transfer_is_not_raised_when_peers_surge_on_the_resource_the_same_day():
    big = {"bytes_log_ratio": np.log10(60), "bytes_z": 5.0, "ctx_own_surge_transfers": 2}
    assert _fires("large_transfer", {**big, "ctx_peer_surge_users": 2}, {**big, "ctx_peer_surge_users": 3},
                  {**big, "ctx_peer_surge_users": 7}) == [True, False, False]


def test_a_lone_large_transfer_of_the_day_needs_a_far_larger_ratio():
    lone = {"bytes_z": 5.0, "ctx_own_surge_transfers": 1}
    assert _fires("large_transfer", {**lone, "bytes_log_ratio": np.log10(60)},
                  {**lone, "bytes_log_ratio": np.log10(150)},
                  {**lone, "bytes_log_ratio": np.log10(60), "ctx_own_surge_transfers": 3}) == [False, True, True]


def test_off_hours_is_for_established_users_far_outside_their_window():
    night = {"off_hours_distance": 7.0, "hour_rarity": 2.5}
    assert _fires("off_hours", night, {**night, "ctx_maturity": 0.4}, {**night, "off_hours_distance": 3.0},
                  {**night, "hour_rarity": 0.5}) == [True, False, False, False]


def test_off_hours_in_the_small_hours_needs_fewer_hours_outside_the_window():
    near = {"off_hours_distance": 4.5, "hour_rarity": 2.5}
    assert _fires("off_hours", {**near, "ctx_local_hour": 4.5}, {**near, "ctx_local_hour": 21.5},
                  {**near, "ctx_local_hour": 4.5, "off_hours_distance": 2.0}) == [True, False, False]


def test_a_day_workers_evening_is_overtime_not_off_hours():
    day_worker = {"off_hours_distance": 6.5, "hour_rarity": 2.5, "ctx_usual_start": 8.0, "ctx_usual_end": 16.0}
    shift_worker = {**day_worker, "ctx_usual_start": 14.0, "ctx_usual_end": 22.0}
    round_the_clock = {**day_worker, "ctx_usual_start": 8.0, "ctx_usual_end": np.nan}
    assert _fires("off_hours", {**day_worker, "ctx_local_hour": 22.5}, {**day_worker, "ctx_local_hour": 18.5},
                  {**shift_worker, "ctx_local_hour": 8.5}, {**round_the_clock, "ctx_local_hour": 22.5},
                  {**day_worker, "ctx_local_hour": 2.0}) == [False, True, True, True, True]


def test_the_evening_starts_where_configured():
    evening = {"off_hours_distance": 6.5, "hour_rarity": 2.5, "ctx_usual_start": 8.0, "ctx_usual_end": 16.0,
               "ctx_local_hour": 22.5}
    assert _fires("off_hours", evening, thresholds=RuleThresholds(off_hours_evening_start=23.0)) == [True]


def test_off_hours_is_not_raised_at_a_time_of_day_the_user_has_worked_before():
    night = {"off_hours_distance": 7.0, "hour_rarity": 2.5}
    assert _fires("off_hours", {**night, "ctx_own_events_near_hour": 2},
                  {**night, "ctx_own_events_near_hour": 3},
                  {**night, "ctx_own_events_near_hour": 15}) == [True, False, False]


def test_nights_on_several_separate_trusted_days_are_the_users_habit():
    night = {"off_hours_distance": 6.0, "hour_rarity": 2.5, "ctx_local_hour": 2.5}
    afternoon = {**night, "ctx_local_hour": 14.0, "ctx_own_night_days": 5}
    assert _fires("off_hours", {**night, "ctx_own_night_days": 1}, {**night, "ctx_own_night_days": 2},
                  afternoon) == [True, False, True]
    assert _fires("off_hours", {**night, "ctx_own_night_days": 2},
                  thresholds=RuleThresholds(off_hours_min_night_days=3)) == [True]


def test_a_resource_nobody_in_the_peer_group_used_is_a_finding_without_a_sensitive_list():
    first = {"resource_novelty": 1.0, "ctx_resource_group_users": 0.0, "ctx_group_size": 12.0}
    assert _fires("resource_new_to_peers", first, {**first, "ctx_resource_group_users": 1.0},
                  {**first, "resource_novelty": 0.0},
                  {**first, "ctx_group_size": 2.0}) == [True, False, False, False]


def test_new_device_new_place_needs_all_three_and_a_mature_user():
    takeover = {"device_novelty": 1.0, "ip_novelty": 1.0, "city_novelty": 1.0}
    assert _fires("new_device_new_place", takeover, {**takeover, "device_novelty": 0.0},
                  {**takeover, "ctx_maturity": 0.5}) == [True, False, False]


def test_rare_sensitive_access():
    access = {"resource_sensitive": 1.0, "resource_novelty": 1.0, "ctx_resource_group_users": 0.0}
    assert _fires("rare_sensitive_access", access, {**access, "ctx_resource_group_users": 5.0},
                  {**access, "resource_sensitive": 0.0}) == [True, False, False]


def test_background_scanning_is_a_few_failures_of_a_scanner_like_source():
    scanner = {"login_failed": 1.0, "ctx_source_scanner_like": 1.0, "ctx_source_attempts_today": 6.0,
               "ctx_source_minutes_today": 0.3}
    assert _fires("background_scanning",
                  scanner,
                  {**scanner, "ctx_source_attempts_today": 40.0},  # persists: many attempts
                  {**scanner, "ctx_source_minutes_today": 300.0},  # persists: all afternoon
                  {**scanner, "ctx_source_scanner_like": 0.0},  # seen before, a real account, or got in
                  {**scanner, "login_failed": 0.0}) == [True, False, False, False, False]
    relaxed = RuleThresholds(scanning_max_attempts=50)
    assert _fires("background_scanning", {**scanner, "ctx_source_attempts_today": 40.0}, thresholds=relaxed) == [True]


def test_thresholds_are_configurable():
    spray = {"ctx_ip_failed_users_60m": 6}
    assert _fires("password_spray", spray) == [False]
    assert _fires("password_spray", spray, thresholds=RuleThresholds(spray_min_users=5)) == [True]


def test_columns_of_other_dtypes_are_read_as_numbers():
    spray = _rows({"ctx_ip_failed_users_60m": 12.0}, {"ctx_ip_failed_users_60m": 1.0})
    as_int = spray.astype({"ctx_ip_failed_users_60m": "int64"})
    as_text = spray.astype({"ctx_ip_failed_users_60m": "string"})
    as_text.loc[1, "ctx_ip_failed_users_60m"] = "many"  # not a number: as missing
    for features in (as_int, as_text):
        assert evaluate_rules(features)["password_spray"].tolist() == [True, False]


def test_missing_columns_are_named():
    with pytest.raises(RuleInputError, match="ctx_travel_km"):
        evaluate_rules(_rows({}).drop(columns=["ctx_travel_km"]))


@pytest.mark.parametrize("name", RULE_CONTEXT)
def test_every_context_column_the_scoring_step_reads_is_one_a_rule_reads(name):
    with pytest.raises(RuleInputError, match=name):
        evaluate_rules(_rows({}).drop(columns=[name]))
