"""SeenEvents: duplicates and repeated ids told batch by batch as for the whole day at once."""

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from ztad.ingest import ids
from ztad.ingest.seen import SeenEvents, content_keys, id_keys


def whole_day(keys: np.ndarray, contents: np.ndarray, rows: np.ndarray):
    """The whole-day rule (load_day's): copies of an earlier (id, content) are duplicates; of
    the rest, an id seen before is repeated, and names its first row."""
    frame = pd.DataFrame({"k0": keys[:, 0], "k1": keys[:, 1], "c0": contents[:, 0], "c1": contents[:, 1]})
    duplicate = frame.duplicated(keep="first").to_numpy()
    rest = frame[~duplicate]
    repeated = np.zeros(len(frame), dtype=bool)
    repeated[np.flatnonzero(~duplicate)] = rest.duplicated(["k0", "k1"], keep="first").to_numpy()
    first_at = rest.reset_index().groupby(["k0", "k1"])["index"].min()
    firsts = first_at.reindex(pd.MultiIndex.from_arrays([frame["k0"][repeated], frame["k1"][repeated]])).to_numpy()
    return duplicate, repeated, rows[firsts]


@pytest.mark.parametrize("colliding", [False, True])
def test_batches_give_the_whole_day_answer(colliding):
    rng = np.random.default_rng(3)
    n = 3000
    event = rng.integers(0, 1200, n).astype(np.uint64)  # many copies and repeats
    content = np.where(rng.random(n) < 0.2, rng.integers(0, 3, n), 0).astype(np.uint64)
    mixed = (event * np.uint64(0x9E3779B97F4A7C15)) & np.uint64(2**64 - 1)
    keys = np.column_stack([event % np.uint64(400) if colliding else mixed, event])  # equal first halves
    contents = np.column_stack([keys[:, 0] + content, keys[:, 1]])
    rows = np.arange(2, n + 2, dtype=np.int64)
    seen = SeenEvents()
    bounds = np.unique(np.concatenate([[0, n], rng.integers(0, n, 150)]))  # ~150 batches of any size
    verdicts = [seen.sort_out(keys[a:b], contents[a:b], 0, rows[a:b]) for a, b in pairwise(bounds)]
    duplicate, repeated, first_rows = whole_day(keys, contents, rows)
    assert np.array_equal(np.concatenate([v.duplicate for v in verdicts]), duplicate)
    assert np.array_equal(np.concatenate([v.repeated for v in verdicts]), repeated)
    assert np.array_equal(np.concatenate([v.first_row for v in verdicts]), first_rows)
    assert duplicate.sum() > 1000 and repeated.sum() > 100


def test_derived_ids_are_their_own_keys_and_other_ids_are_hashed():
    events = pd.DataFrame({
        "timestamp": pd.to_datetime(["2024-03-01T08:00:00Z", "2024-03-01T09:00:00Z"]),
        "user_id": ["alice", "bob"], "ip_address": ["10.0.0.1", "10.0.0.2"], "login_success": [True, False],
    })
    from ztad.schema import conform

    events = conform(events.assign(bytes_transferred=0, source_row=[2, 3]))
    events["event_id"] = ids.derive_event_ids(events)
    derived = id_keys(events["event_id"], all_derived=True)
    assert np.array_equal(derived, ids.content_hashes(events))
    assert np.array_equal(id_keys(events["event_id"]), derived)
    assert np.array_equal(content_keys(events, derived), derived)
    given = id_keys(pd.Series(["okta-1", "okta-2", "okta-1", "ABCDEF0123456789ABCDEF0123456789"], dtype="string"))
    assert np.array_equal(given[0], given[2]) and not np.array_equal(given[0], given[1])
    assert given.dtype == np.uint64 and given.shape == (4, 2)
