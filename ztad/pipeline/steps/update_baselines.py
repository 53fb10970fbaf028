"""Step 2: the baseline as of the start of the day, and the day's behavioural features."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from ztad.config import JobConfig
from ztad.pipeline.history import baseline_before, history_loader
from ztad.pipeline.sharding import ROW, load_baseline, read_manifest, save_baseline, split_day
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
    if shard is not None:
        rows, columns = shard_features(day, config, shard)
        return {"day": day.isoformat(), "rows": rows, "features": columns}
    feedback = read_feedback(day, config)
    # A large day's events are put in part order before the baseline is built: the
    # rewrite holds the day's events, which need not sit beside the baseline.
    bounds = order_day_events(day, config)
    # Passed on, not kept here: the features free the baseline once they no longer need it.
    return {**write_day_features(day, config, baseline_before(config, day), bounds), **feedback}


def order_day_events(day: date, config: JobConfig) -> np.ndarray | None:
    """Put a large day's pulled events in part order (:func:`put_events_in_part_order`) and
    return where each part begins; ``None`` for a day small enough to compute in one go."""
    from ztad.behaviour.features.user_parts import in_one_go

    path = day_dir(config, day) / "events.parquet"
    return None if in_one_go(_rows(path)) else put_events_in_part_order(path)


def write_day_features(day: date, config: JobConfig, baseline, bounds: np.ndarray | None) -> dict:
    """Compute and write the day's features against ``baseline``: a part at a time when the
    events are in part order (``bounds``: :func:`order_day_events`), else in one go (the
    baseline then freed before the features are written, if the caller keeps no reference)."""
    from ztad.behaviour.features import compute_features

    folder = day_dir(config, day)
    if bounds is not None:
        rows, columns = write_features_in_parts(folder, baseline, config, bounds)
        return {"day": day.isoformat(), "rows": rows, "features": columns}
    path = folder / "events.parquet"
    events = read_parquet(path, feature_input_columns(path))
    features = compute_features(events, baseline, config.detection, config.detection.feature_settings)
    del events, baseline
    write_parquet(features, folder / "features.parquet")
    return {"day": day.isoformat(), "rows": len(features), "features": len(features.columns)}


def shard_features(day: date, config: JobConfig, shard: Shard) -> tuple[int, int]:
    """Write the features of one shard's events, with their rows of the whole day's
    cross-user counts and the day's baseline (:func:`cross_user`); returns the rows and
    feature columns written.

    A shard of more than a few parts of users is computed and written a part at a time
    (:func:`write_features_in_parts`): its parts, recorded when the day was split
    (:func:`ztad.pipeline.sharding.split_day`), are its users' rows of the day's parts, so that
    the shard's file stays in the day's order and only one part's events are held at a time."""
    from ztad.behaviour.features import compute_features
    from ztad.behaviour.features.user_parts import in_one_go

    folder = day_dir(config, day, shard)
    signals = read_parquet(folder / "cross_user.parquet").drop(columns=[ROW])
    parts = read_manifest(day_dir(config, day)).get("parts_per_shard")
    baseline = load_baseline(day_dir(config, day), day)
    if parts and len(parts[shard.index]) > 2 and not in_one_go(len(signals)):
        return write_features_in_parts(folder, baseline, config, np.asarray(parts[shard.index]), signals)
    path = folder / "events.parquet"
    events = read_parquet(path, feature_input_columns(path))
    detection = config.detection
    features = compute_features(events, baseline, detection, detection.feature_settings, cross_user=signals)
    del events, baseline, signals
    write_parquet(features, folder / "features.parquet")
    return len(features), len(features.columns)


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


def write_features_in_parts(
    folder: Path, baseline, config: JobConfig, bounds: np.ndarray, signals=None
) -> tuple[int, int]:
    """Write the features of the day's events, already in part order (part ``k`` the rows
    ``bounds[k]:bounds[k + 1]``: :func:`put_events_in_part_order`), part by part as
    ``features.parquet``; returns the rows and feature columns written. Each part is
    written while the next one is computed (at most two parts' features held at a time).

    Each part's events are read from the file when they are needed (only the columns the
    features read), so the day's events are never held whole. The features of every event
    are those the whole day computed in one go gives; only the rows' order differs, so what
    depends on row positions (the seeded sample of training rows) picks other, equally
    uniform rows. A shard's events come with their rows of the day's cross-user counts,
    ``signals`` (:func:`ztad.behaviour.features.user_parts.features_by_part`).
    """
    from ztad.behaviour.features.user_parts import features_by_part

    detection = config.detection
    parts = features_by_part(part_reader(folder / "events.parquet"), bounds, baseline, detection,
                             detection.feature_settings, signals)
    columns = 0

    def written():
        nonlocal columns
        for features in parts:
            columns = len(features.columns)
            yield features
            del features  # held by the writer alone, while the next part is computed

    rows = write_parquet_parts(folder / "features.parquet", written(), overlap=True)
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

    As for an unsharded day, a day of more than a few parts of users is put in part order
    first (:func:`put_events_in_part_order`), and its counts are worked out a part at a time
    (:func:`ztad.behaviour.features.user_parts.signals_by_part`): neither step, nor the split,
    holds the day's events whole beside the baseline. The shards then hold the day's rows in
    that order, as an unsharded day's files do.
    """
    from ztad.behaviour.features.user_parts import in_one_go, signals_by_part

    folder = day_dir(config, day)
    path = folder / "events.parquet"
    feedback = read_feedback(day, config)
    rows = _rows(path)
    bounds = None if in_one_go(rows) else put_events_in_part_order(path)
    baseline = baseline_before(config, day)
    detection = config.detection
    signals = signals_by_part(part_reader(path), np.array([0, rows]) if bounds is None else bounds,
                              baseline, detection, detection.feature_settings)
    save_baseline(folder, baseline)
    del baseline
    release_unused_memory()
    split = split_day(folder, signals, shards, bounds=bounds)
    del signals
    release_unused_memory()
    return {"day": day.isoformat(), "shards": split["shards"], "events_per_shard": split["events_per_shard"],
            **feedback}


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
