"""Values are coded by their position in an index, nulls and unknown values as -1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ztad.behaviour.baselines.arrays import codes_in


@pytest.mark.parametrize("dtype", ["string", object])
def test_codes_are_positions_in_the_index_and_minus_one_for_unknown_or_null(dtype):
    index = pd.Index(["carol", "alice", "bob"], dtype=dtype)
    values = pd.Series(["bob", None, "alice", "mallory", "bob", "carol"], dtype="string")
    assert codes_in(index, values).tolist() == [2, -1, 1, -1, 2, 0]
    assert codes_in(index, values.astype(object)).tolist() == [2, -1, 1, -1, 2, 0]


def test_codes_of_nothing_and_against_an_empty_index_are_minus_one():
    values = pd.Series(["a", None], dtype="string")
    assert codes_in(pd.Index([], dtype="string"), values).tolist() == [-1, -1]
    assert codes_in(pd.Index(["a"], dtype="string"), values.iloc[:0]).tolist() == []
    assert codes_in(pd.Index(["a"], dtype="string"), pd.Series([None, None], dtype="string")).tolist() == [-1, -1]


def test_codes_match_get_indexer_on_a_large_index():
    rng = np.random.default_rng(3)
    index = pd.Index(np.unique(rng.integers(0, 50_000, 20_000).astype(str)), dtype="string")
    values = pd.Series(rng.integers(0, 60_000, 100_000).astype(str), dtype="string")
    assert np.array_equal(codes_in(index, values), index.get_indexer(values))


def test_a_numeric_index_is_looked_up_by_value():
    assert codes_in(pd.Index([10, 20, 30]), pd.Series([30, 5, 10])).tolist() == [2, -1, 0]
