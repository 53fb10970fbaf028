"""Severity of findings and incidents: takeover patterns outrank habits."""

import numpy as np
import pandas as pd
import pytest

from ztad.findings.severity import (
    LEVEL_FLOORS,
    MODEL_POINTS,
    TAKEOVER_CODES,
    SeverityInputError,
    categories,
    finding_severity,
    incident_severity,
    level_of,
    model_points,
    sensitive_mask,
)

THRESHOLD = 2.3


def _reasons(*codes_per_finding):
    return pd.Series([[{"code": code, "text": f"{code} 1"} for code in codes] for codes in codes_per_finding])


def _severity(codes_per_finding, score=THRESHOLD, success=True, sensitive=False):
    n = len(codes_per_finding)
    return finding_severity(
        _reasons(*codes_per_finding),
        np.full(n, score),
        np.full(n, THRESHOLD),
        np.full(n, success),
        np.full(n, sensitive),
    )


@pytest.mark.parametrize("code", sorted(TAKEOVER_CODES))
def test_takeover_patterns_alone_are_high(code):
    (severity,) = _severity([[code]])
    assert level_of(severity)[0] in ("high", "critical")


def test_a_takeover_outranks_a_rare_hour_whatever_the_model_says():
    (travel,) = _severity([["impossible_travel"]], score=THRESHOLD)
    (night,) = _severity([["off_hours", "many_logins"]], score=THRESHOLD + 20, sensitive=True)
    assert travel > night
    assert level_of(night)[0] == "medium"


def test_model_score_sensitivity_and_breadth_add_points():
    base, stronger, sensitive = (
        _severity([["new_city"]], score=THRESHOLD)[0],
        _severity([["new_city"]], score=THRESHOLD + 1.5)[0],
        _severity([["new_city"]], sensitive=True)[0],
    )
    broad = _severity([["new_city", "large_transfer"]])[0]
    assert base < stronger < base + MODEL_POINTS
    assert sensitive > base
    assert broad > _severity([["large_transfer"]])[0]


def test_a_failed_login_is_an_attempt_and_weighs_less():
    (succeeded,) = _severity([["new_device_new_place"]], success=True)
    (failed,) = _severity([["new_device_new_place"]], success=False)
    assert failed < succeeded


def test_a_spray_that_gets_in_is_worse_than_a_failed_attempt():
    (attempt,) = _severity([["password_spray"]], success=False)
    (inside,) = _severity([["password_spray"]], success=True)
    assert level_of(attempt)[0] == "medium"
    assert level_of(inside)[0] in ("high", "critical")


def test_severity_stays_within_0_and_100():
    values = _severity([["success_after_failures", "impossible_travel", "large_transfer"], []], score=99, sensitive=True)
    assert values.tolist() == [100, values[1]]
    assert 0 <= values[1] <= MODEL_POINTS + 15


def test_model_points_are_zero_at_or_below_the_threshold():
    points = model_points([1.0, THRESHOLD, THRESHOLD + 1.5, np.nan, 50.0], THRESHOLD)
    assert points[0] == points[1] == points[3] == 0
    assert 0 < points[2] < points[4] == MODEL_POINTS


def test_levels_follow_their_floors():
    floors = {name: floor for name, floor in LEVEL_FLOORS}
    values = [0, floors["medium"] - 1, floors["medium"], floors["high"], floors["critical"] - 1, floors["critical"], 100]
    assert level_of(values).tolist() == ["low", "low", "medium", "high", "high", "critical", "critical"]


def test_category_is_the_weightiest_reason_and_a_failed_place_pattern_weighs_less():
    reasons = _reasons(["rare_place", "large_transfer"], ["impossible_travel", "password_spray"], [])
    assert categories(reasons).tolist() == ["large_transfer", "impossible_travel", "unknown"]
    assert categories(reasons, [True, False, True]).tolist()[1] == "password_spray"


def test_sensitive_resources_come_from_the_configuration_or_the_features():
    resources = pd.Series(["payroll", "email", None], dtype="string")
    assert sensitive_mask(resources, ("payroll",)).tolist() == [True, False, False]
    assert sensitive_mask(resources, (), [0.0, 1.0, 0.0]).tolist() == [False, True, False]


def test_rows_must_line_up():
    with pytest.raises(SeverityInputError, match="one value per finding"):
        finding_severity(_reasons(["new_city"], ["new_ip"]), [3.0], [THRESHOLD, THRESHOLD], [True, True], [False, False])


def test_incident_severity_adds_a_little_for_many_findings():
    values = incident_severity([70, 70, 70, 98], [1, 10, 1000, 1000])
    assert values.tolist() == [70, 75, 80, 100]
