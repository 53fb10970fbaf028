"""Which events may teach the baseline and the detectors, given flags and verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.ztad.feedback.verdict_rows import verdict_frame, verdict_row
from ztad.feedback import CONFIRMED, FALSE_POSITIVE, baseline_mask, training_mask


def test_false_positives_enter_the_baseline_and_confirmed_events_nothing():
    ids = pd.Series(["ok", "flagged", "fp", "attack", "attack-unflagged"])
    flagged = np.array([False, True, True, True, False])
    verdicts = verdict_frame(
        verdict_row("d:fp", FALSE_POSITIVE, ["new_city"]),
        verdict_row("d:attack", CONFIRMED, ["new_city"]),
        verdict_row("d:attack-unflagged", CONFIRMED, ["new_city"]),
    )
    assert baseline_mask(ids, flagged, verdicts).tolist() == [True, False, True, False, False]
    assert training_mask(ids, flagged, verdicts).tolist() == [True, False, False, False, False]
    assert baseline_mask(ids, flagged, None).tolist() == (~flagged).tolist()


def test_labels_trust_only_normal_events_and_unlabelled_logs_are_not_judged():
    from ztad.feedback import trusted_by_labels

    labelled = pd.DataFrame({"event_label": pd.array(["normal", "password_spray", None, " Normal ", ""],
                                                     dtype="string")})
    assert trusted_by_labels(labelled).tolist() == [True, False, False, True, False]
    assert trusted_by_labels(pd.DataFrame({"event_label": pd.array([None, ""], dtype="string")})) is None
    assert trusted_by_labels(pd.DataFrame({"user_id": ["u1"]})) is None


def test_only_nights_alerted_for_their_hour_alone_and_never_confirmed_count_as_worked():
    from ztad.feedback import hour_only_alerts, raised_for_hour_alone

    users = pd.Series(["bob", "bob", "carol", "carol", "dave", "erin", "frank"])
    ids = pd.Series(["b1", "b2", "c1", "c2", "d1", "e1", "f1"])
    flagged = np.array([True, True, True, True, True, False, True])
    # carol's night also had a model alert; erin's login was not alerted; frank's was confirmed.
    hour_only = np.array([True, True, True, False, True, True, True])
    verdicts = verdict_frame(verdict_row("d:f1", CONFIRMED, ["off_hours"], user="frank"))
    alerted, other = hour_only_alerts(users, ids, flagged, hour_only, verdicts)
    assert alerted.tolist() == [True, True, False, False, True, False, False]
    assert other.tolist() == [False, False, False, True, False, False, True]
    stored = {"b1": ["rule:off_hours"], "c2": ["ensemble", "rule:off_hours"], "d1": ["rule:new_device_new_place"]}
    assert raised_for_hour_alone(stored) == {"b1"}
