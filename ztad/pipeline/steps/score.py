"""Step 4: score the day against the chosen model and rules, and flag what crosses the threshold."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.pipeline.model_trust import FindingsDatabaseTrust
from ztad.pipeline.scoring import attribution_table, score_features, with_rule_columns
from ztad.pipeline.shards import Shard
from ztad.pipeline.workfiles import (
    day_dir,
    read_json,
    read_parquet,
    write_json,
    write_parquet,
)


def score(day: date, config: JobConfig, *, shard: Shard | None = None) -> dict:
    """Score the day against the chosen model and rules; flag what crosses the threshold.

    With a ``shard``, only that shard's events, with the day's model. A learning day (no
    model yet) and a day without events are judged by the behavioural rules alone. The scoring
    itself is :mod:`ztad.pipeline.scoring`, which the scoring service shares.
    """
    from ztad.detection.scoring_model import load_model

    folder = day_dir(config, day, shard)
    features = read_parquet(folder / "features.parquet", scoring_columns())
    decision = read_json(day_dir(config, day) / "detectors.json")
    model = None
    if decision["model_version"] is not None:
        trust = FindingsDatabaseTrust(config.resolved_database_url)
        model = load_model(config, decision["model_version"], trust)
    scored, rule_hits = score_features(features, model, config.detection.rule_thresholds)
    scored["suppressed"] = _suppressed(folder, rule_hits, scored["flagged"], day_dir(config, day))
    scored["flagged"] = scored["flagged"].to_numpy() & ~scored["suppressed"].to_numpy()
    scored = with_rule_columns(scored, rule_hits)
    write_parquet(scored, folder / "scored.parquet")
    if shard is None and model is not None:  # a sharded day is explained once gathered: see attribute_scores
        write_parquet(attribution_table(model, features, scored), folder / "attributions.parquet")
    result = {
        "day": day.isoformat(),
        "rows_scored": int(len(scored)),
        "rows_flagged": int(scored["flagged"].sum()),
        "rows_suppressed": int(scored["suppressed"].sum()),
        "rows_model_flagged": int(scored["model_flag"].sum()),
        "rows_rule_flagged": int(scored["rule_hit"].sum()),
        "threshold": None if model is None else float(model.threshold),
        "target_fpr": None if model is None else float(model.ensemble.target_fpr),
        "model_version": decision["model_version"],
    }
    write_json(folder / "score.json", result)
    return result


def scoring_columns() -> list[str]:
    """The columns of a features file that scoring reads: the model features and the facts the
    rules read; the other ``ctx_*`` columns (most of the file) only findings quote."""
    from ztad.behaviour.features import FEATURE_NAMES
    from ztad.behaviour.rules import RULE_CONTEXT

    return [*FEATURE_NAMES, *RULE_CONTEXT]


def _suppressed(
    folder: Path, rule_hits: pd.DataFrame, flagged: pd.Series, day_folder: Path
) -> np.ndarray:
    """Flagged events that analysts' false positives cover (:mod:`ztad.feedback`); the
    feedback is the day's (``day_folder``), the events and their features (every column: the
    reasons are compared) are ``folder``'s (a shard's, maybe), read only when there is
    feedback to apply."""
    from ztad.feedback import load_day_feedback, suppressed_mask

    feedback = load_day_feedback(day_folder)
    if feedback.allowlist.empty or not flagged.any():
        return np.zeros(len(flagged), dtype=bool)
    events = read_parquet(folder / "events.parquet")
    features = read_parquet(folder / "features.parquet")
    return suppressed_mask(
        events.reset_index(drop=True),
        features.reset_index(drop=True),
        rule_hits.reset_index(drop=True),
        flagged.to_numpy(),
        feedback.allowlist,
        feedback.protected_event_ids,
    )


def attribute_scores(day: date, config: JobConfig) -> None:
    """Per-feature attributions of the day's flagged events, as :func:`score` keeps them.

    For a day scored in shards, run once the shards' scores are gathered
    (:func:`ztad.pipeline.sharding.gather_scores`): which flagged events get the costly exact
    explanations depends on the whole day's ranking.
    """
    from ztad.detection.scoring_model import load_model

    folder = day_dir(config, day)
    version = read_json(folder / "detectors.json")["model_version"]
    if version is None:  # a learning day: no model to explain
        return
    features = read_parquet(folder / "features.parquet", scoring_columns())
    scored = read_parquet(folder / "scored.parquet")
    model = load_model(config, version, FindingsDatabaseTrust(config.resolved_database_url))
    write_parquet(attribution_table(model, features, scored), folder / "attributions.parquet")


def scored_events(day: date, config: JobConfig) -> pd.DataFrame:
    """The day's events joined with their scores, flags and rule hits (for evaluation)."""
    folder = day_dir(config, day)
    events = read_parquet(folder / "events.parquet")
    scored = read_parquet(folder / "scored.parquet")
    return pd.concat([events.reset_index(drop=True), scored.reset_index(drop=True)], axis=1)
