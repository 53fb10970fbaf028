"""Feature drift between the training rows of a model and a new day: population stability index.

For each feature, the training rows are cut into bins at their own quantiles (ties merged, so a
0/1 flag gets two bins) and the PSI compares the share of rows per bin::

    PSI = sum over bins of (new share - training share) * ln(new share / training share)

Shares are floored at :data:`SHARE_FLOOR` so that an empty bin gives a large but finite value.
The usual reading: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a significant
shift (:data:`DEFAULT_PSI_THRESHOLD`), which is when the retrain policy retrains.

:class:`DriftReference` keeps only the bin edges and shares, so a saved model carries what it
needs to measure drift without its training rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

DEFAULT_BINS = 10
DEFAULT_PSI_THRESHOLD = 0.25
SHARE_FLOOR = 1e-4


def _interior_edges(column: np.ndarray, bins: int) -> np.ndarray:
    quantiles = np.quantile(column, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    return np.unique(quantiles)


def _bin_shares(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # side="left": bin i holds (edges[i-1], edges[i]], so a flag's 0s and 1s land apart.
    positions = np.searchsorted(edges, column, side="left")
    return np.bincount(positions, minlength=edges.size + 1) / max(column.size, 1)


class FeatureColumns(Protocol):
    """A day's features as the drift check reads them, one column at a time: a DataFrame, or
    a reader of a work file that holds only the column asked for."""

    def __len__(self) -> int: ...

    def __getitem__(self, name: str): ...


@dataclass
class DriftReference:
    """Quantile bins of each training feature and the share of training rows in each bin."""

    feature_names: list[str]
    edges: list[np.ndarray]
    shares: list[np.ndarray]
    rows: int

    @classmethod
    def fit(cls, X, feature_names: list[str] | None = None, bins: int = DEFAULT_BINS):
        """Learn bins and shares from training features (DataFrame or 2-D array)."""
        from ztad.detection.detectors.base import feature_matrix

        if bins < 2:
            raise ValueError(f"bins must be at least 2, got {bins}")
        if isinstance(X, pd.DataFrame):
            feature_names = [str(c) for c in X.columns]
        values = feature_matrix(X, feature_names, None)
        names = feature_names or [f"x{i}" for i in range(values.shape[1])]
        edges = [_interior_edges(values[:, j], bins) for j in range(values.shape[1])]
        shares = [_bin_shares(values[:, j], e) for j, e in enumerate(edges)]
        return cls(feature_names=names, edges=edges, shares=shares, rows=len(values))

    def psi(self, X) -> pd.Series:
        """Population stability index of each feature of ``X`` against the training rows.

        Raises
        ------
        ztad.detection.detectors.FeatureMismatchError
            When ``X`` does not have the training features.
        """
        from ztad.detection.detectors.base import feature_matrix

        names = self.feature_names if isinstance(X, pd.DataFrame) else None
        values = feature_matrix(X, names, len(self.feature_names))
        psi = [
            _psi(self.shares[j], _bin_shares(values[:, j], self.edges[j]))
            for j in range(values.shape[1])
        ]
        return pd.Series(psi, index=self.feature_names, name="psi", dtype="float64")

    def column_psi(self, name: str, values) -> float:
        """Population stability index of one feature's ``values`` (a Series or an array of
        the day) against the training rows: what :meth:`psi` gives for that feature, without
        the day's other features beside it.

        Raises
        ------
        ztad.detection.detectors.InvalidFeaturesError
            On non-numeric, NaN or infinite values.
        """
        from ztad.detection.detectors.base import feature_matrix

        j = self.feature_names.index(name)
        column = feature_matrix(pd.DataFrame({name: values}), [name], 1)[:, 0]
        return _psi(self.shares[j], _bin_shares(column, self.edges[j]))

    def to_dict(self) -> dict:
        """JSON-able form."""
        return {
            "feature_names": self.feature_names,
            "edges": [e.tolist() for e in self.edges],
            "shares": [s.tolist() for s in self.shares],
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, payload: dict) -> "DriftReference":
        """Inverse of :meth:`to_dict`."""
        return cls(
            feature_names=list(payload["feature_names"]),
            edges=[np.asarray(e, dtype=np.float64) for e in payload["edges"]],
            shares=[np.asarray(s, dtype=np.float64) for s in payload["shares"]],
            rows=int(payload["rows"]),
        )


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.maximum(expected, SHARE_FLOOR)
    actual = np.maximum(actual, SHARE_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def population_stability_index(reference, current, bins: int = DEFAULT_BINS) -> pd.Series:
    """PSI of each feature of ``current`` against ``reference`` (bins from the reference).

    Parameters
    ----------
    reference
        Training features (DataFrame or 2-D array).
    current
        New features with the same columns.
    bins
        Quantile bins cut from the reference (fewer where values tie).
    """
    return DriftReference.fit(reference, bins=bins).psi(current)
