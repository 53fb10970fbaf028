"""Choosing, training and loading the model that scores a day."""

from datetime import date

import numpy as np
import pandas as pd

from ztad.models import split_calibration
from ztad.pipeline import TRAINING_DAY


def _matrix(days: int, rows_per_day: int = 5) -> pd.DataFrame:
    tags = np.repeat([date(2026, 3, 1 + d) for d in range(days)], rows_per_day)
    return pd.DataFrame({"x": np.arange(len(tags), dtype=float), TRAINING_DAY: tags})


def test_the_most_recent_days_calibrate():
    fit, calibration = split_calibration(_matrix(6), calibration_days=2)
    assert list(fit.columns) == ["x"] and len(fit) == 20 and len(calibration) == 10
    assert calibration["x"].min() == 20.0  # days 5 and 6 only


def test_too_short_a_window_lets_the_ensemble_hold_out_at_random():
    fit, calibration = split_calibration(_matrix(2), calibration_days=3)
    assert calibration is None and len(fit) == 10
