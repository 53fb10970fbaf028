"""Step 4: score the day against the chosen model and rules, and flag what crosses the threshold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.detection.detectors.base import SCORE_CHUNK_ROWS
from ztad.findings.forked_half import forked_halves
from ztad.pipeline.model_trust import FindingsDatabaseTrust
from ztad.pipeline.scoring import attribution_table_of_rows, score_features, with_rule_columns
from ztad.pipeline.shards import Shard
from ztad.pipeline.training_data import read_rows
from ztad.pipeline.workfiles import (
    day_dir,
    read_json,
    read_parquet,
    read_parquet_batches,
    write_json,
    write_parquet,
    write_parquet_parts,
)


def score(day: date, config: JobConfig, *, shard: Shard | None = None) -> dict:
    """Score the day against the chosen model and rules; flag what crosses the threshold.

    With a ``shard``, only that shard's events, with the day's model. A learning day (no
    model yet) and a day without events are judged by the behavioural rules alone. The scoring
    itself is :mod:`ztad.pipeline.scoring`, which the scoring service shares.

    The day's features are read and scored :data:`SCORE_BATCH_ROWS` rows at a time and the
    scores written batch by batch, so that a large day's features are never held whole: each
    row's scores, rule hits and reasons depend on that row alone (the detectors score in
    chunks that the batches line up with), so the batches give the whole day's values. The
    analysts' false positives need only the flagged rows, which are read on their own; the
    attributions need only the flagged rows' model features, which the batches keep.
    """
    from ztad.detection.scoring_model import load_model

    folder = day_dir(config, day, shard)
    decision = read_json(day_dir(config, day) / "detectors.json")
    model = None
    if decision["model_version"] is not None:
        trust = FindingsDatabaseTrust(config.resolved_database_url)
        model = load_model(config, decision["model_version"], trust)
    flags = _score_in_batches(folder, model, config.detection.rule_thresholds)
    suppressed = _suppressed(folder, flags, day_dir(config, day))
    if suppressed.any():
        _write_suppressed(folder / "scored.parquet", flags.rows[suppressed])
    kept = ~suppressed
    if shard is None and model is not None:  # a sharded day is explained once gathered: see attribute_scores
        with forked_halves():
            table = attribution_table_of_rows(model, flags.features[kept], flags.rows[kept], flags.scores[kept])
        write_parquet(table, folder / "attributions.parquet")
    result = {
        "day": day.isoformat(),
        "rows_scored": flags.rows_scored,
        "rows_flagged": int(kept.sum()),
        "rows_suppressed": int(suppressed.sum()),
        "rows_model_flagged": flags.rows_model_flagged,
        "rows_rule_flagged": flags.rows_rule_flagged,
        "threshold": None if model is None else float(model.threshold),
        "target_fpr": None if model is None else float(model.ensemble.target_fpr),
        "model_version": decision["model_version"],
    }
    write_json(folder / "score.json", result)
    return result


#: Rows of features scored at once: a multiple of the detectors' scoring chunk, so that every
#: chunk a detector scores is the one it scores when given the whole day.
SCORE_BATCH_ROWS = 2 * SCORE_CHUNK_ROWS


@dataclass
class _Flags:
    """What the day's scoring keeps beyond the scores file: the flagged rows (positions in the
    day, in order), their final scores, rule hits and scoring features (indexed 0..k-1), and
    the day's counts."""

    rows: np.ndarray
    scores: np.ndarray
    rule_hits: pd.DataFrame
    features: pd.DataFrame
    rows_scored: int
    rows_model_flagged: int
    rows_rule_flagged: int


