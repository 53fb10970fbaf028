"""Top features of a finding: the feature, its value and the user's baseline, in words."""

import numpy as np
import pandas as pd
import pytest

from ztad.findings.top_features import RULE_FEATURES, choose, deviations, top_feature_documents
from ztad.findings.typical import TypicalValues

NAMES = ["city_novelty", "device_novelty", "bytes_log_ratio", "hour_rarity", "travel_speed"]


def _events():
    return pd.DataFrame(
        {
            "user_id": ["alice", "bob"],
            "device_id": ["LT-NEW", "LT-BOB"],
            "ip_address": ["203.0.113.7", "10.0.0.2"],
            "location": ["Lagos, Nigeria", "Madrid, Spain"],
            "resource": ["payroll", "email"],
            "login_success": [True, True],
            "bytes_transferred": [2_147_483_648, 1_000],
        }
    )


def _features():
    return pd.DataFrame(
        {
            "city_novelty": [1.0, 0.0],
            "device_novelty": [1.0, 0.0],
            "bytes_log_ratio": [1.7, 0.0],
            "hour_rarity": [0.0, 2.0],
            "travel_speed": [2.6, 0.0],
            "ctx_home_location": ["Madrid, Spain", "Madrid, Spain"],
            "ctx_city_days": [0.0, 30.0],
            "ctx_city_peer_users": [0.0, 12.0],
            "ctx_city_org_users": [1.0, 80.0],
            "ctx_device_days": [0.0, 30.0],
            "ctx_user_devices": [2.0, 1.0],
            "ctx_usual_bytes": [42_000_000.0, 900.0],
            "ctx_local_hour": [14.0, 3.2],
            "ctx_timezone": ["Africa/Lagos", "Europe/Madrid"],
            "ctx_usual_start": [8.5, 8.0],
            "ctx_usual_end": [17.75, 17.0],
            "ctx_travel_kmh": [5750.0, np.nan],
            "ctx_travel_km": [3830.0, np.nan],
            "ctx_travel_minutes": [40.0, np.nan],
            "ctx_travel_location": ["Madrid, Spain", None],
        }
    )


def test_rule_features_come_first_then_the_detectors_blame():
    shares = np.array([[0.1, 0.0, 0.6, 0.0, 0.3], [0.0, 0.0, 0.0, 0.9, 0.1]])
    rules = pd.DataFrame({"impossible_travel": [True, False], "off_hours": [False, False]})
    chosen = choose(NAMES, shares, rules, top=3)
    assert chosen[0] == ["travel_speed", "city_novelty", "bytes_log_ratio"]
    assert chosen[1] == ["hour_rarity", "travel_speed"]


def test_rows_the_detectors_did_not_attribute_are_ranked_by_deviation():
    shares = np.zeros((1, len(NAMES)))
    deviation = np.array([[0.0, 3.0, 0.0, 1.0, 0.0]])
    assert choose(NAMES, shares, None, deviation) == [["device_novelty", "hour_rarity"]]
    assert choose(NAMES, shares, None) == [[]]


def test_documents_carry_value_observed_fact_and_the_users_baseline():
    shares = pd.DataFrame([[0.2, 0.3, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0]], columns=NAMES)
    rules = pd.DataFrame({"impossible_travel": [True, False]})
    first, second = top_feature_documents(_events(), _features(), NAMES, shares, rules)

    by_name = {d["feature"]: d for d in first}
    assert [d["feature"] for d in first][:2] == ["travel_speed", "city_novelty"]
    assert by_name["city_novelty"]["observed"] == "Lagos, Nigeria"
    assert by_name["city_novelty"]["baseline"] == "Madrid, Spain"
    assert by_name["device_novelty"]["observed"] == "LT-NEW" and by_name["device_novelty"]["baseline"] == 2.0
    assert by_name["bytes_log_ratio"] == {
        "feature": "bytes_log_ratio",
        "value": 1.7,
        "share": 0.5,
        "observed": 2147483648.0,
        "baseline": 42000000.0,
        "text": "2.0 GB transferred; usually 40.1 MB (51x)",
    }
    assert "5,750 km/h: 3,830 km from Madrid, Spain in 40 min" == by_name["travel_speed"]["text"]
    (night,) = second
    assert night["feature"] == "hour_rarity"
    assert night["observed"] == "03:12" and night["baseline"] == "08:00-17:00"
    assert any(ch.isdigit() for d in first + second for ch in d["text"])


def test_every_rule_names_real_features():
    from ztad.behaviour.features import FEATURE_NAMES
    from ztad.behaviour.rules import RULES

    assert set(RULE_FEATURES) == set(RULES)
    assert {f for names in RULE_FEATURES.values() for f in names} <= set(FEATURE_NAMES)


def test_deviations_are_in_interquartile_ranges_of_the_day():
    day = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0]})
    typical = TypicalValues.of_frame(day, ["x"])
    assert deviations(typical, pd.DataFrame({"x": [6.0]}), ["x"]).tolist() == [[pytest.approx(2.0)]]


def test_features_that_tell_the_same_thing_are_given_once():
    names = ["hour_rarity", "off_hours_distance"]  # both read as the login's hour
    features = _features().assign(off_hours_distance=[0.0, 5.0])
    shares = pd.DataFrame([[0.0, 0.0], [0.6, 0.4]], columns=names)
    _, second = top_feature_documents(_events(), features, names, shares)
    assert [d["feature"] for d in second] == ["hour_rarity"]
    assert second[0]["text"] == "login at 03:12 local time (Europe/Madrid); usual hours 08:00-17:00"


def test_no_usual_hours_for_a_user_without_history():
    features = _features().assign(ctx_history_events=[40.0, 0.0])
    shares = pd.DataFrame([[0.0], [1.0]], columns=["hour_rarity"])
    _, second = top_feature_documents(_events(), features, ["hour_rarity"], shares)
    assert second[0]["baseline"] is None and second[0]["text"].endswith("usual hours not established")


def test_a_feature_value_is_the_column_read_as_a_number_whatever_its_dtype():
    # Read once per column by position; a value that is not a number is given as null.
    features = _features().assign(
        city_novelty=pd.array([1, None], dtype="Int64"),
        device_novelty=[True, False],
        bytes_log_ratio=pd.array(["1.7", "x"], dtype="string"),
    )
    shares = pd.DataFrame([[0.2, 0.3, 0.5, 0.0, 0.0], [0.3, 0.3, 0.4, 0.0, 0.0]], columns=NAMES)
    first, second = (
        {d["feature"]: d["value"] for d in row}
        for row in top_feature_documents(_events(), features, NAMES, shares)
    )
    assert (first["city_novelty"], first["device_novelty"], first["bytes_log_ratio"]) == (1.0, 1.0, 1.7)
    assert (second["city_novelty"], second["device_novelty"], second["bytes_log_ratio"]) == (None, 0.0, None)
