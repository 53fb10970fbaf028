from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.evaluation.attacks import attack_keys, attack_recall, false_incidents, user_day_incidents
from ztad.evaluation.metrics import GroundTruth, detector_metrics

D1, D2, D3 = date(2026, 3, 16), date(2026, 3, 17), date(2026, 3, 18)


def _events() -> pd.DataFrame:
    """Three attacks with a known answer, and normal events around them.

    - attack-1: brute force of 4 guesses by u1 on D1, one guess flagged -> caught;
    - attack-2: off-hours login of u2 on D2, 2 events, none flagged -> missed;
    - attack-3: travel + exfiltration of u3 on D2, flagged -> caught (for both categories).
    Normal events: u4 flagged twice on D1 (one false incident), u5 flagged on D3 (one false
    incident), u1 flagged on D1 besides its attack (same incident as the attack: not false).
    """
    rows = [
        # day, user, label, attack_id, flagged
        (D1, "u1", "multiple_failed_logins", "attack-1", False),
        (D1, "u1", "multiple_failed_logins", "attack-1", True),
        (D1, "u1", "multiple_failed_logins", "attack-1", False),
        (D1, "u1", "multiple_failed_logins", "attack-1", False),
        (D1, "u1", "normal", None, True),
        (D1, "u4", "normal", None, True),
        (D1, "u4", "normal", None, True),
        (D1, "u6", "normal", None, False),
        (D2, "u2", "off_hours_login", "attack-2", False),
        (D2, "u2", "off_hours_login", "attack-2", False),
        (D2, "u3", "impossible_travel+large_data_transfer", "attack-3", True),
        (D2, "u6", "normal", None, False),
        (D3, "u5", "normal", None, True),
        (D3, "u6", "normal", None, False),
    ]
    frame = pd.DataFrame(rows, columns=["day", "user_id", "event_label", "attack_id", "flagged"])
    frame["timestamp"] = pd.to_datetime(frame["day"]).dt.tz_localize("UTC") + pd.Timedelta(hours=9)
    frame["event_label"] = frame["event_label"].astype("string")
    frame["attack_id"] = frame["attack_id"].astype("string")
    return frame


def test_an_attack_is_caught_when_one_of_its_events_is_flagged():
    events = _events()
    anomalous = (events["event_label"] != "normal").to_numpy()
    keys = attack_keys(anomalous, events["attack_id"])
    result = attack_recall(events["event_label"], keys, events["flagged"])
    assert (result["attacks"], result["caught"]) == (3, 2)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["per_category"] == {
        "impossible_travel": {"attacks": 1, "caught": 1, "recall": 1.0},
        "large_data_transfer": {"attacks": 1, "caught": 1, "recall": 1.0},
        "multiple_failed_logins": {"attacks": 1, "caught": 1, "recall": 1.0},
        "off_hours_login": {"attacks": 1, "caught": 0, "recall": 0.0},
    }


def test_without_attack_ids_each_anomalous_event_is_an_attack():
    events = _events()
    anomalous = (events["event_label"] != "normal").to_numpy()
    keys = attack_keys(anomalous, None)
    assert keys.notna().sum() == anomalous.sum() and keys[~anomalous].isna().all()
    result = attack_recall(events["event_label"], keys, events["flagged"])
    assert (result["attacks"], result["caught"]) == (7, 2)


def test_false_incidents_are_incidents_without_an_attack_event_per_scored_day():
    events = _events()
    anomalous = (events["event_label"] != "normal").to_numpy()
    keys = user_day_incidents(events["day"], events["user_id"])
    result = false_incidents(events["day"], keys, anomalous, events["flagged"], first_weeks_days=2)
    # Incidents: D1 u1 (attack), D1 u4 (false), D2 u3 (attack), D3 u5 (false).
    assert result["incidents"] == 4 and result["false_incidents"] == 2
    assert result["scored_days"] == 3
    assert result["false_by_day"] == {str(D1): 1, str(D2): 0, str(D3): 1}
    assert result["false_per_day"] == pytest.approx(2 / 3)
    assert result["false_per_day_first_weeks"] == pytest.approx(0.5)
    assert result["false_per_day_later"] == pytest.approx(1.0)
    assert result["incidents_per_day"] == pytest.approx(4 / 3)


def test_the_jobs_incident_ids_group_events_as_filed():
    events = _events()
    anomalous = (events["event_label"] != "normal").to_numpy()
    # The job filed both of u4's events and u5's under one source incident: one false incident.
    filed = pd.Series(["D1:user:u1"] * 5 + ["src"] * 2 + [None] * 5 + ["src"] + [None], dtype="string")
    result = false_incidents(events["day"], filed, anomalous, events["flagged"])
    assert result["false_incidents"] == 2  # "src" on D1 and "src" on D3 are two incidents
    same_day = events.assign(day=D1)
    result = false_incidents(same_day["day"], filed, anomalous, same_day["flagged"])
    assert result["false_incidents"] == 1 and result["false_per_day_later"] is None


def test_detector_metrics_report_attacks_and_incidents_at_every_decision():
    events = _events()
    truth = GroundTruth.from_events(events)
    scores = np.where(events["flagged"], 1.0, 0.0) + np.linspace(0, 0.01, len(events))
    metrics = detector_metrics(truth, scores, events["flagged"].to_numpy())
    operating = metrics["operating"]
    assert operating["attacks"]["caught"] == 2 and operating["attacks"]["attacks"] == 3
    assert operating["incidents"]["false_incidents"] == 2
    assert "attacks" in metrics["at_budget"]["fpr_0.01"] and "incidents" in metrics["at_budget"]["fpr_0.01"]


def test_nothing_flagged_catches_nothing_and_raises_no_incident():
    events = _events()
    anomalous = (events["event_label"] != "normal").to_numpy()
    keys = attack_keys(anomalous, events["attack_id"])
    none = np.zeros(len(events), bool)
    assert attack_recall(events["event_label"], keys, none)["caught"] == 0
    result = false_incidents(events["day"], user_day_incidents(events["day"], events["user_id"]), anomalous, none)
    assert result["incidents"] == 0 and result["false_per_day"] == 0.0