def _score_in_batches(folder: Path, model, rule_thresholds) -> _Flags:
    """Score ``folder``'s features :data:`SCORE_BATCH_ROWS` at a time into its ``scored.parquet``
    (with ``suppressed`` false: :func:`_write_suppressed` marks the suppressed rows once known)."""
    rows, scores, hits, features_of_flagged = [], [], [], []
    counts = {"rows_scored": 0, "rows_model_flagged": 0, "rows_rule_flagged": 0}

    def batches():
        for first, features in read_parquet_batches(folder / "features.parquet", scoring_columns(), SCORE_BATCH_ROWS):
            scored, rule_hits = score_features(features, model, rule_thresholds)
            flagged = scored["flagged"].to_numpy(bool)
            features_of_flagged.append(features.take(np.flatnonzero(flagged)))
            del features
            rows.append(first + np.flatnonzero(flagged))
            scores.append(scored["score"].to_numpy()[flagged])
            hits.append(rule_hits[flagged])
            counts["rows_scored"] += len(scored)
            counts["rows_model_flagged"] += int(scored["model_flag"].sum())
            counts["rows_rule_flagged"] += int(scored["rule_hit"].sum())
            scored["suppressed"] = np.zeros(len(scored), dtype=bool)
            yield with_rule_columns(scored, rule_hits)

    write_parquet_parts(folder / "scored.parquet", batches())
    return _Flags(np.concatenate(rows), np.concatenate(scores), pd.concat(hits, ignore_index=True),
                  pd.concat(features_of_flagged, ignore_index=True), **counts)


def scoring_columns() -> list[str]:
    """The columns of a features file that scoring reads: the model features and the facts the
    rules read; the other ``ctx_*`` columns (most of the file) only findings quote."""
    from ztad.behaviour.features import FEATURE_NAMES
    from ztad.behaviour.rules import RULE_CONTEXT

    return [*FEATURE_NAMES, *RULE_CONTEXT]


def _suppressed(folder: Path, flags: _Flags, day_folder: Path) -> np.ndarray:
    """Which of the flagged rows analysts' false positives cover (:mod:`ztad.feedback`); the
    feedback is the day's (``day_folder``), the events and their features (every column: the
    reasons are compared) are ``folder``'s (a shard's, maybe), read only when there is
    feedback to apply, and only the flagged rows: which reasons an event gets depends on
    that event alone."""
    from ztad.feedback import load_day_feedback, suppressed_mask

    feedback = load_day_feedback(day_folder)
    if feedback.allowlist.empty or not len(flags.rows):
        return np.zeros(len(flags.rows), dtype=bool)
    events = read_rows(folder / "events.parquet", _all_columns(folder / "events.parquet"), flags.rows)
    features = read_rows(folder / "features.parquet", _all_columns(folder / "features.parquet"), flags.rows)
    return np.asarray(suppressed_mask(
        events,
        features,
        flags.rule_hits,
        np.ones(len(flags.rows), dtype=bool),
        feedback.allowlist,
        feedback.protected_event_ids,
    ), dtype=bool)


def _all_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).schema_arrow.names


def _write_suppressed(path: Path, rows: np.ndarray) -> None:
    """Mark the suppressed ``rows`` of the scores file at ``path``: suppressed, not flagged."""
    def batches():
        for first, scored in read_parquet_batches(path, None, SCORE_BATCH_ROWS):
            mine = rows[(rows >= first) & (rows < first + len(scored))] - first
            scored.loc[mine, "suppressed"] = True
            scored.loc[mine, "flagged"] = False
            yield scored

    write_parquet_parts(path, batches())


def _flagged_attribution_table(model, folder: Path, rows: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """The attributions of the flagged ``rows`` of ``folder``'s day (positions, in order, with
    their final ``scores``), as ``attributions.parquet`` keeps them: only those rows'
    features are read."""
    features = read_rows(folder / "features.parquet", scoring_columns(), rows) if len(rows) else None
    return attribution_table_of_rows(model, features, rows, scores)


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
    scored = read_parquet(folder / "scored.parquet", ["flagged", "score"])
    rows = np.flatnonzero(scored["flagged"].to_numpy(bool))
    model = load_model(config, version, FindingsDatabaseTrust(config.resolved_database_url))
    with forked_halves():
        table = _flagged_attribution_table(model, folder, rows, scored["score"].to_numpy()[rows])
    write_parquet(table, folder / "attributions.parquet")


def scored_events(day: date, config: JobConfig) -> pd.DataFrame:
    """The day's events joined with their scores, flags and rule hits (for evaluation)."""
    folder = day_dir(config, day)
    events = read_parquet(folder / "events.parquet")
    scored = read_parquet(folder / "scored.parquet")
    return pd.concat([events.reset_index(drop=True), scored.reset_index(drop=True)], axis=1)
