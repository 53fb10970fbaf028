"""Teaching the baseline and the training set a scored day, one part of its users at a time.

A day's baseline aggregate is made of per-user tables (:class:`ztad.behaviour.baselines.DailyAggregate`),
and which of a user's events it learns depends on that user's events alone
(:func:`ztad.feedback.hour_only_alerts`), so the day can be cut into parts by user, each part
read, judged and aggregated on its own, and the parts' tables put together: a large day's
learnt event fields are never held whole. A day of at most :data:`LEARN_PART_ROWS` events is
one part, read and aggregated exactly as a whole. The training file is written afterwards,
in the day's order, from the rows the parts chose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

#: Events of a day learnt in one part: a larger day is cut into parts of about this many.
LEARN_PART_ROWS = 2_000_000
#: Rows of the events file read at once while assigning users to parts.
BATCH_ROWS = 65_536


def part_count(rows: int, part_rows: int = LEARN_PART_ROWS) -> int:
    """How many parts a day of ``rows`` events is learnt in."""
    return max(1, -(-rows // part_rows))


def user_parts(events_path: Path, parts: int) -> Iterator[np.ndarray]:
    """The sorted row positions of each part of the day's users: every event of a user falls
    in the same part (the user's shard of ``parts``, :func:`ztad.pipeline.shards.shard_of`)."""
    import pyarrow.parquet as pq

    from ztad.pipeline.shards import shard_of

    part_of = np.concatenate([
        shard_of(batch.column(0).to_pandas(), parts)
        for batch in pq.ParquetFile(events_path).iter_batches(batch_size=BATCH_ROWS, columns=["user_id"])
    ])
    for part in range(parts):
        yield np.flatnonzero(part_of == part)


def concat_aggregates(parts: list):
    """One day's aggregate from the aggregates of disjoint sets of its users: each table is
    the union of the parts' rows (a single part is returned as it is)."""
    from ztad.behaviour.baselines import DailyAggregate

    if len(parts) == 1:
        return parts[0]
    names = list(parts[0].tables)
    return DailyAggregate({
        name: pd.concat([part.tables[name] for part in parts], ignore_index=True) for name in names
    })


#: What a part's judge says of its events: the rows that train the detectors, then the rows
#: the baseline learns, those alerted for their hour alone and those alerted for anything else
#: (boolean masks over the part's events).
Judged = tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]


def learn_in_parts(
    events_path: Path,
    columns: list[str],
    learnt_columns: Callable[[pd.DataFrame], list[str]],
    judge: Callable[[pd.DataFrame, np.ndarray | slice], Judged],
    part_rows: int = LEARN_PART_ROWS,
) -> tuple[np.ndarray, object]:
    """Learn the day a part of its users at a time: read the part's event ``columns``, let
    ``judge(events, rows)`` pick its rows (``rows``: where they are in the day, row positions
    or ``slice(None)`` for a day learnt whole), and aggregate the ``learnt_columns`` of those
    the baseline learns (:func:`ztad.behaviour.baselines.daily_aggregate`).

    Returns the day's training rows, a mask over all its events, and its aggregate.
    """
    import pyarrow.parquet as pq

    from ztad.pipeline.training_data import read_rows
    from ztad.pipeline.workfiles import read_parquet_by_column

    rows_in_day = pq.ParquetFile(events_path).metadata.num_rows
    parts = part_count(rows_in_day, part_rows)
    if parts == 1:
        whole = partial(read_parquet_by_column, events_path, columns)
        return _learn_part(whole, slice(None), learnt_columns, judge)
    train = np.zeros(rows_in_day, dtype=bool)
    aggregates = []
    for rows in user_parts(events_path, parts):
        if len(rows) == 0:
            continue
        train[rows], aggregate = _learn_part(partial(read_rows, events_path, columns, rows), rows, learnt_columns, judge)
        aggregates.append(aggregate)
    return train, concat_aggregates(aggregates)


def _learn_part(read: Callable[[], pd.DataFrame], rows, learnt_columns, judge) -> tuple[np.ndarray, object]:
    """One part's training rows and aggregate. The part's events are read here, held by
    nothing else: their other fields (event ids) are let go, and their whole learnt fields
    once each kind of row is picked, before the aggregate (the part's peak)."""
    from ztad.behaviour.baselines import daily_aggregate
    from ztad.pipeline.workfiles import release_unused_memory

    events = read()
    train, (keep, alerted, other) = judge(events, rows)
    learnt = events[learnt_columns(events)]
    del events
    kept, hour_only, other_alerts = learnt[keep], learnt[alerted], learnt[other]
    del learnt
    release_unused_memory()
    return train, daily_aggregate(kept, hour_only, other_alerts)
