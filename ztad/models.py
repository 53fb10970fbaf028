"""Which model scores a day: train a new ensemble or load the registered one, and say why.

This is the glue between the pipeline and the detector machinery (:mod:`ztad.ensemble`,
:mod:`ztad.registry`, :mod:`ztad.drift`). The decision only reads registry metadata, so it is
cheap; the model itself is loaded once, by the scoring step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date

import pandas as pd

from ztad.config import JobConfig


@dataclass
class ScoringModel:
    """A fitted ensemble with its registry version, ready to score feature frames."""

    version: str
    ensemble: object

    @property
    def threshold(self) -> float:
        """The calibrated alert threshold on the combined score."""
        return float(self.ensemble.threshold_)

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per event: the combined ``ensemble_score``, ``threshold``, ``model_flag`` and every
        member's normalised contribution as ``score_<member>``, row-aligned with ``features``."""
        matrix = features[list(self.ensemble.feature_names_in_)]
        contributions = self.ensemble.contributions(matrix).reset_index(drop=True)
        combined = self.ensemble.combined(contributions)
        out = contributions.add_prefix("score_")
        out.insert(0, "ensemble_score", combined)
        out.insert(1, "threshold", self.threshold)
        out.insert(2, "model_flag", combined > self.threshold)
        return out


def _registry(config: JobConfig):
    from ztad.registry import ModelRegistry

    return ModelRegistry(config.model_dir)


def _day_drift(meta: dict, day_features: pd.DataFrame) -> pd.Series | None:
    """Drift of the day's features from the model's training rows, as one robust number.

    The population stability index of a single day is noisy for sparse features, and
    features that are constant within a day (weekend, holiday) always look drifted, so the
    measure is the median PSI over the features that vary within the day.
    """
    from ztad.drift import DriftReference

    reference = meta.get("metrics", {}).get("drift_reference")
    if not reference or day_features.empty:
        return None
    features = day_features[list(meta["feature_names"])]
    psi = DriftReference.from_dict(reference).psi(features)
    varying = features.columns[features.nunique() > 1]
    if len(varying) == 0:
        return None
    return pd.Series({f"median PSI of {len(varying)} features": float(psi[varying].median())})


