"""Robust standardisation for detectors that measure distances (One-Class SVM, autoencoder).

Behavioural features are heavy-tailed counts and ratios beside 0/1 flags and near-normal
scores. On a heavy-tailed feature the normal tail alone spans tens of robust units, so a
distance-based model spends itself on ordinary large values; such features are compressed with
a signed ``log1p`` (monotone: order and sign are kept). A feature counts as heavy-tailed when
its 0.1 % or 99.9 % quantile lies more than :data:`HEAVY_TAIL_RATIO` interquartile ranges from
the median (a normal distribution gives 2.3, a Poisson count of mean 2 gives 3, a log-normal
ratio of sigma 0.6 gives 6.5); features that are not stay linear, so a value 9 standard
deviations out still looks 9 deviations out.

Every feature is then centred on its median and divided by a robust spread: the
interquartile range over 1.349 (the standard deviation of a normal distribution), else the
standard deviation (flags whose quartiles coincide), else 1 (constant features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IQR_TO_SIGMA = 1.349
HEAVY_TAIL_RATIO = 4.0


def compress(values: np.ndarray) -> np.ndarray:
    """Signed ``log1p``: tames heavy tails while keeping order and sign."""
    return np.sign(values) * np.log1p(np.abs(values))


def heavy_tailed(values: np.ndarray) -> np.ndarray:
    """Per column, whether an extreme quantile lies far from the median in IQR units."""
    low, q1, median, q3, high = np.percentile(values, [0.1, 25, 50, 75, 99.9], axis=0)
    reach = np.maximum(high - median, median - low)
    iqr = q3 - q1
    # A column whose quartiles coincide but which still varies (flags, mostly-zero counts)
    # is as heavy-tailed as it gets.
    return np.where(iqr > 0, reach > HEAVY_TAIL_RATIO * np.where(iqr > 0, iqr, 1.0), reach > 0)


@dataclass
class FeatureScaler:
    """Per-feature compression choice, centre and spread, learned on normal training rows."""

    compressed: np.ndarray
    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> "FeatureScaler":
        """Choose which columns to compress, then learn their median and robust spread."""
        compressed = heavy_tailed(values)
        shaped = np.where(compressed, compress(values), values)
        q1, median, q3 = np.percentile(shaped, [25, 50, 75], axis=0)
        spread = (q3 - q1) / IQR_TO_SIGMA
        spread = np.where(spread > 0, spread, shaped.std(axis=0))
        spread = np.where(spread > 0, spread, 1.0)
        return cls(
            compressed=compressed,
            center=median.astype(np.float64),
            scale=spread.astype(np.float64),
        )

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardised values (float64).

        Worked out in one array, in place: the operations on every value are those of
        choosing between the compressed and the plain values whole, then centring and
        scaling (the same bits), without a temporary array for each step.
        """
        values = np.asarray(values, dtype=np.float64)
        shaped = np.abs(values)
        np.log1p(shaped, out=shaped)
        shaped *= np.sign(values)
        np.copyto(shaped, values, where=~self.compressed)
        shaped -= self.center
        shaped /= self.scale
        return shaped

    def to_dict(self) -> dict:
        """JSON-able form."""
        return {
            "compressed": self.compressed.tolist(),
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, payload: dict) -> "FeatureScaler":
        """Inverse of :meth:`to_dict`."""
        return cls(
            compressed=np.asarray(payload["compressed"], dtype=bool),
            center=np.asarray(payload["center"], dtype=np.float64),
            scale=np.asarray(payload["scale"], dtype=np.float64),
        )
