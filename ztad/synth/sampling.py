"""Vectorised draws from a different discrete distribution for every row.

Each user has their own mix of applications and devices. Drawing one item per event from
the event's user's distribution must not build an ``events x items`` matrix (a million events
times thirty resources is too much memory), so the per-row cumulative weights are laid end to
end, row ``r`` shifted by ``r``, and one ``searchsorted`` finds every draw.
"""

from __future__ import annotations

import numpy as np


def cumulative(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative distribution of non-negative ``weights`` (rows of zeros stay zero)."""
    weights = np.asarray(weights, dtype=np.float64)
    totals = weights.sum(axis=1, keepdims=True)
    cum = np.cumsum(weights / np.where(totals > 0, totals, 1.0), axis=1)
    cum[totals[:, 0] > 0, -1] = 1.0  # no rounding gap at the top
    return cum


def choose_per_row(cum: np.ndarray, rows: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Column index drawn from row ``rows[i]`` of the cumulative table ``cum`` by ``draws[i]``.

    Parameters
    ----------
    cum
        ``(n_rows, n_items)`` cumulative distributions, each ending at 1.0.
    rows
        Which distribution each draw uses.
    draws
        Uniform numbers in [0, 1), one per draw.
    """
    n_rows, n_items = cum.shape
    laid_out = (cum + np.arange(n_rows)[:, None]).ravel()
    rows = np.asarray(rows, dtype=np.int64)
    position = np.searchsorted(laid_out, rows + np.asarray(draws), side="right")
    return np.minimum(position - rows * n_items, n_items - 1)
