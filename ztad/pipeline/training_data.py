"""The training matrix: feature vectors of the training window's days, read from the work
files each scored day leaves, or computed for history that was never scored."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from ztad.config import JobConfig
from ztad.detection.training import (
    TRAINING_DAY,
    TRAINING_DAY_ROWS,
    TRAINING_FLAGGED,
    training_window,
)
from ztad.pipeline.history import baseline_before, history_loader, history_trust
from ztad.pipeline.workfiles import write_parquet


def training_features_path(config: JobConfig, day: date) -> Path:
    """Where the unflagged feature vectors of a past day are kept for training."""
    return Path(config.state_dir) / "training" / f"day={day.isoformat()}.parquet"


def training_features_of(config: JobConfig, past_day: date) -> pd.DataFrame:
    """Feature vectors of one past day: those kept after scoring it, else computed now.

    A day that was never scored (history before the job started) is taken as it is, but for
    the events its labels do not trust as normal (:func:`ztad.pipeline.history.history_trust`);
    of a day whose findings are stored, the flagged and confirmed events are left out.
    """
    from ztad.behaviour.features import compute_features
    from ztad.feedback import learnable_events

    path = training_features_path(config, past_day)
    if path.exists():
        return pd.read_parquet(path)
    events = history_loader(config)(past_day)
    if events.empty:
        return pd.DataFrame()
    detection = config.detection
    features = compute_features(events, baseline_before(config, past_day), detection, detection.feature_settings)
    keep = learnable_events(config, past_day, events["event_id"]) & history_trust(config, past_day, events)
    features = features[keep].reset_index(drop=True).assign(event_id=events["event_id"].to_numpy()[keep])
    write_parquet(features, path)
    return features


def training_matrix(config: JobConfig, day: date) -> pd.DataFrame:
    """Feature vectors of the training window, each row tagged with its day, its day's row
    count and whether the model flagged it when that day was scored; empty (with those
    columns) when the window holds no events.

    Rows beyond ``max_training_rows`` are dropped by a seeded uniform sample.
    """
    from ztad.behaviour.features import FEATURE_NAMES

    start, end = training_window(config, day)
    frames = []
    for offset in range((end - start).days):
        past_day = start + timedelta(days=offset)
        frame = training_features_of(config, past_day)
        if not frame.empty:
            flagged = frame[TRAINING_FLAGGED] if TRAINING_FLAGGED in frame.columns else False
            frames.append(
                frame[list(FEATURE_NAMES)].assign(
                    **{TRAINING_DAY: past_day, TRAINING_FLAGGED: flagged, TRAINING_DAY_ROWS: len(frame)}
                )
            )
    if not frames:  # the first days of the logs: nothing to learn from yet
        columns = [*FEATURE_NAMES, TRAINING_DAY, TRAINING_FLAGGED, TRAINING_DAY_ROWS]
        return pd.DataFrame(columns=columns)
    matrix = pd.concat(frames, ignore_index=True)
    cap = config.detection.max_training_rows
    if len(matrix) > cap:
        matrix = matrix.sample(n=cap, random_state=config.detection.seed).sort_index()
    return matrix.reset_index(drop=True)
