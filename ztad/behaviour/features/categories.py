"""Text context columns as categoricals whose dtypes are built once per set of categories.

A categorical dtype checks its categories when it is built (distinct, no nulls), a fixed cost
that outweighs the rest of a context column for a request of a few events. The same sets come
back request after request (a time zone, a peer group, the places of the baseline), so each
set's dtype is kept and reused; the columns are the same as ``pandas.Categorical(values)``'s.
Codes worked out here are valid by construction and are not checked again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import few_objects, few_text_codes, few_texts, text_codes

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


def text_dtype(categories: np.ndarray) -> pd.CategoricalDtype:
    """The categorical dtype of ``categories`` (distinct texts, no nulls) as a ``string`` index,
    built once per set."""
    return _kept(str(TEXT), tuple(categories), lambda: pd.Index(categories, dtype=TEXT))


def categorical(values, missing_as: str | None = None) -> pd.Categorical:
    """``pandas.Categorical(values)``: the distinct values, sorted, as categories; nulls as
    missing, or as ``missing_as`` when given (``values.fillna(missing_as)`` first).

    Text (a ``string`` Series, or a few ``str`` in an object array) is coded without pandas
    (:func:`ztad.behaviour.baselines.arrays.text_codes`) and its categories looked up by their
    values: no index is built for a set seen before.
    """
    if missing_as is not None:
        texts = few_texts(values)
        if texts is None:
            return categorical(values.fillna(missing_as))
        codes, uniques = few_text_codes([missing_as if text is None else text for text in texts], sort=True)
        return pd.Categorical.from_codes(codes, dtype=text_dtype(uniques), validate=False)
    if isinstance(values, pd.Series) and values.dtype == TEXT:
        codes, uniques = text_codes(values, sort=True)
        dtype = _kept(str(values.dtype), tuple(uniques), lambda: pd.Index(uniques, dtype=values.dtype))
        return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    texts = few_objects(values)
    if texts is not None:  # a few Python texts: coded in Python, categories looked up by value
        codes, uniques = few_text_codes(texts, sort=True)
        dtype = _kept("objects", tuple(uniques), lambda: pd.Index(uniques))
        return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    return from_codes(codes, pd.Index(uniques))


def from_names(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical:
    """``from_codes(codes, pandas.Index(names))``, the index built once per set of names."""
    return pd.Categorical.from_codes(codes, dtype=_kept("names", names, lambda: pd.Index(list(names))))


def from_codes(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """``pandas.Categorical.from_codes(codes, categories=categories)`` (-1: missing)."""
    return pd.Categorical.from_codes(codes, dtype=categories_dtype(categories))


def sorted_codes(values) -> tuple[np.ndarray, np.ndarray]:
    """``pandas.factorize(values, sort=True)``: int64 codes (-1 for null) and the sorted distinct
    values as an object array, the vocabulary :func:`used_categorical` takes. The codes end
    with an extra -1, which position -1 (an unknown user, no peer group) reads as missing."""
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    return np.append(codes.astype("int64"), -1), np.asarray(uniques, dtype=object)


def used_categorical(codes: np.ndarray, vocabulary: np.ndarray) -> pd.Categorical:
    """``categorical(vocabulary[codes])`` (code -1: missing) for a sorted vocabulary of distinct
    values: the categories are the values the codes use, in the vocabulary's order.

    Per-user and per-group texts are coded once per baseline state; a request then reads its
    events' codes instead of hashing a thousand texts again.
    """
    present = codes >= 0
    used = np.unique(codes[present])
    dense = np.where(present, np.searchsorted(used, codes), -1)
    categories = vocabulary[used]
    dtype = _kept("objects", tuple(categories), lambda: pd.Index(categories))
    return pd.Categorical.from_codes(dense, dtype=dtype, validate=False)
