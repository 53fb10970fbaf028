"""Building findings rows from flagged events."""

from datetime import date

import pandas as pd
import pytest

from ztad.findings.build import build_findings

DAY = date(2026, 3, 16)


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ["a", "b"],
            "timestamp": pd.to_datetime(["2026-03-16T03:00:00Z", "2026-03-16T09:00:00Z"]),
            "user_id": ["alice", "bob"],
            "device_id": ["d1", "d2"],
            "ip_address": ["203.0.113.7", "10.0.0.2"],
            "location": ["Lagos, Nigeria", "Madrid, Spain"],
            "resource": ["payroll", "email"],
            "login_success": [True, False],
            "bytes_transferred": [5_000_000, 10],
            "event_label": ["new_device", "normal"],
        }
    )


def _scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ensemble_score": [7.5, 2.0],
            "score": [8.5, 3.5],
            "threshold": [2.5, 2.5],
            "model_flag": [True, False],
            "score_isolation_forest": [3.0, 1.0],
            "score_ecod": [9.0, 0.5],
            "rule_impossible_travel": [True, False],
            "rule_password_spray": [False, True],
            "rule_hit": [True, True],
        }
    )


def test_each_finding_names_its_sources_and_scores():
    reasons = pd.Series([[{"code": "x", "text": "1"}], [{"code": "y", "text": "2"}]])
    out = build_findings(
        day=DAY, events=_events(), scored=_scored(), reasons=reasons, model_version="m", run_id="r"
    )
    assert out["finding_id"].tolist() == ["2026-03-16:a", "2026-03-16:b"]
    assert out["detectors"].tolist() == [
        ["ensemble", "rule:impossible_travel"],
        ["rule:password_spray"],
    ]
    assert out["detector_scores"][0] == {
        "isolation_forest": 3.0, "ecod": 9.0, "ensemble": 7.5, "final": 8.5
    }
    assert out["reasons"][1] == [{"code": "y", "text": "2"}]
    assert (out["status"] == "new").all() and (out["model_version"] == "m").all()


def test_misaligned_inputs_are_refused():
    with pytest.raises(ValueError, match="same flagged rows"):
        build_findings(
            day=DAY, events=_events(), scored=_scored().iloc[:1], reasons=pd.Series([[]]),
            model_version="m", run_id="r",
        )


@pytest.mark.parametrize("rows", [2, 0])
def test_the_version_and_status_columns_are_typed_as_text_given_alone_would_be(rows):
    reasons = pd.Series([[{"code": "x", "text": "1"}]] * 2).iloc[:rows]
    out = build_findings(
        day=DAY, events=_events().iloc[:rows], scored=_scored().iloc[:rows], reasons=reasons,
        model_version="m", run_id="r",
    )
    alone = pd.DataFrame({"model_version": "m", "status": "new"}, index=pd.RangeIndex(rows))
    pd.testing.assert_frame_equal(out[["model_version", "status"]], alone)


def test_member_scores_are_the_score_columns_as_numbers_missing_as_nan():
    from ztad.findings.build import _member_scores

    scored = pd.DataFrame({"score_ecod": pd.array([1.0, None], dtype="Float64"), "score_ocsvm": [0.5, 2.0], "score": [3, 4]})
    scores = _member_scores(scored)
    assert list(scores) == ["ecod", "ocsvm"]  # "score" is the final score, no member's
    assert scores["ecod"][0] == 1.0 and pd.isna(scores["ecod"][1]) and scores["ocsvm"].tolist() == [0.5, 2.0]
