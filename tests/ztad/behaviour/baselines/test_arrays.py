"""Values are coded by their position in an index, nulls and unknown values as -1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ztad.behaviour.baselines.arrays import codes_in, latest_rows, stable_order, text_codes


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


_WORDS = ["", " ", "Madrid, Spain", "madrid, spain", "Zürich", "é", "B", "b", "10.0.0.1", "日本", "\U0001f600"]


@pytest.mark.parametrize("sort", [False, True])
@pytest.mark.parametrize("size", [0, 1, 2, 50, 64, 65, 500])
@pytest.mark.parametrize("nulls", [0.0, 0.3, 1.0])
def test_text_codes_are_what_pandas_factorize_gives(sort, size, nulls):
    rng = np.random.default_rng(size)
    values = [None if rng.random() < nulls else str(rng.choice(_WORDS)) for _ in range(size)]
    series = pd.Series(values, dtype="string", index=np.arange(size) * 3)
    codes, uniques = text_codes(series, sort=sort)
    expected_codes, expected_uniques = pd.factorize(series, sort=sort, use_na_sentinel=True)
    assert codes.dtype == np.int64 and codes.tolist() == expected_codes.tolist()
    assert uniques.dtype == object and uniques.tolist() == expected_uniques.tolist()


def test_text_codes_of_text_in_several_arrow_chunks_and_of_other_values():
    import pyarrow as pa

    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([["b", None, "a"], ["a", "c", None]])))
    assert text_codes(chunked)[0].tolist() == [0, -1, 1, 1, 2, -1]
    assert text_codes(chunked, sort=True)[1].tolist() == ["a", "b", "c"]
    codes, uniques = text_codes(np.array(["x", None, "x"], dtype=object))
    assert codes.tolist() == [0, -1, 0] and uniques.tolist() == ["x"]


_NAMES = ["admin", "root", "madrid, spain", "i̇stanbul", "straße", "x"]
_CASED = ["Admin", " ROOT\t", "root ", "Madrid, Spain", "İstanbul", "STRASSE", "Straße", "\x85x\u3000", "X", "", None]


@pytest.mark.parametrize("strip", [False, True])
@pytest.mark.parametrize("size", [1, 3, 64, 65, 300])
def test_lowered_in_is_what_the_pandas_string_methods_give(strip, size):
    from ztad.behaviour.baselines.arrays import lowered_in

    rng = np.random.default_rng(size)
    for ascii_only in (True, False):
        words = [w for w in _CASED if w is None or w.isascii() or not ascii_only]
        values = pd.Series([words[i] for i in rng.integers(0, len(words), size)], dtype="string")
        text = values.str.strip() if strip else values
        expected = text.str.lower().isin(_NAMES).fillna(False).to_numpy(dtype=bool)
        found = lowered_in(values, set(_NAMES), strip=strip)
        assert found.dtype == bool and found.tolist() == expected.tolist()


@pytest.mark.parametrize("keys", [
    np.random.default_rng(5).integers(0, 1_000, 100_000),  # many ties
    np.random.default_rng(6).integers(0, 2**40, 100_000).astype("uint64"),
    np.random.default_rng(7).integers(-5, 5, 1_000),  # negative keys
    np.random.default_rng(8).integers(2**55, 2**62, 1_000),  # no room for row numbers
    np.array([3], dtype="int32"),
    np.array([], dtype="int64"),
])
def test_the_stable_order_of_keys_is_argsorts(keys):
    order = stable_order(keys)
    assert order.dtype.kind == "i" and np.array_equal(order, np.argsort(keys, kind="stable"))


def _latest_by_sorting(codes: np.ndarray, order_by: np.ndarray, n: int) -> np.ndarray:
    """Per code, the last row of those sorted by code and then (stably) by value."""
    out = np.full(n, -1, dtype="int64")
    rows = np.flatnonzero(~np.isnan(order_by))
    ordered = rows[np.lexsort((order_by[rows], codes[rows]))]
    ending = np.r_[codes[ordered][1:] != codes[ordered][:-1], True] if len(rows) else ordered
    out[codes[ordered][ending]] = ordered[ending]
    return out


@pytest.mark.parametrize("seed", range(5))
def test_the_latest_row_per_code_is_the_last_of_those_tied_on_the_largest_value(seed):
    rng = np.random.default_rng(seed)
    for rows in (0, 1, 7, 200):
        codes = rng.integers(0, 6, rows)
        values = rng.choice([np.nan, -np.inf, -0.0, 0.0, 1.0, 2.5, np.inf], rows)
        np.testing.assert_array_equal(latest_rows(codes, values, 8), _latest_by_sorting(codes, values, 8))


def test_the_latest_row_of_a_code_without_any_value_is_minus_one():
    codes = np.array([0, 1, 1, 2, 0])
    values = np.array([3.0, np.nan, np.nan, 1.0, 3.0])
    np.testing.assert_array_equal(latest_rows(codes, values, 4), [4, -1, 3, -1])
