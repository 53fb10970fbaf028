"""Text context columns are the categoricals pandas would build, with dtypes built once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ztad.behaviour.features.categories import (
    categorical,
    categories_dtype,
    from_codes,
    sorted_codes,
    used_categorical,
)


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["Europe/Madrid", None, "America/New_York", "Europe/Madrid"], dtype="string"),
        pd.Series([None, None], dtype="string"),
        pd.Series([], dtype="string"),
        np.array(["resource group 2", None, "finance"], dtype=object),
        np.array([None], dtype=object),
    ],
)
def test_categorical_is_pandas_categorical_of_the_values(values):
    expected = pd.Categorical(values)
    built = categorical(values)
    assert built.dtype == expected.dtype and built.categories.dtype == expected.categories.dtype
    pd.testing.assert_series_equal(pd.Series(built), pd.Series(expected))


def test_from_codes_is_pandas_from_codes_and_the_dtype_is_built_once():
    categories = pd.Index(["user_resource", "user", "peer_resource"])
    codes = np.array([2, -1, 0, 0])
    expected = pd.Categorical.from_codes(codes, categories=categories)
    pd.testing.assert_series_equal(pd.Series(from_codes(codes, categories)), pd.Series(expected))
    assert categories_dtype(categories) is categories_dtype(pd.Index(list(categories)))
    assert categories_dtype(categories) is not categories_dtype(pd.Index(["user"]))


@pytest.mark.parametrize(
    "codes",
    [[2, -1, 0, 2, 3], [-1, -1], [], [1] * 100, list(range(4)) * 30],
)
def test_used_categorical_is_the_categorical_of_the_coded_values(codes):
    codes_in, vocabulary = sorted_codes(np.array(["legal", None, "finance", "it", "sales", "it"], dtype=object))
    assert vocabulary.tolist() == ["finance", "it", "legal", "sales"]
    assert codes_in.tolist() == [2, -1, 0, 1, 3, 1, -1]  # the last for position -1
    codes = np.asarray(codes, dtype="int64")
    values = np.array([vocabulary[c] if c >= 0 else None for c in codes], dtype=object)
    found, expected = used_categorical(codes, vocabulary), categorical(values)
    assert found.categories.equals(expected.categories) and found.categories.dtype == expected.categories.dtype
    assert found.codes.tolist() == expected.codes.tolist()
