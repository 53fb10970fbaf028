"""Step 2: the baseline as of the start of the day, and the day's behavioural features."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path

import numpy as np

from ztad.config import JobConfig
from ztad.pipeline.history import baseline_before, history_loader
from ztad.pipeline.sharding import load_baseline, split_day
from ztad.pipeline.shards import Shard
from ztad.pipeline.training_data import feature_input_columns, part_reader, training_features_path
from ztad.pipeline.workfiles import (
    day_dir,
    put_in_part_order,
    read_parquet,
    release_unused_memory,
    write_parquet,
    write_parquet_parts,
)


def update_baselines(day: date, config: JobConfig, *, shard: Shard | None = None) -> dict:
    """Build the baseline as of the start of ``day`` and compute the day's features.

    The baseline is built before the day's events are read, so that combining the window's
    aggregates never overlaps with them, and only the event columns the features read are
    read. A day of more than a few parts of users
    (:func:`ztad.behaviour.features.user_parts.in_one_go`) is put in part order and its
    features computed and written a part at a time (:func:`write_features_in_parts`): the
    day's feature table is never held whole.

    With a ``shard``, only that shard's users, once :func:`cross_user` has prepared the day:
    the analysts' feedback is already applied, the baseline is the one it built, and the
    counts across users come from the whole day.
    """
    from ztad.behaviour.features import compute_features
    from ztad.behaviour.features.user_parts import in_one_go

    folder = day_dir(config, day, shard)
    path = folder / "events.parquet"
    if shard is None:
        feedback = read_feedback(day, config)
        # A large day's events are put in part order before the baseline is built: the
        # rewrite holds the day's events, which need not sit beside the baseline.
        bounds = None if in_one_go(_rows(path)) else put_events_in_part_order(path)
        baseline = baseline_before(config, day)
        if bounds is not None:
            rows, columns = write_features_in_parts(folder, baseline, config, bounds)
            return {"day": day.isoformat(), "rows": rows, "features": columns, **feedback}
        events = read_parquet(path, feature_input_columns(path))
        features = compute_features(events, baseline, config.detection, config.detection.feature_settings)
    else:
        events = read_parquet(path)
        feedback, baseline = {}, load_baseline(day_dir(config, day), day)
        whole_day = read_parquet(folder / "cross_user.parquet")
        features = compute_features(
            events, baseline, config.detection, config.detection.feature_settings, cross_user=whole_day
        )
    del events, baseline
    write_parquet(features, folder / "features.parquet")
    return {"day": day.isoformat(), "rows": len(features), "features": len(features.columns), **feedback}


def put_events_in_part_order(path: Path) -> np.ndarray:
    """Rewrite the day's events file at ``path`` in part order, the users grouped by part and
    the day's order kept within each part (:func:`ztad.behaviour.features.user_parts.part_order`),
    and return where each part begins. The events, features and scores files then stay
    row-aligned while each part's features are written as soon as they are computed
    (:func:`write_features_in_parts`). Run again, the step finds the events already in part
    order and leaves them."""
    from ztad.behaviour.features.user_parts import part_order

    order, bounds = part_order(read_parquet(path, ["user_id"])["user_id"])
    if not np.array_equal(order, np.arange(len(order))):
        put_in_part_order(path, order, bounds)
    release_unused_memory()
    return bounds


def write_features_in_parts(folder: Path, baseline, config: JobConfig, bounds: np.ndarray) -> tuple[int, int]:
    """Write the features of the day's events, already in part order (part ``k`` the rows
    ``bounds[k]:bounds[k + 1]``: :func:`put_events_in_part_order`), part by part as
    ``features.parquet``; returns the rows and feature columns written.

    Each part's events are read from the file when they are needed (only the columns the
    features read), so the day's events are never held whole. The features of every event
    are those the whole day computed in one go gives; only the rows' order differs, so what
    depends on row positions (the seeded sample of training rows) picks other, equally
    uniform rows.
    """
    from ztad.behaviour.features.user_parts import features_by_part

    detection = config.detection
    parts = features_by_part(part_reader(folder / "events.parquet"), bounds, baseline, detection,
                             detection.feature_settings)
    columns = 0

    def written():
        nonlocal columns
        for features in parts:
            columns = len(features.columns)
            yield features
            del features  # not held while the next part is computed

    rows = write_parquet_parts(folder / "features.parquet", written())
    return rows, columns


def _rows(path: Path) -> int:
    """The rows of a Parquet file, from its metadata."""
    import pyarrow.parquet as pq

    if not path.exists():
        read_parquet(path)  # the missing file's own error
    return pq.ParquetFile(path).metadata.num_rows


def cross_user(day: date, config: JobConfig, shards: int = 1) -> dict:
    """Prepare the day for :func:`update_baselines` and :func:`score` in ``shards`` parts.

    Applies the analysts' feedback and builds the baseline once (kept for the shards),
    computes the counts that look across users (users per IP today, password-spray counts)
    over the whole day, and gives each shard of users its events and their counts
    (:mod:`ztad.pipeline.sharding`).
    """
    from ztad.behaviour.features import cross_user_signals
    from ztad.behaviour.features.user_parts import part_order

    folder = day_dir(config, day)
    events = read_parquet(folder / "events.parquet")
    feedback = read_feedback(day, config)
    baseline = baseline_before(config, day)
    # Each part of the users' inputs worked out on its own: no context of the whole day.
    order, bounds = part_order(events["user_id"])
    parts = (order[begin:end] for begin, end in pairwise(bounds))
    detection = config.detection
    signals = cross_user_signals(events, baseline, detection, detection.feature_settings, parts=parts)
    del order
    split = split_day(folder, events, signals, shards, baseline)
    return {"day": day.isoformat(), **split, **feedback}


def read_feedback(day: date, config: JobConfig) -> dict:
    """Apply analysts' verdicts before the day is judged: rebuild the past days they changed
    and keep the day's allowlist for scoring (see :mod:`ztad.feedback`)."""
    from ztad.feedback import apply_feedback

    return apply_feedback(
        day,
        config,
        history_loader(config),
        lambda past_day: training_features_path(config, past_day),
        day_dir(config, day),
    )
