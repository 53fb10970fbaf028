"""Text context columns as categoricals whose dtypes are built once per set of categories.

A categorical dtype checks its categories when it is built (distinct, no nulls), a fixed cost
that outweighs the rest of a context column for a request of a few events. The same sets come
back request after request (a time zone, a peer group, the places of the baseline), so each
set's dtype is kept and reused; the columns are the same as ``pandas.Categorical(values)``'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import text_codes

#: Text as canonical events hold it.
TEXT = pd.StringDtype()

#: Sets of categories whose dtypes are kept; all are let go when there are more.
MAX_KEPT = 1024

_DTYPES: dict[tuple, pd.CategoricalDtype] = {}


def categories_dtype(categories: pd.Index) -> pd.CategoricalDtype:
    """The unordered categorical dtype of ``categories`` (distinct, no nulls), built once."""
    return _kept(str(categories.dtype), tuple(categories), lambda: categories)


def _kept(kind: str, values: tuple, categories) -> pd.CategoricalDtype:
    """The dtype kept for the categories ``values`` of dtype ``kind``; ``categories()`` builds
    their index the first time only."""
    key = (kind, values)
    dtype = _DTYPES.get(key)
    if dtype is None:
        if len(_DTYPES) >= MAX_KEPT:
            _DTYPES.clear()
        dtype = _DTYPES[key] = pd.CategoricalDtype(categories())
    return dtype


def categorical(values) -> pd.Categorical:
    """``pandas.Categorical(values)``: the distinct values, sorted, as categories; nulls as
    missing.

    Text (a ``string`` Series) is coded by :func:`ztad.behaviour.baselines.arrays.text_codes`
    and its categories looked up by their values: no index is built for a set seen before.
    """
    if isinstance(values, pd.Series) and values.dtype == TEXT:
        codes, uniques = text_codes(values, sort=True)
        dtype = _kept(str(values.dtype), tuple(uniques), lambda: pd.Index(uniques, dtype=values.dtype))
        return pd.Categorical.from_codes(codes, dtype=dtype)
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    return from_codes(codes, pd.Index(uniques))


def from_codes(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """``pandas.Categorical.from_codes(codes, categories=categories)`` (-1: missing)."""
    return pd.Categorical.from_codes(codes, dtype=categories_dtype(categories))
