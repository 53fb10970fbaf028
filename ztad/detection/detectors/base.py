"""The interface every ztad detector follows, and what all of them share.

A detector is a small adapter around one library model, in the style of scikit-learn and PyOD:

- ``__init__`` only stores hyperparameters (``get_params`` reads them back);
- :meth:`Detector.fit` learns from *normal* history and returns ``self``; learned attributes
  end in ``_``;
- :meth:`Detector.score_samples` gives continuous scores, **higher = more anomalous**;
- ``threshold_`` is calibrated at fit from the scores of normal training rows held out from the
  model (``calibration_fraction``) at the alert budget ``target_fpr``, so that
  :meth:`Detector.predict` flags about that share of normal events. Scores on rows the model
  was fitted on would be optimistic (too low) and the budget would be overspent;
- :meth:`Detector.save` / :meth:`Detector.load` write and read a folder.

Inputs are DataFrames of float64 features (their column names are remembered in
``feature_names_in_`` and checked on every later call) or 2-D numpy arrays.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from ztad.detection.threshold import calibrate

#: Version of the saved folder layout; bumped when it changes incompatibly. Format 2 holds no
#: pickle and no serialised network: skops files, ``.npy``/``.npz`` arrays and JSON only.
ARTIFACT_FORMAT = 2
#: Fewest training rows a detector accepts (it needs some to fit and some to calibrate).
MIN_TRAINING_ROWS = 20

#: Rows scored at once (a power of two, so that the One-Class SVM's kernel blocks stay the same
#: whether a day is scored in one chunk or several).
SCORE_CHUNK_ROWS = 131_072
#: Threads that score a large day's chunks side by side: the work of every detector (NumPy's
#: array operations, single-threaded BLAS, the trees' compiled walks) runs without Python's
#: lock, so each thread keeps a core busy.
SCORE_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
#: Fewest rows a thread is given when a call smaller than two chunks is split among threads.
#: A request's batch (up to 10,000 events) is scored on the calling thread: split, its parts
#: cost a third more CPU time in all (the threads contend for Python's lock and the cores) and,
#: on a machine other work keeps busy, took longer too.
MIN_THREAD_ROWS = 16_384

DETECTOR_FILE = "detector.json"
CALIBRATION_FILE = "calibration_scores.npy"


class DetectorError(ValueError):
    """A detector was used in a way it cannot serve."""


class NotFittedError(DetectorError):
    """The detector has not been fitted yet."""


class FeatureMismatchError(DetectorError):
    """The features given are not the ones the model was trained on."""


class InvalidFeaturesError(DetectorError):
    """The feature matrix holds values a detector cannot use (non-numeric, NaN, infinite)."""


class InsufficientDataError(DetectorError):
    """Too few training rows to fit and calibrate a detector."""


class ArtifactError(DetectorError):
    """A saved detector folder is missing, incomplete or of another kind or format."""


@dataclass(frozen=True)
class VerifiedArtifacts:
    """A local folder whose every file the model registry checked against the digests recorded
    when the model was trained (:meth:`ztad.detection.registry.ModelRegistry.load` makes it).

    Saved models are read from one of these only, never from a path: what a detector or an
    ensemble loads is always what the registry verified.
    """

    folder: Path
    version: str

    def child(self, relative: str) -> VerifiedArtifacts:
        """A sub-folder of the verified folder (an ensemble member's)."""
        return VerifiedArtifacts(Path(self.folder) / relative, self.version)


def verified_folder(source) -> Path:
    """The folder of verified artifacts; anything else (a path) is refused.

    Raises
    ------
    ArtifactError
        When ``source`` is not :class:`VerifiedArtifacts`.
    """
    if not isinstance(source, VerifiedArtifacts):
        raise ArtifactError(
            f"models are read only through the model registry, which checks every file against the "
            f"digests recorded at training: use ModelRegistry(...).load(version), not a path ({source!r})"
        )
    return Path(source.folder)


_POOL: ThreadPoolExecutor | None = None
_POOL_PREFIX = "ztad-score"
_POOL_LOCK = threading.Lock()


def _scoring_pool() -> ThreadPoolExecutor:
    """The process's :data:`SCORE_THREADS` scoring threads, started once: a service scores
    request after request, and starting threads for each would cost more than a small part."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(SCORE_THREADS, thread_name_prefix=_POOL_PREFIX)
    return _POOL


def stop_scoring_threads() -> None:
    """End the scoring threads, waiting for them (the next scoring starts new ones): a process
    forks a copy of itself only while no other thread runs
    (:func:`ztad.pipeline.forked_step.can_fork`), and these wait for work until the process ends."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True)


def _forget_pool() -> None:
    """In a forked child: the parent's scoring threads are not there, start new ones if needed."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _in_scoring_pool() -> bool:
    """Whether this is one of the scoring threads, which must not wait on their own pool."""
    return threading.current_thread().name.startswith(_POOL_PREFIX)


def run_in_parts(n_rows: int, part_rows: int, work: Callable[[int, int], None]) -> None:
    """Call ``work(start, stop)`` for the rows ``0..n_rows`` ``part_rows`` at a time: on the
    :data:`SCORE_THREADS` scoring threads, BLAS held to one thread for the whole run (the
    parts' threads share the cores), when there are two parts or more; else, or from a
    scoring thread (which must not wait on its own pool), one part after the other here."""
    from ztad.detection.detectors.blas_threads import one_blas_thread

    starts = range(0, n_rows, part_rows)
    if len(starts) < 2 or _in_scoring_pool():
        for start in starts:
            work(start, min(start + part_rows, n_rows))
        return
    with one_blas_thread():
        for _ in _scoring_pool().map(lambda start: work(start, min(start + part_rows, n_rows)), starts):
            pass


# --------------------------------------------------------------------------- input checks


def _first_bad_cell(values: np.ndarray, index: pd.Index | None, names: list[str]) -> str:
    """Where the first value that is not finite lies (``index`` ``None``: rows by position)."""
    index = pd.RangeIndex(len(values)) if index is None else index
    rows, cols = np.nonzero(~np.isfinite(values))
    row, col = rows[0], cols[0]
    count = len(rows)
    return (
        f"row {index[row]!r}, feature {names[col]!r}: value {values[row, col]!r} is not finite "
        f"({count} such cell(s) in all); detectors need finite numbers, so fill or drop missing "
        "values when building the features"
    )


def feature_matrix(X, expected_names: list[str] | None, n_features: int | None) -> np.ndarray:
    """Check ``X`` against what the model expects and return it as a float64 array.

    Parameters
    ----------
    X
        DataFrame of numeric features or 2-D array.
    expected_names
        Feature names seen at fit (``None`` when fitted on an array or not fitted yet).
    n_features
        Number of features seen at fit (``None`` when not fitted yet).

    Raises
    ------
    FeatureMismatchError
        When a DataFrame's columns are not the expected feature names, or the width differs.
    InvalidFeaturesError
        On non-numeric columns and on NaN or infinite values (naming the first bad cell).
    """
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        if expected_names is not None and names != expected_names:
            raise FeatureMismatchError(_mismatch_message(expected_names, names))
        non_numeric = [str(c) for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        if non_numeric:
            raise InvalidFeaturesError(
                f"feature column(s) {non_numeric} are not numeric; detectors take numeric "
                "behavioural features only"
            )
        index = X.index
        values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = np.asarray(X, dtype=np.float64)
        if values.ndim != 2:
            raise InvalidFeaturesError(
                f"expected a 2-D feature matrix (rows x features), got {values.ndim} dimension(s)"
            )
        index = None  # positions, only named in an error
        names = expected_names or [f"x{i}" for i in range(values.shape[1])]
    if n_features is not None and values.shape[1] != n_features:
        raise FeatureMismatchError(
            f"the model was trained on {n_features} features but got {values.shape[1]}"
        )
    if not np.isfinite(values).all():
        raise InvalidFeaturesError(_first_bad_cell(values, index, names))
    return np.ascontiguousarray(values)


def _mismatch_message(expected: list[str], got: list[str]) -> str:
    missing = [n for n in expected if n not in got]
    extra = [n for n in got if n not in expected]
    if not missing and not extra:
        return (
            "the features are the model's but in another order; select them as "
            "X[model.feature_names_in_]"
        )
    return (
        f"the features differ from those the model was trained on: missing {missing}, "
        f"unexpected {extra}. Select X[model.feature_names_in_], or retrain on the new features"
    )


def require_training_rows(n_rows: int) -> None:
    """Refuse training sets too small to fit and calibrate on."""
    if n_rows < MIN_TRAINING_ROWS:
        raise InsufficientDataError(
            f"{n_rows} training row(s); at least {MIN_TRAINING_ROWS} are needed to fit and "
            "calibrate a detector. Train on a longer history"
        )


def calibration_split(n_rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of row positions into (fit rows, calibration rows).

    ``fraction == 0`` calibrates on the fitted rows themselves (both parts are all rows).
    """
    require_training_rows(n_rows)
    if not 0.0 <= fraction < 1.0:
        raise DetectorError(f"calibration_fraction must be in [0, 1), got {fraction}")
    every = np.arange(n_rows)
    if fraction == 0.0:
        return every, every
    n_calibration = min(max(1, round(n_rows * fraction)), n_rows - 1)
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[n_calibration:]), np.sort(order[:n_calibration])


# --------------------------------------------------------------------------- the base class


class Detector:
    """Base class: the fit/score/threshold/save protocol; subclasses adapt one algorithm.

    Subclasses set :attr:`name` and implement ``_fit_model``, ``_score``, ``_save_model`` and
    ``_load_model``; their ``__init__`` takes keyword hyperparameters and stores them as is,
    including ``target_fpr``, ``calibration_fraction`` and ``random_state``.

    Attributes
    ----------
    feature_names_in_ : list[str] | None
        Feature names seen at fit (``None`` when fitted on an array).
    n_features_in_ : int
    calibration_scores_ : np.ndarray
        Scores of the held-out normal calibration rows, in row order.
    reference_scores_ : np.ndarray
        The same, sorted: the normal score distribution used for thresholds and ranks.
    threshold_ : float
        ``predict`` flags scores strictly above it.
    """

    name: ClassVar[str] = ""
    #: Distributions whose versions a saved model depends on (recorded by the registry).
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "scikit-learn")
    #: Whether a row's score has the same bits whatever rows are scored beside it (no matrix
    #: product over rows): a call of fewer rows than two chunks is then split among threads.
    rows_split_freely: ClassVar[bool] = False

    # ----------------------------------------------------------------- parameters

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.kind == p.KEYWORD_ONLY]

    @classmethod
    def _params_from_json(cls, params: dict) -> dict:
        """Undo JSON's turning tuples into lists, for parameters whose default is a tuple."""
        defaults = {
            p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
        }
        restored = dict(params)
        for key, value in params.items():
            if isinstance(defaults.get(key), tuple) and isinstance(value, list):
                restored[key] = tuple(value)
        return restored

    def get_params(self) -> dict:
        """Hyperparameters as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "Detector":
        """Change hyperparameters (takes effect at the next ``fit``)."""
        unknown = sorted(set(params) - set(self._param_names()))
        if unknown:
            raise DetectorError(
                f"{self.name} has no parameter(s) {unknown}; it takes {self._param_names()}"
            )
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ----------------------------------------------------------------- fitting

    def fit(self, X, *, calibration=None) -> "Detector":
        """Learn normal behaviour from ``X`` and calibrate the threshold.

        Parameters
        ----------
        X
            Normal training features (DataFrame or 2-D array).
        calibration
            Normal rows, with the same features, to calibrate the score distribution on.
            By default a seeded ``calibration_fraction`` of ``X`` is held out for it.

        Returns
        -------
        Detector
            ``self``, fitted.
        """
        names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
        values = feature_matrix(X, names, None)
        if calibration is None:
            fit_rows, calibration_rows = calibration_split(
                len(values), self.calibration_fraction, self.random_state
            )
            fit_values, calibration_values = values[fit_rows], values[calibration_rows]
        else:
            require_training_rows(len(values))
            fit_values = values
            calibration_values = feature_matrix(calibration, names, values.shape[1])
        self.feature_names_in_ = names
        self.n_features_in_ = values.shape[1]
        self._fit_model(fit_values)
        self._set_calibration(self._score_in_chunks(calibration_values))
        return self

    def calibrate(self, X) -> "Detector":
        """Re-derive the normal score distribution and ``threshold_`` from normal rows ``X``.

        For holding the alert budget on recent history without retraining: pass the trailing
        days' normal (unflagged) events, which the model was not fitted on. Scores of fitted
        rows would be optimistic and overspend the budget.
        """
        self._set_calibration(self.score_samples(X))
        return self

    def _set_calibration(self, scores: np.ndarray) -> None:
        self.calibration_scores_ = np.asarray(scores, dtype=np.float64)
        self.reference_scores_ = np.sort(self.calibration_scores_)
        self.threshold_ = calibrate(self.calibration_scores_, self.target_fpr)

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` (or ``load``) has run."""
        return hasattr(self, "threshold_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {self.name} detector is not fitted yet: call fit(X) first")

    def _input(self, X) -> np.ndarray:
        self._check_fitted()
        return feature_matrix(X, self.feature_names_in_, self.n_features_in_)

    # ----------------------------------------------------------------- scoring

    def score_samples(self, X) -> np.ndarray:
        """Anomaly score per row (float64), higher = more anomalous.

        Rows are scored :data:`SCORE_CHUNK_ROWS` at a time, so that a detector's working
        arrays (a kernel block, per-feature tail surprises, a reconstruction) stay the size of
        one chunk however large the day; each row's score does not depend on the others, so
        a day of several chunks is scored on :data:`SCORE_THREADS` threads, with the same
        result (a smaller call too, split into a part per thread, when the detector's bits do
        not depend on the rows beside: :attr:`rows_split_freely`).
        """
        return self._score_in_chunks(self._input(X))

    def _score_in_chunks(self, values: np.ndarray) -> np.ndarray:
        scores = np.empty(len(values), dtype=np.float64)

        def score_part(start: int, stop: int) -> None:
            scores[start:stop] = self._score(values[start:stop])

        run_in_parts(len(values), self._part_rows(len(values)), score_part)
        return scores

    def _part_rows(self, n_rows: int) -> int:
        """Rows scored by one call of ``_score``: a chunk, or for a detector whose rows split
        freely and a call of fewer than two chunks, an even part per thread."""
        if SCORE_THREADS < 2 or not self.rows_split_freely or n_rows >= 2 * SCORE_CHUNK_ROWS:
            return SCORE_CHUNK_ROWS
        return min(SCORE_CHUNK_ROWS, max(MIN_THREAD_ROWS, -(-n_rows // SCORE_THREADS)))

    def predict(self, X) -> np.ndarray:
        """1 where the score is strictly above ``threshold_``, else 0."""
        return (self.score_samples(X) > self.threshold_).astype(np.int8)

    # ----------------------------------------------------------------- persistence

    def save(self, path) -> None:
        """Write the fitted detector to folder ``path`` (created if needed)."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        description = {
            "format": ARTIFACT_FORMAT,
            "name": self.name,
            "params": self.get_params(),
            "feature_names": self.feature_names_in_,
            "n_features": self.n_features_in_,
            "threshold": self.threshold_,
            "state": self._state(),
        }
        (folder / DETECTOR_FILE).write_text(json.dumps(description, indent=2))
        np.save(folder / CALIBRATION_FILE, self.calibration_scores_, allow_pickle=False)
        self._save_model(folder)

    @classmethod
    def load(cls, source: VerifiedArtifacts) -> "Detector":
        """Read a detector saved with :meth:`save`, from artifacts the registry verified.

        Called on a detector class; :func:`ztad.detection.detectors.load_detector` reads a
        saved detector of any kind.

        Raises
        ------
        ArtifactError
            When ``source`` is a path rather than verified artifacts, or the folder is not a
            saved detector, is of another kind, or another format.
        """
        folder = verified_folder(source)
        description = read_description(folder)
        if not cls.name:
            raise DetectorError("load a saved detector of any kind with load_detector(path)")
        target = cls
        if description["name"] != target.name:
            raise ArtifactError(
                f"{folder} holds a {description['name']!r} detector, not {target.name!r}"
            )
        detector = target(**target._params_from_json(description["params"]))
        detector.feature_names_in_ = description["feature_names"]
        detector.n_features_in_ = int(description["n_features"])
        detector._load_state(description.get("state", {}))
        detector._load_model(folder)
        detector._set_calibration(np.load(folder / CALIBRATION_FILE, allow_pickle=False))
        detector.threshold_ = float(description["threshold"])
        return detector

    # ----------------------------------------------------------------- subclass hooks

    def _fit_model(self, X: np.ndarray) -> None:
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _save_model(self, folder: Path) -> None:
        raise NotImplementedError

    def _load_model(self, folder: Path) -> None:
        raise NotImplementedError

    def _state(self) -> dict:
        """Small JSON-able learned values kept in ``detector.json``."""
        return {}

    def _load_state(self, state: dict) -> None:
        """Restore what :meth:`_state` returned."""

    def feature_contributions(self, X) -> pd.DataFrame:
        """Per row and feature, how much each feature made the row unusual.

        Only detectors whose score decomposes over features provide it.
        """
        raise NotImplementedError(f"the {self.name} detector does not score per feature")

    def _feature_frame(self, values: np.ndarray, X) -> pd.DataFrame:
        """Wrap a rows x features array with the input's index and the model's names."""
        names = tuple(self.feature_names_in_ or [f"x{i}" for i in range(self.n_features_in_)])
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(values))
        return pd.DataFrame(values, index=index, columns=_column_index(names))


#: Column indexes of feature names, built once: a model's names come back call after call.
_COLUMN_INDEXES: dict[tuple[str, ...], pd.Index] = {}


def _column_index(names: tuple[str, ...]) -> pd.Index:
    """The column index of ``names``, shared (an index is never changed once built): pandas
    reads a list of names anew for every frame, most of the cost of a few rows' frame."""
    if names not in _COLUMN_INDEXES:
        if len(_COLUMN_INDEXES) >= 64:
            _COLUMN_INDEXES.clear()
        _COLUMN_INDEXES[names] = pd.Index(names)
    return _COLUMN_INDEXES[names]


def read_description(folder: Path) -> dict:
    """The ``detector.json`` of a saved detector folder, checked for kind and format."""
    path = Path(folder) / DETECTOR_FILE
    if not path.is_file():
        raise ArtifactError(f"{folder} is not a saved detector: {DETECTOR_FILE} is missing")
    description = json.loads(path.read_text())
    if description.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(
            f"{path} has artifact format {description.get('format')!r}; this ztad reads format "
            f"{ARTIFACT_FORMAT}. Retrain the model"
        )
    return description


def clone(detector: Detector) -> Detector:
    """An unfitted copy of ``detector`` with the same hyperparameters."""
    return type(detector)(**detector.get_params())
