"""The day's typical value of each model feature and how widely it varies around it.

A flagged event that no detector attributed is ranked, and its fallback sentence written, by how
far its features lie from the day's median, in interquartile ranges. Those two numbers per
feature are all the comparison needs of the day, so they are worked out one feature column at a
time, when first asked for: a large day's model inputs are never held whole, and a batch whose
every flagged row is attributed and explained never pays for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property

import numpy as np
import pandas as pd

#: The smallest spread a feature is measured in: a feature nearly constant over the day (an
#: interquartile range of 0) would otherwise make any other value infinitely far.
MIN_SPREAD = 0.1


class TypicalValues:
    """Per feature, the day's median (``median``) and interquartile range floored at
    :data:`MIN_SPREAD` (``spread``), each a Series indexed by feature name.

    ``column(name)`` gives the whole day's values of one feature (anything
    :class:`pandas.Series` takes); it is called once per name, when the values are first asked
    for, and its values are let go before the next name's are read.
    """

    def __init__(self, names: Iterable[str], column: Callable[[str], object]):
        self.names = list(names)
        self._column = column

    @classmethod
    def of_frame(cls, frame: pd.DataFrame, names: Iterable[str] | None = None) -> TypicalValues:
        """The typical values of ``frame``'s columns ``names`` (those of the model's features
        it holds, by default)."""
        from ztad.behaviour.features import FEATURE_NAMES

        wanted = [n for n in FEATURE_NAMES if n in frame.columns] if names is None else list(names)
        return cls(wanted, lambda name: frame[name])

    @cached_property
    def _summary(self) -> tuple[pd.Series, pd.Series]:
        medians, spreads = {}, {}
        for name in self.names:
            medians[name], lower, upper = median_and_quartiles(self._column(name))
            spreads[name] = upper - lower
        median = pd.Series(medians, index=self.names, dtype="float64")
        spread = pd.Series(spreads, index=self.names, dtype="float64").clip(lower=MIN_SPREAD)
        return median, spread

    @property
    def median(self) -> pd.Series:
        """The day's median of each feature."""
        return self._summary[0]

    @property
    def spread(self) -> pd.Series:
        """The day's interquartile range of each feature, at least :data:`MIN_SPREAD`."""
        return self._summary[1]

    def distance(self, rows: pd.DataFrame, names: list[str]) -> np.ndarray:
        """How far ``rows``' features ``names`` lie from the day's median, in spreads
        (rows x names)."""
        median, spread = self.median[names].to_numpy(), self.spread[names].to_numpy()
        return np.abs(rows[names].to_numpy(np.float64) - median) / spread


#: The quartiles a spread is measured between.
QUARTILES = np.array([0.25, 0.75])


def median_and_quartiles(column: object) -> tuple[float, float, float]:
    """The median and the lower and upper quartiles of ``column``'s values, missing ones left
    out: the numbers pandas' ``median()`` and ``quantile(0.25)``/``quantile(0.75)`` give, to
    the bit, from one sort of the values instead of a selection pass each."""
    values = pd.Series(column)
    present = np.sort(values.dropna().to_numpy()) if values.dtype == np.float64 else values.iloc[:0]
    if len(present) == 0:  # other types (and no values) as pandas converts them
        return values.median(), values.quantile(0.25), values.quantile(0.75)
    lower, upper = _linear_quantiles(present, QUARTILES)
    return _sorted_median(present), lower, upper


def _sorted_median(ordered: np.ndarray) -> float:
    """The median of sorted values, as :func:`numpy.median` computes it: the middle value, or
    the mean of the middle two."""
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def _linear_quantiles(ordered: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """The ``quantiles`` of sorted values, interpolated linearly between the order statistics
    around each as :func:`numpy.quantile` does (its default method, which pandas uses):
    the same neighbours, weight and rounding."""
    count = len(ordered)
    position = (count - 1) * quantiles
    below = np.floor(position)
    above = below + 1
    at_end = position >= count - 1  # the last value itself (numpy's index -1)
    below[at_end], above[at_end] = -1, -1
    weight = position - below
    low, high = ordered[below.astype(np.intp)], ordered[above.astype(np.intp)]
    step = high - low
    result = low + step * weight
    np.subtract(high, step * (1 - weight), out=result, where=weight >= 0.5)
    return result
