"""One-Class SVM with an RBF kernel, exact on small histories and subsampled on large ones.

The exact kernel SVM costs time quadratic in the training rows to fit, and its scoring cost
grows with the support vectors (about ``nu`` times the rows). Beyond ``exact_max_rows`` rows the
detector therefore switches to an approximation chosen by ``method``:

- ``"subsample"`` (what ``"auto"`` picks beyond the cutoff): the exact kernel SVM on a seeded
  uniform sample of ``exact_max_rows`` rows. A uniform sample of normal history estimates the
  same support as the full history; calibration still uses every held-out row;
- ``"nystroem"``: a Nystroem feature map of the same RBF kernel (``n_components`` landmark
  rows) followed by a linear One-Class SVM trained by SGD; linear in the rows.

The exact kernel fits 10,000 rows in about a second, hence :data:`EXACT_MAX_ROWS`; a uniform
subsample keeps the exact kernel's boundary where Nystroem + SGD is faster but less stable from
one training size to the next. ``bench/bench_detectors.py --section ocsvm`` measures fit and
score time, ROC-AUC and PR-AUC of the three on the pipeline's training rows.

Features are robustly standardised first (:mod:`ztad.detection.detectors.scaling`); ``gamma="scale"``
is ``1 / (n_features * variance)`` of the standardised training rows, the same for every
method so that all of them use one kernel. The score is the negated decision function; the
kernel SVM's is computed in numpy blocks (:mod:`ztad.detection.detectors.rbf_decision`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDOneClassSVM
from sklearn.pipeline import make_pipeline
from sklearn.svm import OneClassSVM

from ztad.detection.detectors.base import Detector, DetectorError
from ztad.detection.detectors.rbf_decision import decision_function
from ztad.detection.detectors.safe_files import load_model, save_model
from ztad.detection.detectors.scaling import FeatureScaler

#: Largest training set fitted with the exact kernel when ``method="auto"``.
EXACT_MAX_ROWS = 10_000
METHODS = ("auto", "exact", "nystroem", "subsample")
MODEL_FILE = "ocsvm.skops"


class OneClassSVMDetector(Detector):
    """RBF One-Class SVM that picks the exact kernel or an approximation by training size.

    Parameters
    ----------
    method
        ``"auto"`` (exact up to ``exact_max_rows`` rows, else ``"subsample"``), ``"exact"``,
        ``"subsample"`` or ``"nystroem"``.
    exact_max_rows
        Cutoff for ``"auto"``, and the sample size of ``"subsample"``.
    nu
        Upper bound on the share of training rows outside the learned boundary.
    gamma
        RBF kernel width: ``"scale"`` or a positive number.
    n_components
        Landmark rows of the Nystroem map.
    max_iter
        Passes over the data of the SGD solver.
    target_fpr, calibration_fraction, random_state
        As for every detector (see :class:`ztad.detection.detectors.base.Detector`).

    Attributes
    ----------
    method_ : str
        The method actually used (``"auto"`` resolved).
    gamma_ : float
        The kernel width actually used.
    """

    name = "ocsvm"
    libraries = ("numpy", "scikit-learn", "skops")

    def __init__(
        self,
        *,
        method: str = "auto",
        exact_max_rows: int = EXACT_MAX_ROWS,
        nu: float = 0.05,
        gamma: float | str = "scale",
        n_components: int = 300,
        max_iter: int = 50,
        target_fpr: float = 0.01,
        calibration_fraction: float = 0.2,
        random_state: int = 0,
    ):
        self.method = method
        self.exact_max_rows = exact_max_rows
        self.nu = nu
        self.gamma = gamma
        self.n_components = n_components
        self.max_iter = max_iter
        self.target_fpr = target_fpr
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def _resolved_method(self, n_rows: int) -> str:
        if self.method not in METHODS:
            raise DetectorError(f"unknown ocsvm method {self.method!r}; choose from {METHODS}")
        if self.method != "auto":
            return self.method
        return "exact" if n_rows <= self.exact_max_rows else "subsample"

    def _kernel_width(self, Z: np.ndarray) -> float:
        if self.gamma == "scale":
            variance = float(Z.var())
            return 1.0 / (Z.shape[1] * variance) if variance > 0 else 1.0
        gamma = float(self.gamma)
        if not gamma > 0:
            raise DetectorError(f"gamma must be 'scale' or a positive number, got {self.gamma!r}")
        return gamma

    def _fit_model(self, X: np.ndarray) -> None:
        self.method_ = self._resolved_method(len(X))
        self.scaler_ = FeatureScaler.fit(X)
        Z = self.scaler_.transform(X)
        self.gamma_ = self._kernel_width(Z)
        if self.method_ == "nystroem":
            self.model_ = make_pipeline(
                Nystroem(
                    gamma=self.gamma_,
                    n_components=min(self.n_components, len(Z)),
                    random_state=self.random_state,
                ),
                SGDOneClassSVM(
                    nu=self.nu, max_iter=self.max_iter, tol=None, random_state=self.random_state
                ),
            ).fit(Z)
            return
        if self.method_ == "subsample" and len(Z) > self.exact_max_rows:
            rows = np.random.default_rng(self.random_state).choice(
                len(Z), self.exact_max_rows, replace=False
            )
            Z = Z[np.sort(rows)]
        self.model_ = OneClassSVM(
            kernel="rbf", gamma=self.gamma_, nu=self.nu, cache_size=500
        ).fit(Z)

    def _score(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(X)
        if self.method_ == "nystroem":
            return -self.model_.decision_function(Z)
        # The kernel SVM's decision function in numpy blocks: libsvm's, to rounding, at a
        # fraction of its time on a large day (:mod:`ztad.detection.detectors.rbf_decision`).
        return -decision_function(self.model_, Z)

    def _state(self) -> dict:
        return {"method": self.method_, "gamma": self.gamma_, "scaler": self.scaler_.to_dict()}

    def _load_state(self, state: dict) -> None:
        self.method_ = state["method"]
        self.gamma_ = float(state["gamma"])
        self.scaler_ = FeatureScaler.from_dict(state["scaler"])

    def _save_model(self, folder: Path) -> None:
        save_model(self.model_, folder / MODEL_FILE)

    def _load_model(self, folder: Path) -> None:
        # A skops file: read without running code, after the registry checked its digest.
        self.model_ = load_model(folder / MODEL_FILE)