def split_calibration(matrix: pd.DataFrame, calibration_days: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Hold out the most recent ``calibration_days`` of the training window for calibration.

    The alert threshold must be set on behaviour like the days about to be scored. The
    oldest training days are judged against thin baselines and look unusual, so a random
    hold-out would set the threshold too high and under-spend the budget. With too few
    days to split, ``None`` lets the ensemble hold out a random share instead.

    Rows the model flagged when their day was scored never train the detectors, but they do
    count in calibration: the budget is a share of all the normal-looking traffic, and a
    reference without its own top tail would set the threshold too low and overspend it.
    """
    from ztad.pipeline import TRAINING_DAY, TRAINING_DAY_ROWS, TRAINING_FLAGGED

    days = matrix[TRAINING_DAY]
    flagged = (
        matrix[TRAINING_FLAGGED].to_numpy(bool) if TRAINING_FLAGGED in matrix.columns
        else pd.Series(False, index=matrix.index).to_numpy()
    )
    distinct = days.drop_duplicates().sort_values()
    features = matrix.drop(columns=[TRAINING_DAY, TRAINING_FLAGGED, TRAINING_DAY_ROWS], errors="ignore")
    if calibration_days <= 0 or len(distinct) <= calibration_days:
        return features[~flagged], None
    recent = days.isin(set(distinct.iloc[-calibration_days:])).to_numpy()
    return features[~recent & ~flagged], features[recent]


def budget_rate(detection, matrix: pd.DataFrame) -> float:
    """The false-positive rate the model is calibrated to: ``target_fpr``, or with
    ``max_alerts_per_day`` that count over the training window's mean daily volume.

    Raises
    ------
    ztad.threshold.ThresholdError
        When the daily budget is not below the daily volume.
    """
    from ztad.pipeline import TRAINING_DAY, TRAINING_DAY_ROWS
    from ztad.threshold import fpr_for_daily_budget

    if detection.max_alerts_per_day is None:
        return detection.target_fpr
    if TRAINING_DAY_ROWS in matrix.columns:
        per_day = matrix.groupby(TRAINING_DAY)[TRAINING_DAY_ROWS].first()
    else:
        per_day = matrix.groupby(TRAINING_DAY).size()
    return fpr_for_daily_budget(detection.max_alerts_per_day, float(per_day.mean()))


def train(day: date, config: JobConfig, matrix: pd.DataFrame) -> str:
    """Fit the configured ensemble on ``matrix`` (normal history, rows tagged with their day)
    and register it."""
    from ztad.ensemble import Ensemble
    from ztad.pipeline import training_window

    detection = config.detection
    fit_rows, calibration_rows = split_calibration(matrix, detection.calibration_days)
    ensemble = Ensemble.from_names(
        detection.detectors, target_fpr=budget_rate(detection, matrix), random_state=detection.seed
    ).fit(fit_rows, calibration=calibration_rows)
    start, end = training_window(config, day)
    return _registry(config).save(
        ensemble,
        trained_on=(start, end),
        rows=len(matrix),
        feature_names=list(fit_rows.columns),
        params={"detection": asdict(detection)},
        metrics={
            "fit_seconds": ensemble.fit_seconds_,
            "threshold": float(ensemble.threshold_),
            "calibration_rows": 0 if calibration_rows is None else len(calibration_rows),
            "drift_reference": ensemble.drift_reference_.to_dict(),
        },
    )


#: Detection settings that set a model's threshold: a change means a new calibration.
BUDGET_SETTINGS = ("target_fpr", "max_alerts_per_day")


def _budget_change(meta: dict, detection) -> str | None:
    """How the alert budget differs from the one the model was calibrated to, or None."""
    trained = meta.get("params", {}).get("detection", {})
    changes = [
        f"{name} {trained.get(name)} -> {getattr(detection, name)}"
        for name in BUDGET_SETTINGS
        if name in trained and trained[name] != getattr(detection, name)
    ]
    return "; ".join(changes) or None


def train_or_load(
    day: date,
    config: JobConfig,
    *,
    training_matrix: Callable[[], pd.DataFrame],
    day_features: Callable[[], pd.DataFrame],
    force_retrain: bool = False,
) -> dict:
    """Pick the model for ``day`` under the retrain policy and return the decision.

    Returns a dict with ``model_version``, ``action`` (``trained`` or ``loaded``) and
    ``reason`` in words, which the run record keeps.
    """
    from ztad.behaviour.features import FEATURE_NAMES
    from ztad.registry import should_retrain

    registry = _registry(config)
    latest = registry.latest(before=day)
    meta = registry.metadata(latest) if latest else None
    budget_change = _budget_change(meta, config.detection) if meta else None
    if force_retrain:
        retrain, reason = True, "a retrain was requested for this run"
    elif budget_change:
        retrain, reason = True, f"the alert budget changed since {latest} was trained ({budget_change})"
    else:
        drift = _day_drift(meta, day_features()) if meta else None
        retrain, reason = should_retrain(
            meta,
            day,
            config.detection.retrain_every_days,
            drift,
            config.detection.psi_threshold,
            feature_names=list(FEATURE_NAMES),
        )
    if not retrain:
        return {"model_version": latest, "action": "loaded", "reason": reason}
    version = train(day, config, training_matrix())
    return {"model_version": version, "action": "trained", "reason": reason}


def load_model(config: JobConfig, version: str) -> ScoringModel:
    """Load and verify a registered model by version (never by path)."""
    from ztad.behaviour.features import FEATURE_NAMES

    registered = _registry(config).load(version, expected_features=list(FEATURE_NAMES))
    return ScoringModel(version=registered.version, ensemble=registered.model)


__all__ = ["ScoringModel", "load_model", "train", "train_or_load"]
