"""Isolation Forest specifics."""

import numpy as np

from tests.ztad.detection.detectors.synthetic import normal_features
from ztad.detection.detectors import IsolationForestDetector


def test_subsample_larger_than_the_training_set_uses_every_row():
    detector = IsolationForestDetector(n_estimators=20, max_samples=8192)
    detector.fit(normal_features(300, 1))
    assert detector.model_.max_samples_ == 240  # 300 rows minus the 20 % held out


def test_score_is_the_negated_library_score():
    frame = normal_features(500, 1)
    detector = IsolationForestDetector(n_estimators=20).fit(frame)
    np.testing.assert_array_equal(
        detector.score_samples(frame), -detector.model_.score_samples(frame.to_numpy())
    )
