"""Training a model: the window of past days it learns from, the rows held out to calibrate
its threshold, the alert budget as a rate, and the fit that registers it.

The training matrix holds one row of feature values per past event, tagged with the columns
below; :mod:`ztad.pipeline` assembles it from the days' work files."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.detection.scoring_model import registry_of


def training_window(config: JobConfig, day: date) -> tuple[date, date]:
    """The days ``[start, day)`` whose features train a model used from ``day`` on."""
    return day - timedelta(days=config.detection.training_days), day


#: Column of the training frame telling which past day a row comes from.
TRAINING_DAY = "training_day"


#: Column of the training frame marking rows the model flagged when their day was scored:
#: kept out of fitting (an alert must not teach the detectors), kept in calibration.
TRAINING_FLAGGED = "flagged"


#: Column of the training frame holding the number of rows its day had before any sampling:
#: the daily volume that turns an alerts-per-day budget into a rate.
TRAINING_DAY_ROWS = "training_day_rows"


def _flagged(matrix: pd.DataFrame) -> np.ndarray:
    if TRAINING_FLAGGED in matrix.columns:
        return matrix[TRAINING_FLAGGED].to_numpy(bool)
    return np.zeros(len(matrix), dtype=bool)


def calibration_hold_out(matrix: pd.DataFrame, calibration_days: int, min_fit_rows: int = 0) -> int:
    """How many of the most recent days to hold out for calibration: ``calibration_days``,
    but never more than half the window's days, and fewer while the days left to fit hold
    fewer than ``min_fit_rows`` rows (a short history still trains, on a smaller hold-out).
    0 means no split by day."""
    days = pd.Series(matrix[TRAINING_DAY].to_numpy())
    fit_days = days[~_flagged(matrix)]
    distinct = days.drop_duplicates().sort_values()
    held = max(0, min(calibration_days, len(distinct) // 2))
    while held > 0 and int((fit_days < distinct.iloc[-held]).sum()) < min_fit_rows:
        held -= 1
    return held


def split_calibration(
    matrix: pd.DataFrame, calibration_days: int, min_fit_rows: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Hold out the most recent days of the training window for calibration.

    The alert threshold must be set on behaviour like the days about to be scored. The
    oldest training days are judged against thin baselines and look unusual, so a random
    hold-out would set the threshold too high and under-spend the budget. A short window
    holds out fewer days (:func:`calibration_hold_out`); with none to spare, ``None`` lets
    the ensemble hold out a random share instead.

    Rows the model flagged when their day was scored never train the detectors, but they do
    count in calibration: the budget is a share of all the normal-looking traffic, and a
    reference without its own top tail would set the threshold too low and overspend it.
    """
    days = matrix[TRAINING_DAY]
    flagged = _flagged(matrix)
    features = matrix.drop(columns=[TRAINING_DAY, TRAINING_FLAGGED, TRAINING_DAY_ROWS], errors="ignore")
    held = calibration_hold_out(matrix, calibration_days, min_fit_rows)
    if held == 0:
        return features[~flagged], None
    distinct = days.drop_duplicates().sort_values()
    recent = days.isin(set(distinct.iloc[-held:])).to_numpy()
    return features[~recent & ~flagged], features[recent]


def training_shortfall(matrix: pd.DataFrame, detection) -> str | None:
    """What the training window still lacks before a model can be trained, in words
    (``"3 of 7 history days; 12 of 50 training rows"``), or ``None`` when it has enough.

    Days count when they hold events; rows are those a model may fit on (not flagged).
    """
    from ztad.detection.detectors.base import MIN_TRAINING_ROWS

    days = int(matrix[TRAINING_DAY].nunique()) if len(matrix) else 0
    rows = int((~_flagged(matrix)).sum())
    need_rows = max(detection.min_training_rows, MIN_TRAINING_ROWS)
    lacking = []
    if days < detection.min_training_days:
        lacking.append(f"{days} of {detection.min_training_days} history days")
    if rows < need_rows:
        lacking.append(f"{rows} of {need_rows} training rows")
    return "; ".join(lacking) or None


def budget_rate(detection, matrix: pd.DataFrame) -> float:
    """The false-positive rate the model is calibrated to: ``target_fpr``, or with
    ``max_alerts_per_day`` that count over the training window's mean daily volume.

    Raises
    ------
    ztad.detection.threshold.ThresholdError
        When the daily budget is not below the daily volume.
    """
    from ztad.detection.threshold import fpr_for_daily_budget

    if detection.max_alerts_per_day is None:
        return detection.target_fpr
    if TRAINING_DAY_ROWS in matrix.columns:
        per_day = matrix.groupby(TRAINING_DAY)[TRAINING_DAY_ROWS].first()
    else:
        per_day = matrix.groupby(TRAINING_DAY).size()
    return fpr_for_daily_budget(detection.max_alerts_per_day, float(per_day.mean()))


def train(day: date, config: JobConfig, matrix: pd.DataFrame, trust=None) -> str:
    """Fit the configured ensemble on ``matrix`` (normal history, rows tagged with their day)
    and register it, recording its digests in the root of trust ``trust``."""
    from ztad.detection.detectors.base import MIN_TRAINING_ROWS
    from ztad.detection.ensemble import Ensemble

    detection = config.detection
    held = calibration_hold_out(matrix, detection.calibration_days, MIN_TRAINING_ROWS)
    fit_rows, calibration_rows = split_calibration(matrix, detection.calibration_days, MIN_TRAINING_ROWS)
    ensemble = Ensemble.from_names(
        detection.detectors, target_fpr=budget_rate(detection, matrix), random_state=detection.seed
    ).fit(fit_rows, calibration=calibration_rows)
    start, end = training_window(config, day)
    return registry_of(config, trust).save(
        ensemble,
        trained_on=(start, end),
        rows=len(matrix),
        feature_names=list(fit_rows.columns),
        params={"detection": asdict(detection)},
        metrics={
            "fit_seconds": ensemble.fit_seconds_,
            "threshold": float(ensemble.threshold_),
            "calibration_rows": 0 if calibration_rows is None else len(calibration_rows),
            "calibration_days": held,
            "training_days": int(matrix[TRAINING_DAY].nunique()),
            "drift_reference": ensemble.drift_reference_.to_dict(),
        },
    )
