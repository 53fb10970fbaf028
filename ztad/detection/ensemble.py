"""One decision from several detectors whose raw scores live on different scales.

Each member's raw score is normalised against that member's own scores on normal calibration
rows (training rows held out from every member's fit): its *tail probability* is the share of
normal calibration rows scoring at least as high, ``p = (1 + #{reference >= s}) / (n + 1)``,
found by ``np.searchsorted`` on the sorted reference scores. Beyond the highest reference score
the tail is extended with an exponential fitted to the top of the reference (peaks over
threshold), so extreme events keep their order instead of all tying at ``1 / (n + 1)``.

A member's contribution is its *surprise* ``-log10(p)``: 2 means "as rare as 1 in 100 normal
events", on the same scale for every detector. The ensemble score combines the members'
surprises (``combine``):

- ``"second"`` (default): the second-largest surprise, i.e. the rarity that at least two
  members agree on: one member that misreads a harmless quirk cannot raise an alert alone,
  yet an event that only two of the members understand still scores high;
- ``"median"``: the median surprise (at least half of the members must agree);
- ``"max"``: the largest surprise, so the rarest view of the event wins;
- ``"mean"``: the mean surprise (the log of the geometric mean of the tail probabilities;
  Fisher's ``-2 sum ln p`` ranks events the same way).

Which combination ranks best depends on the features and the data; ``"second"`` is the default
because one member's misreading cannot raise an alert alone. ``bench/bench_detectors.py``
prints ROC-AUC and PR-AUC of every member and every combination on the real features of
generated logs, trained as the pipeline trains, so the choice can be checked again whenever
the features change.

The ensemble's own ``threshold_`` is calibrated on the combined scores of the calibration rows
at ``target_fpr`` (:func:`ztad.detection.threshold.calibrate`). Behaviour drifts as baselines mature, so
calibrate on the most recent normal history: pass it as ``fit(X, calibration=recent)`` or call
:meth:`Ensemble.calibrate` with the trailing days' events. The oldest training days are judged
against thin baselines and look unusual, so a threshold set on a random share of the training
days over-estimates the normal tail and under-spends the budget; the pipeline calibrates on the
last training days, held out from fitting, with the model's own earlier alerts kept in the
reference (:func:`ztad.detection.training.split_calibration`). ``ztad evaluate`` reports the
alerts and false positives against the budget, day by day.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.detection.detectors import (
    Detector,
    DetectorError,
    NotFittedError,
    clone,
    load_detector,
    make_detector,
)
from ztad.detection.detectors.base import (
    SCORE_CHUNK_ROWS,
    VerifiedArtifacts,
    calibration_split,
    feature_matrix,
    read_description,
    run_in_parts,
    verified_folder,
)
from ztad.detection.drift import DriftReference
from ztad.detection.threshold import calibrate

#: Members of the default ensemble.
DEFAULT_MEMBERS: tuple[str, ...] = ("isolation_forest", "ocsvm", "autoencoder", "ecod")
COMBINERS: tuple[str, ...] = ("second", "median", "mean", "max")
#: Top reference scores used to fit the exponential tail beyond the highest one.
TAIL_FIT_ROWS = 50

ENSEMBLE_FILE = "ensemble.json"
CALIBRATION_FILE = "calibration_scores.npy"
MEMBERS_FOLDER = "members"
ENSEMBLE_FORMAT = 1


class EnsembleError(DetectorError):
    """The ensemble cannot be built, fitted or read as asked."""


# --------------------------------------------------------------------------- normalisation


def _log_tail_probability(scores: np.ndarray, reference_sorted: np.ndarray) -> np.ndarray:
    """Natural log of :func:`tail_probability`, finite however far out a score lies."""
    scores = np.asarray(scores, dtype=np.float64)
    n = reference_sorted.size
    at_least = n - np.searchsorted(reference_sorted, scores, side="left")
    log_p = np.log1p(at_least) - np.log(n + 1.0)
    top = reference_sorted[-min(TAIL_FIT_ROWS, n):]
    tail_scale = float(np.mean(top - top[0]))
    beyond = scores > reference_sorted[-1]
    if tail_scale > 0 and beyond.any():
        excess = (scores[beyond] - reference_sorted[-1]) / tail_scale
        log_p[beyond] = -excess - np.log(n + 1.0)
    return log_p


def tail_probability(scores: np.ndarray, reference_sorted: np.ndarray) -> np.ndarray:
    """Share of normal reference scores at least as high as each score (smoothed).

    Parameters
    ----------
    scores
        Raw scores of one detector.
    reference_sorted
        That detector's scores on normal calibration rows, sorted ascending.

    Returns
    -------
    np.ndarray
        ``(1 + #{reference >= s}) / (n + 1)``, in ``[0, 1]``; above the highest reference
        score it keeps falling as an exponential whose scale is the mean excess of the top
        :data:`TAIL_FIT_ROWS` reference scores over the lowest of them (far out it may
        underflow to 0: use :func:`surprise` for scoring).
    """
    return np.exp(_log_tail_probability(scores, reference_sorted))


def surprise(scores: np.ndarray, reference_sorted: np.ndarray) -> np.ndarray:
    """``-log10`` of :func:`tail_probability`: 3 means as rare as 1 in 1,000 normal events.

    Computed in log space, so an event far beyond every normal score gets a large, finite
    surprise rather than an infinite one.
    """
    return -_log_tail_probability(scores, reference_sorted) / np.log(10.0)


def combine_surprises(surprises: np.ndarray, how: str) -> np.ndarray:
    """Combine a rows x members array of surprises into one score per row."""
    if how == "mean":
        return surprises.mean(axis=1)
    if how == "max":
        return surprises.max(axis=1)
    if how == "median":
        return np.median(surprises, axis=1)
    if how == "second":
        if surprises.shape[1] < 2:
            return surprises.max(axis=1)
        return np.partition(surprises, -2, axis=1)[:, -2]
    raise EnsembleError(f"unknown combine {how!r}; choose from {COMBINERS}")


# --------------------------------------------------------------------------- the ensemble


class Ensemble:
    """Several detectors fitted on the same normal rows, normalised and combined.

    Parameters
    ----------
    detectors
        Unfitted member detectors with distinct names (fitted ones are copied, not changed).
        ``None`` builds :data:`DEFAULT_MEMBERS` with this ensemble's ``random_state``.
    combine
        How members' surprises are combined: one of :data:`COMBINERS`.
    target_fpr
        Alert budget: share of normal calibration rows allowed above ``threshold_``.
    calibration_fraction
        Share of the training rows held out from every member's fit to calibrate on.
    random_state
        Seed of the calibration split (members keep their own seeds).

    Attributes
    ----------
    detectors_ : dict[str, Detector]
        Fitted members by name, in order.
    feature_names_in_ : list[str] | None
    calibration_scores_ : np.ndarray
        Combined scores of the calibration rows.
    threshold_ : float
    drift_reference_ : DriftReference
        Feature bins and shares of the training rows, to measure drift against later.
    fit_seconds_ : dict[str, float]
        Training time of each member.
    """

    def __init__(
        self,
        detectors: Sequence[Detector] | None = None,
        *,
        combine: str = "second",
        target_fpr: float = 0.005,
        calibration_fraction: float = 0.2,
        random_state: int = 0,
    ):
        self.detectors = detectors
        self.combine = combine
        self.target_fpr = target_fpr
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    @classmethod
    def from_names(
        cls,
        names: Sequence[str] = DEFAULT_MEMBERS,
        *,
        params: dict[str, dict] | None = None,
        **ensemble_params,
    ) -> "Ensemble":
        """An ensemble of registered detectors by name, with optional per-member parameters.

        Members get the ensemble's ``random_state`` unless their ``params`` set one.
        """
        params = params or {}
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise EnsembleError(
                f"parameters given for {unknown}, which are not members {list(names)}"
            )
        seed = ensemble_params.get("random_state", 0)
        members = [make_detector(n, **{"random_state": seed, **params.get(n, {})}) for n in names]
        return cls(members, **ensemble_params)

    def get_params(self) -> dict:
        """Ensemble parameters and each member's parameters (JSON-able)."""
        members = self._members()
        return {
            "combine": self.combine,
            "target_fpr": self.target_fpr,
            "calibration_fraction": self.calibration_fraction,
            "random_state": self.random_state,
            "members": {d.name: d.get_params() for d in members},
        }

    def _members(self) -> list[Detector]:
        if self.detectors is None:
            return [make_detector(n, random_state=self.random_state) for n in DEFAULT_MEMBERS]
        names = [d.name for d in self.detectors]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise EnsembleError(f"member names must be distinct; repeated: {repeated}")
        if not names:
            raise EnsembleError("an ensemble needs at least one detector")
        return list(self.detectors)

    @property
    def libraries(self) -> tuple[str, ...]:
        """Distributions the fitted members depend on."""
        members = self.detectors_.values() if self.is_fitted else self._members()
        return tuple(sorted({lib for d in members for lib in d.libraries}))

    # ----------------------------------------------------------------- fitting

    def fit(self, X, *, calibration=None) -> "Ensemble":
        """Fit every member on the same normal rows and calibrate the combined threshold.

        Parameters
        ----------
        X
            Normal training features.
        calibration
            Normal rows to calibrate on, held out from every member's fit. Best the most
            recent days of history, so that the budget is set on behaviour closest to the
            days to be scored. By default a seeded ``calibration_fraction`` of ``X``.
        """
        if self.combine not in COMBINERS:
            raise EnsembleError(f"unknown combine {self.combine!r}; choose from {COMBINERS}")
        members = [clone(d) for d in self._members()]
        names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
        values = feature_matrix(X, names, None)
        if calibration is None:
            fit_rows, calibration_rows = calibration_split(
                len(values), self.calibration_fraction, self.random_state
            )
            fit_values, calibration_values = values[fit_rows], values[calibration_rows]
        else:
            fit_values = values
            calibration_values = feature_matrix(calibration, names, values.shape[1])
        fitted, seconds = {}, {}
        for member in members:
            started = time.perf_counter()
            member.fit(fit_values, calibration=calibration_values)
            member.feature_names_in_ = names
            seconds[member.name] = round(time.perf_counter() - started, 3)
            fitted[member.name] = member
        self.detectors_ = fitted
        self.feature_names_in_ = names
        self.n_features_in_ = values.shape[1]
        self.fit_seconds_ = seconds
        self.drift_reference_ = DriftReference.fit(values, names)
        self._set_calibration()
        return self

    def calibrate(self, X) -> "Ensemble":
        """Re-derive every member's normal distribution and the threshold from normal rows.

        Holds the alert budget on recent behaviour without retraining: pass the trailing
        days' normal (unflagged) events, which the members were not fitted on.
        """
        values = self._input(X)
        for member in self.detectors_.values():
            member.calibrate(values)
        self._set_calibration()
        return self

    def _set_calibration(self) -> None:
        surprises = np.column_stack(
            [
                surprise(d.calibration_scores_, d.reference_scores_)
                for d in self.detectors_.values()
            ]
        )
        self.calibration_scores_ = combine_surprises(surprises, self.combine)
        self.threshold_ = calibrate(self.calibration_scores_, self.target_fpr)

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` (or ``load``) has run."""
        return hasattr(self, "threshold_")

    def _input(self, X) -> np.ndarray:
        if not self.is_fitted:
            raise NotFittedError("this ensemble is not fitted yet: call fit(X) first")
        return feature_matrix(X, self.feature_names_in_, self.n_features_in_)

    # ----------------------------------------------------------------- scoring

    def contributions(self, X) -> pd.DataFrame:
        """Each member's normalised score (surprise, ``-log10`` tail probability) per row.

        Columns are member names, the index is ``X``'s (or positions for an array).
        """
        columns = self.member_surprises(X)
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(self._input(X)))
        return pd.DataFrame(columns, index=index)

    def member_surprises(self, X) -> dict[str, np.ndarray]:
        """:meth:`contributions` as one array per member, without a frame around them.

        Rows of two scoring chunks or more are scored a chunk at a time by every member, its
        surprises included, on the scoring threads (:func:`run_in_parts`): the chunks every
        member's ``score_samples`` scores, checked once for the ensemble, and with no wait
        between one member and the next, nor for the surprises. Fewer rows go member by member.
        """
        values = self._input(X)
        if len(values) < 2 * SCORE_CHUNK_ROWS:
            return {name: surprise(d.score_samples(values), d.reference_scores_) for name, d in self.detectors_.items()}
        surprises = {name: np.empty(len(values)) for name in self.detectors_}

        def score_chunk(start: int, stop: int) -> None:
            for name, detector in self.detectors_.items():
                surprises[name][start:stop] = surprise(detector._score(values[start:stop]), detector.reference_scores_)

        run_in_parts(len(values), SCORE_CHUNK_ROWS, score_chunk)
        return surprises

    def score_samples(self, X) -> np.ndarray:
        """Combined score per row, higher = more anomalous."""
        return self.combined(self.contributions(X))

    def combined(self, contributions: pd.DataFrame) -> np.ndarray:
        """The combined score of already computed :meth:`contributions`."""
        return combine_surprises(contributions.to_numpy(dtype=np.float64), self.combine)

    def combined_surprises(self, surprises: dict[str, np.ndarray]) -> np.ndarray:
        """The combined score of :meth:`member_surprises`."""
        return combine_surprises(np.column_stack(list(surprises.values())), self.combine)

    def predict(self, X) -> np.ndarray:
        """1 where the combined score is strictly above ``threshold_``, else 0."""
        return (self.score_samples(X) > self.threshold_).astype(np.int8)

    def feature_contributions(self, X) -> dict[str, pd.DataFrame]:
        """Per-feature contributions of the members that decompose their score over features."""
        out = {}
        for name, d in self.detectors_.items():
            try:
                out[name] = d.feature_contributions(X)
            except NotImplementedError:
                continue
        return out

    # ----------------------------------------------------------------- persistence

    def save(self, path) -> None:
        """Write the fitted ensemble and its members to folder ``path``."""
        if not self.is_fitted:
            raise NotFittedError("this ensemble is not fitted yet: call fit(X) first")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for name, member in self.detectors_.items():
            member.save(folder / MEMBERS_FOLDER / name)
        description = {
            "format": ENSEMBLE_FORMAT,
            "members": list(self.detectors_),
            "combine": self.combine,
            "target_fpr": self.target_fpr,
            "calibration_fraction": self.calibration_fraction,
            "random_state": self.random_state,
            "feature_names": self.feature_names_in_,
            "n_features": self.n_features_in_,
            "threshold": self.threshold_,
            "fit_seconds": self.fit_seconds_,
            "drift_reference": self.drift_reference_.to_dict(),
        }
        (folder / ENSEMBLE_FILE).write_text(json.dumps(description, indent=2))
        np.save(folder / CALIBRATION_FILE, self.calibration_scores_, allow_pickle=False)

    @classmethod
    def load(cls, source: VerifiedArtifacts) -> "Ensemble":
        """Read an ensemble written by :meth:`save`, from artifacts the registry verified
        (:meth:`ztad.detection.registry.ModelRegistry.load`), never from a bare path."""
        folder = verified_folder(source)
        file = folder / ENSEMBLE_FILE
        if not file.is_file():
            raise EnsembleError(f"{folder} is not a saved ensemble: {ENSEMBLE_FILE} is missing")
        description = json.loads(file.read_text())
        if description.get("format") != ENSEMBLE_FORMAT:
            raise EnsembleError(
                f"{file} has format {description.get('format')!r}; this ztad reads format "
                f"{ENSEMBLE_FORMAT}. Retrain the model"
            )
        members = {}
        for name in description["members"]:
            member = source.child(f"{MEMBERS_FOLDER}/{name}")
            if read_description(member.folder)["name"] != name:
                raise EnsembleError(f"{member.folder} does not hold the {name!r} member")
            members[name] = load_detector(member)
        ensemble = cls(
            list(members.values()),
            combine=description["combine"],
            target_fpr=description["target_fpr"],
            calibration_fraction=description["calibration_fraction"],
            random_state=description["random_state"],
        )
        ensemble.detectors_ = members
        ensemble.feature_names_in_ = description["feature_names"]
        ensemble.n_features_in_ = int(description["n_features"])
        ensemble.fit_seconds_ = description["fit_seconds"]
        ensemble.drift_reference_ = DriftReference.from_dict(description["drift_reference"])
        ensemble.calibration_scores_ = np.load(folder / CALIBRATION_FILE, allow_pickle=False)
        ensemble.threshold_ = float(description["threshold"])
        return ensemble
