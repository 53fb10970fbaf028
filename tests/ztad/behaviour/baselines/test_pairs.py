"""(owner, item) statistics are found by their sorted composite keys, whatever the order asked."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.pairs import pair_stats, sorted_positions


def test_sorted_positions_are_the_binary_search_of_every_needle():
    rng = np.random.default_rng(4)
    keys = np.unique(rng.integers(0, 10_000, 3_000))
    wanted = np.r_[rng.integers(-1, 10_050, 5_000), keys[[0, -1]], -1]
    assert np.array_equal(sorted_positions(keys, wanted), np.searchsorted(keys, wanted))
    assert sorted_positions(keys[:0], wanted).tolist() == [0] * len(wanted)


def test_find_gives_the_row_of_each_pair_and_minus_one_for_unseen_pairs():
    owners, items = np.array([2, 0, 2, 1, 0]), np.array([1, 1, 1, 0, 1])
    stats = pair_stats(owners, items, pd.Index(["a", "b"]), {"count": np.ones(5)})
    rows = stats.find(np.array([0, 2, 1, 1, -1, 2, 0]), np.array([1, 1, 0, 1, 0, -1, 0]))
    found = stats.get("count", rows, default=-1.0)
    assert found.tolist() == [2.0, 2.0, 1.0, -1.0, -1.0, -1.0, -1.0]
    assert (stats.owners()[rows[:3]] == [0, 2, 1]).all() and (stats.item_of()[rows[:3]] == [1, 1, 0]).all()


def test_get_reads_an_integer_column_as_float64_at_the_rows_asked_only():
    owners, items = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 0, 0, 1])
    stats = pair_stats(owners, items, pd.Index(["a", "b"]), {"count": np.ones(5)})
    assert stats.values["rows"].dtype == "int64"
    rows = stats.find(np.array([1, 0, 2, 1]), np.array([0, 1, 0, -1]))
    days = stats.get("rows", rows, default=0.5)
    assert days.dtype == "float64" and days.tolist() == [2.0, 1.0, 0.5, 0.5]
    empty = pair_stats(owners[:0], items[:0], pd.Index([]), {"count": np.ones(0)})
    assert empty.get("rows", np.array([-1, -1]), default=3.0).tolist() == [3.0, 3.0]
