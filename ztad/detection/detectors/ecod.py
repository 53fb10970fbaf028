"""Empirical tail probabilities per feature, combined (ECOD, Li et al. 2022).

A cheap and transparent detector: for each feature, how rare is a value at least this extreme
among normal training rows? With ``F`` the empirical distribution of one feature, the left and
right tail probabilities of a value ``x`` are ``P(X <= x)`` and ``P(X >= x)``, smoothed as
``(count + 1) / (n + 1)`` so that a value beyond every training value stays finite. The row's
score is the largest of three sums of ``-log`` tail probabilities over the features: all left
tails, all right tails, and each feature's tail on the side its training distribution is
skewed towards. Each feature's term (on its skewed side) is its contribution, so an alert can
say which features were rare and how rare.

No scaling is needed (only ranks matter), and 0/1 flags work as they are: a flag set on 1 % of
normal rows contributes ``-log(0.01)`` when set.

Scoring reads both tails of a value from one search among the feature's distinct reference
values (:class:`TailTables`): the counts below and above each distinct value, and the
``-log`` tail probability of every count, are taken once per model, so a value's two
surprises are look-ups (the same numbers as two searches among every reference value and two
logarithms).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.detection.detectors.base import Detector

REFERENCE_FILE = "ecod_reference.npy"


def _skewness(values: np.ndarray) -> np.ndarray:
    centred = values - values.mean(axis=0)
    second = (centred**2).mean(axis=0)
    third = (centred**3).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = third / second**1.5
    return np.where(second > 0, skew, 0.0)


@dataclass(frozen=True)
class TailTables:
    """One feature's reference as look-up tables: its distinct values, and for a value found
    at position ``i`` among them (``np.searchsorted(values, x, side="left")``), its ``-log``
    left tail probability ``left[i + (values[i] == x)]`` and right one ``right[i]``."""

    values: np.ndarray
    left: np.ndarray
    right: np.ndarray

    @classmethod
    def of(cls, column: np.ndarray) -> TailTables:
        """The tables of one sorted reference column."""
        n = len(column)
        values, counts = np.unique(column, return_counts=True)
        below = np.concatenate([[0], np.cumsum(counts)])  # reference values below values[i]
        surprise = np.log(n + 1.0) - np.log1p(np.arange(n + 1, dtype=np.float64))
        return cls(values=values, left=surprise[below], right=surprise[n - below])

    def surprises(self, x: np.ndarray, left_out: np.ndarray, right_out: np.ndarray) -> None:
        """Write the ``-log`` left and right tail probabilities of the values ``x``."""
        position = np.searchsorted(self.values, x, side="left")
        found = self.values[np.minimum(position, len(self.values) - 1)] == x
        left_out[...] = self.left[position + found]
        right_out[...] = self.right[position]


class ECODDetector(Detector):
    """Sum of per-feature empirical tail surprises (``-log`` tail probability).

    Parameters
    ----------
    max_reference_rows
        Cap on the normal rows kept as the reference distribution (a seeded sample beyond it).
        The smallest tail probability is ``1 / (rows + 1)``.
    target_fpr, calibration_fraction, random_state
        As for every detector (see :class:`ztad.detection.detectors.base.Detector`).

    Attributes
    ----------
    reference_ : np.ndarray
        Sorted reference values, one column per feature.
    right_tailed_ : np.ndarray
        Per feature, whether its training distribution is skewed right (anomalies are large).
    """

    name = "ecod"
    libraries = ("numpy",)
    rows_split_freely = True

    def __init__(
        self,
        *,
        max_reference_rows: int = 20_000,
        target_fpr: float = 0.01,
        calibration_fraction: float = 0.2,
        random_state: int = 0,
    ):
        self.max_reference_rows = max_reference_rows
        self.target_fpr = target_fpr
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def _fit_model(self, X: np.ndarray) -> None:
        if len(X) > self.max_reference_rows:
            rows = np.random.default_rng(self.random_state).choice(
                len(X), self.max_reference_rows, replace=False
            )
            X = X[np.sort(rows)]
        self.reference_ = np.sort(X, axis=0)
        self.right_tailed_ = _skewness(X) >= 0

    def _tail_surprises(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``-log`` left and right tail probabilities, rows x features (C-ordered, as ``X``).

        One vectorised search per feature column (features are few, rows are many), on the
        columns laid out one after the other: reading and writing a column of a row-major
        matrix strides across every row, which cost as much as the searches. The results are
        turned back to rows once, so that each row's sums add its features in the same order.
        """
        columns = np.asfortranarray(X)
        left = np.empty(X.shape, order="F")
        right = np.empty(X.shape, order="F")
        for j, tables in enumerate(self._tail_tables()):
            tables.surprises(columns[:, j], left[:, j], right[:, j])
        return np.ascontiguousarray(left), np.ascontiguousarray(right)

    def _tail_tables(self) -> list[TailTables]:
        """Per feature, its :class:`TailTables`, built once per fitted or loaded reference."""
        if getattr(self, "_tables_of", None) is not self.reference_:
            self._tables = [TailTables.of(column) for column in self.reference_.T]
            self._tables_of = self.reference_
        return self._tables

    def _skewed_side(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return np.where(self.right_tailed_, right, left)

    def _score(self, X: np.ndarray) -> np.ndarray:
        left, right = self._tail_surprises(X)
        sums = np.column_stack(
            [left.sum(axis=1), right.sum(axis=1), self._skewed_side(left, right).sum(axis=1)]
        )
        return sums.max(axis=1)

    def feature_contributions(self, X) -> pd.DataFrame:
        """Per row and feature, ``-log`` of the tail probability on the feature's skewed side."""
        left, right = self._tail_surprises(self._input(X))
        return self._feature_frame(self._skewed_side(left, right), X)

    def _state(self) -> dict:
        return {"right_tailed": self.right_tailed_.tolist()}

    def _load_state(self, state: dict) -> None:
        self.right_tailed_ = np.asarray(state["right_tailed"], dtype=bool)

    def _save_model(self, folder: Path) -> None:
        np.save(folder / REFERENCE_FILE, self.reference_, allow_pickle=False)

    def _load_model(self, folder: Path) -> None:
        self.reference_ = np.load(folder / REFERENCE_FILE, allow_pickle=False)
