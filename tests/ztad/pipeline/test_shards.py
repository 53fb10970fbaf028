"""Shards of users: a stable assignment by user id, valid counts and indices, folder names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ztad.pipeline import shards
from ztad.pipeline.shards import Shard, ShardError, all_shards, check_count, shard_of


def test_a_users_shard_is_fixed_for_good():
    ids = pd.Series(["u00001", "u00002", "alice", "bob@example.com", "CORP\\j.doe"])
    # Pinned: a change of the hash would move users between shards of running deployments.
    assert shard_of(ids, 4).tolist() == [2, 1, 0, 2, 3]
    assert shard_of(ids, 7).tolist() == [6, 6, 2, 6, 4]


def test_a_users_shard_does_not_depend_on_the_other_users_of_the_day():
    many = pd.Series([f"u{i:05d}" for i in range(500)])
    alone = np.array([shard_of(many.iloc[[i]], 5)[0] for i in (0, 17, 499)])
    assert alone.tolist() == shard_of(many, 5)[[0, 17, 499]].tolist()


def test_users_spread_evenly_over_the_shards():
    counts = np.bincount(shard_of(pd.Series([f"u{i:05d}" for i in range(10_000)]), 4), minlength=4)
    assert counts.min() > 2_300 and counts.max() < 2_700


def test_one_shard_holds_everyone():
    assert set(shard_of(pd.Series(["a", "b", "c"]), 1)) == {0}


@pytest.mark.parametrize("bad", [0, -1, shards.MAX_SHARDS + 1, 2.0, "4", True, None])
def test_a_bad_shard_count_is_refused(bad):
    with pytest.raises(ShardError, match="number of shards"):
        check_count(bad)


@pytest.mark.parametrize("index, count", [(4, 4), (-1, 4), (0, 0), ("1", 2)])
def test_a_shard_outside_its_day_is_refused(index, count):
    with pytest.raises(ShardError):
        Shard(index, count)


def test_a_shard_names_its_folder_and_travels_as_a_small_dict():
    shard = Shard(1, 4)
    assert shard.folder_name == "shard=002-of-004"
    assert str(shard) == "shard 2 of 4"
    assert Shard.from_dict(shard.as_dict()) == shard
    assert [s.index for s in all_shards(3)] == [0, 1, 2]
    with pytest.raises(ShardError, match="'index'"):
        Shard.from_dict({"shard": 1})
