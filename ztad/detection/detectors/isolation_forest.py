"""Isolation Forest: anomalies are isolated by fewer random axis-parallel splits.

Splits are per feature, so the forest needs no scaling and takes heavy tails and flags as
they are. The score is the negated ``score_samples`` of scikit-learn (higher = more
anomalous).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest

from ztad.detection.detectors.base import Detector
from ztad.detection.detectors.safe_files import load_model, save_model

MODEL_FILE = "isolation_forest.skops"


class IsolationForestDetector(Detector):
    """Seeded scikit-learn Isolation Forest.

    Parameters
    ----------
    n_estimators
        Number of trees.
    max_samples
        Rows drawn to grow each tree. The original paper's 256 suits isolated outliers; among
        many hard negatives the subtler anomalies need finer trees, at the cost of about a
        second more training on 50,000 rows.
    max_features
        Share of features drawn for each tree.
    n_jobs
        Worker processes for fitting and scoring.
    target_fpr
        Share of normal calibration rows allowed above ``threshold_``.
    calibration_fraction
        Share of training rows held out to calibrate the score distribution.
    random_state
        Seed of the row split and of the forest.
    """

    name = "isolation_forest"
    libraries = ("numpy", "scikit-learn", "skops")
    rows_split_freely = True

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        max_samples: int = 8192,
        max_features: float = 1.0,
        n_jobs: int = 1,
        target_fpr: float = 0.01,
        calibration_fraction: float = 0.2,
        random_state: int = 0,
    ):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.target_fpr = target_fpr
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def _fit_model(self, X: np.ndarray) -> None:
        self.model_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(X)),
            max_features=self.max_features,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        # The forest's own trees, walked without joblib's per-tree tasks: the same scores.
        from ztad.detection.detectors.forest_paths import score_samples

        return -score_samples(self.model_, X)

    def _save_model(self, folder: Path) -> None:
        save_model(self.model_, folder / MODEL_FILE)

    def _load_model(self, folder: Path) -> None:
        # A skops file: read without running code, after the registry checked its digest.
        self.model_ = load_model(folder / MODEL_FILE)
