"""Step 2: the baseline as of the start of the day, and the day's behavioural features."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ztad.config import JobConfig
from ztad.pipeline.history import baseline_before, history_loader
from ztad.pipeline.sharding import load_baseline, split_day
from ztad.pipeline.shards import Shard
from ztad.pipeline.training_data import training_features_path
from ztad.pipeline.workfiles import day_dir, read_parquet, write_parquet


def update_baselines(day: date, config: JobConfig, *, shard: Shard | None = None) -> dict:
    """Build the baseline as of the start of ``day`` and compute the day's features.

    The baseline is built before the day's events are read, so that combining the window's
    aggregates never overlaps with them, and only the event columns the features read are
    read. A whole day's features are computed a part of its users at a time
    (:func:`ztad.behaviour.features.user_parts.compute_features_in_parts`): the same
    features, with the families' working arrays held for one part at a time.

    With a ``shard``, only that shard's users, once :func:`cross_user` has prepared the day:
    the analysts' feedback is already applied, the baseline is the one it built, and the
    counts across users come from the whole day.
    """
    from ztad.behaviour.features import compute_features
    from ztad.behaviour.features.user_parts import compute_features_in_parts

    folder = day_dir(config, day, shard)
    if shard is None:
        feedback, baseline = read_feedback(day, config), baseline_before(config, day)
        events = read_parquet(folder / "events.parquet", feature_input_columns(folder / "events.parquet"))
        features = compute_features_in_parts(
            events, baseline, config.detection, config.detection.feature_settings
        )
    else:
        events = read_parquet(folder / "events.parquet")
        feedback, baseline = {}, load_baseline(day_dir(config, day), day)
        whole_day = read_parquet(folder / "cross_user.parquet")
        features = compute_features(
            events, baseline, config.detection, config.detection.feature_settings, cross_user=whole_day
        )
    del events, baseline
    write_parquet(features, folder / "features.parquet")
    return {"day": day.isoformat(), "rows": len(features), "features": len(features.columns), **feedback}


def feature_input_columns(path: Path) -> list[str]:
    """The columns of the events file at ``path`` that the features read: the day's other
    fields (event ids, labels, source rows, organisations) stay on disk."""
    import pyarrow.parquet as pq

    from ztad.behaviour.features import INPUT_COLUMNS

    present = set(pq.ParquetFile(path).schema_arrow.names)
    return [c for c in INPUT_COLUMNS if c in present]


def cross_user(day: date, config: JobConfig, shards: int = 1) -> dict:
    """Prepare the day for :func:`update_baselines` and :func:`score` in ``shards`` parts.

    Applies the analysts' feedback and builds the baseline once (kept for the shards),
    computes the counts that look across users (users per IP today, password-spray counts)
    over the whole day, and gives each shard of users its events and their counts
    (:mod:`ztad.pipeline.sharding`).
    """
    from ztad.behaviour.features import cross_user_signals

    folder = day_dir(config, day)
    events = read_parquet(folder / "events.parquet")
    feedback = read_feedback(day, config)
    baseline = baseline_before(config, day)
    signals = cross_user_signals(events, baseline, config.detection, config.detection.feature_settings)
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
