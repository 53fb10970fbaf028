"""Choosing, training and loading the model that scores a day."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.detection.training import TRAINING_DAY, TRAINING_FLAGGED, split_calibration


def _matrix(days: int, rows_per_day: int = 5) -> pd.DataFrame:
    tags = np.repeat([date(2026, 3, 1 + d) for d in range(days)], rows_per_day)
    return pd.DataFrame({"x": np.arange(len(tags), dtype=float), TRAINING_DAY: tags})


def test_the_most_recent_days_calibrate():
    fit, calibration = split_calibration(_matrix(6), calibration_days=2)
    assert list(fit.columns) == ["x"] and len(fit) == 20 and len(calibration) == 10
    assert calibration["x"].min() == 20.0  # days 5 and 6 only


def test_a_short_window_holds_out_at_most_its_later_half():
    fit, calibration = split_calibration(_matrix(5), calibration_days=7)
    assert len(fit) == 15 and len(calibration) == 10  # 3 days fit, the last 2 calibrate


def test_a_window_too_small_to_spare_days_lets_the_ensemble_hold_out_at_random():
    fit, calibration = split_calibration(_matrix(1), calibration_days=3)
    assert calibration is None and len(fit) == 5
    fit, calibration = split_calibration(_matrix(4), calibration_days=3, min_fit_rows=20)
    assert calibration is None and len(fit) == 20  # holding out a day would leave 15 to fit


def test_the_hold_out_shrinks_until_enough_rows_remain_to_fit():
    from ztad.detection.training import calibration_hold_out

    assert calibration_hold_out(_matrix(8), calibration_days=7) == 4
    assert calibration_hold_out(_matrix(8), calibration_days=7, min_fit_rows=25) == 3
    assert calibration_hold_out(_matrix(20), calibration_days=7, min_fit_rows=25) == 7


def test_what_a_short_history_lacks_is_said_in_words():
    from ztad.config import DetectionConfig
    from ztad.detection.training import training_shortfall

    detection = DetectionConfig(min_training_days=7, min_training_rows=100)
    assert training_shortfall(_matrix(3, rows_per_day=4), detection) == "3 of 7 history days; 12 of 100 training rows"
    assert training_shortfall(_matrix(7, rows_per_day=20), detection) is None
    flagged = _matrix(7, rows_per_day=20).assign(**{TRAINING_FLAGGED: True})
    assert training_shortfall(flagged, detection) == "0 of 100 training rows"
    empty = pd.DataFrame(columns=["x", TRAINING_DAY])
    assert training_shortfall(empty, detection) == "0 of 7 history days; 0 of 100 training rows"


def test_flagged_rows_never_fit_but_count_in_calibration():
    matrix = _matrix(6).assign(**{TRAINING_FLAGGED: False})
    matrix.loc[[0, 1, 25], TRAINING_FLAGGED] = True  # two on a fitting day, one on a calibration day
    fit, calibration = split_calibration(matrix, calibration_days=2)
    assert list(fit.columns) == ["x"] and list(calibration.columns) == ["x"]
    assert len(fit) == 18 and not fit["x"].isin([0.0, 1.0]).any()
    assert len(calibration) == 10 and 25.0 in calibration["x"].to_numpy()


def test_without_a_calibration_split_flagged_rows_are_still_left_out_of_fitting():
    matrix = _matrix(2).assign(**{TRAINING_FLAGGED: [True] + [False] * 9})
    fit, calibration = split_calibration(matrix, calibration_days=3, min_fit_rows=20)
    assert calibration is None and len(fit) == 9


def test_the_budget_rate_is_the_daily_count_over_the_daily_volume_before_sampling():
    from ztad.config import DetectionConfig
    from ztad.detection.training import TRAINING_DAY_ROWS, budget_rate

    matrix = _matrix(4).assign(**{TRAINING_DAY_ROWS: 400})  # 5 rows kept of 400 each day
    assert budget_rate(DetectionConfig(target_fpr=0.01), matrix) == 0.01
    assert budget_rate(DetectionConfig(max_alerts_per_day=10), matrix) == pytest.approx(10 / 400)
    assert budget_rate(DetectionConfig(max_alerts_per_day=1), _matrix(4)) == pytest.approx(1 / 5)


def test_a_daily_budget_above_the_daily_volume_is_refused():
    from ztad.config import DetectionConfig
    from ztad.detection.threshold import ThresholdError
    from ztad.detection.training import budget_rate

    with pytest.raises(ThresholdError, match="not below the daily volume"):
        budget_rate(DetectionConfig(max_alerts_per_day=5), _matrix(4))
