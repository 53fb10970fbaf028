"""Scoring a frame of events: the one code path of the nightly score step and of ``/predict``.

The nightly job reads and writes work files between its steps; the scoring service holds the
model, the baseline and the allowlist in memory and answers at once. Both judge events with
the functions here, so an event gets the same score, decision, reasons and top features
whichever way it was scored (no train/serve skew):

- :func:`score_features`: ensemble score, rule hits, the final score and the flag;
- :func:`flagged_attributions`: the per-feature attributions of the flagged rows;
- :func:`describe_flagged`: what a flagged event becomes (reasons, severity, top features);
- :func:`score_events`: all of the above for canonical events, against a baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ztad.config import JobConfig

if TYPE_CHECKING:
    from ztad.findings.typical import TypicalValues

#: How far above the model threshold a behavioural rule hit ranks, in ensemble score units.
RULE_MARGIN = 1.0


def final_score(ensemble_score: pd.Series, rule_hit: pd.Series, threshold: float) -> np.ndarray:
    """One score for the whole decision: the ensemble's, lifted above the threshold by a rule.

    A rule hit is flagged whatever the models say, so it must also rank above every event
    that the models alone would not flag; among rule hits the ensemble still orders them.
    Without a model (a learning day: no score, no threshold) a rule hit scores ``RULE_MARGIN``.
    """
    values = np.asarray(ensemble_score, dtype=float)
    lifted = np.maximum(np.nan_to_num(values, nan=0.0), np.nan_to_num(threshold, nan=0.0)) + RULE_MARGIN
    return np.where(np.asarray(rule_hit, dtype=bool), lifted, values)


def unscored(rows: int) -> pd.DataFrame:
    """The model columns of a day no model scores (a learning day): no score, no model flag."""
    return pd.DataFrame(_unscored_columns(rows))


def _unscored_columns(rows: int) -> dict[str, np.ndarray]:
    nothing = np.full(rows, np.nan)
    return {"ensemble_score": nothing, "threshold": nothing, "model_flag": np.zeros(rows, bool)}


def score_features(features: pd.DataFrame, model, rule_thresholds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score features with the model and the behavioural rules (the rules alone without a model,
    on a learning day).

    Returns
    -------
    scored, rule_hits
        ``scored``: the model's columns (:meth:`ztad.detection.scoring_model.ScoringModel.score`)
        with ``rule_hit``, the final ``score`` and ``flagged`` (before any suppression);
        ``rule_hits``: one boolean column per rule code. Both row-aligned with ``features``.
    """
    columns, hits = _score_columns(features, model, rule_thresholds)
    rows = pd.RangeIndex(len(features))
    return pd.DataFrame(columns, index=rows), pd.DataFrame(hits, index=rows)


def _score_columns(
    features: pd.DataFrame, model, rule_thresholds
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """:func:`score_features`'s columns as arrays, in order, and each rule's hits."""
    from ztad.behaviour.rules import rule_columns

    columns = model.score_columns(features) if model is not None else _unscored_columns(len(features))
    threshold = model.threshold if model is not None else float("nan")
    hits = rule_columns(features, rule_thresholds)
    rule_hit = np.logical_or.reduce(list(hits.values())) if hits else np.zeros(len(features), dtype=bool)
    columns["rule_hit"] = rule_hit
    columns["score"] = final_score(columns["ensemble_score"], rule_hit, threshold)
    columns["flagged"] = np.asarray(columns["model_flag"], dtype=bool) | rule_hit
    return columns, hits


def with_rule_columns(scored: pd.DataFrame, rule_hits: pd.DataFrame) -> pd.DataFrame:
    """``scored`` with each rule's hits as ``rule_<code>``, as the scored work file keeps them."""
    return pd.concat([scored, rule_hits.add_prefix("rule_").reset_index(drop=True)], axis=1)


def rule_hits_of(scored: pd.DataFrame) -> pd.DataFrame:
    """The per-rule hits back out of a scored frame, with rule codes as column names."""
    columns = [c for c in scored.columns if c.startswith("rule_") and c != "rule_hit"]
    return scored[columns].rename(columns=lambda c: c.removeprefix("rule_"))


def attribution_table(
    model, features: pd.DataFrame, scored: pd.DataFrame, exact_rows: int | None = None
) -> pd.DataFrame:
    """Per-feature attributions of each member for the flagged rows (exact TreeSHAP for those
    with the highest final score), as the work file ``attributions.parquet`` keeps them.

    ``exact_rows`` caps the rows explained by exact TreeSHAP (default: the nightly job's
    :data:`ztad.findings.attributions.EXACT_SHAP_ROWS`; 0: path attributions only).
    """
    from ztad.findings.attributions import attribution_table as table_of

    options = {} if exact_rows is None else {"exact_rows": exact_rows}
    return table_of(
        model.ensemble, features, scored["flagged"].to_numpy(), priority=scored["score"].to_numpy(), **options
    )


def attribution_table_of_rows(
    model, features: pd.DataFrame | None, rows: np.ndarray, scores: np.ndarray, exact_rows: int | None = None
) -> pd.DataFrame:
    """:func:`attribution_table` of a day whose flagged rows alone are at hand: ``features``
    holds the flagged rows' features only (``None`` when there are none), ``rows`` their
    positions in the day, in order, and ``scores`` their final scores. The same table as that
    of the whole day: each row's attributions depend on that row alone, and the rows explained
    exactly on the flagged rows' scores."""
    rows = np.asarray(rows, dtype=np.int64)
    if features is None or len(rows) == 0:
        return pd.DataFrame({"row": rows})
    flagged = pd.DataFrame({"flagged": np.ones(len(rows), dtype=bool), "score": np.asarray(scores, dtype=float)})
    table = attribution_table(model, features.reset_index(drop=True), flagged, exact_rows)
    table["row"] = rows
    return table


def _member_attributions(
    model, features: pd.DataFrame, scored: pd.DataFrame, exact_rows: int | None
) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """What :func:`attribution_table` then :func:`flagged_attributions` give (the stored
    float32 values, one row per flagged row), without the wide table between them.

    ``features`` and ``scored`` may hold the flagged rows only (all flagged, in order): they
    are then not picked out again."""
    from ztad.findings.attributions import flagged_member_attributions

    options = {} if exact_rows is None else {"exact_rows": exact_rows}
    frames, exact = flagged_member_attributions(
        model.ensemble, features, scored["flagged"].to_numpy(), priority=scored["score"].to_numpy(), **options
    )
    return {member: frame.astype(np.float64) for member, frame in frames.items()}, exact


def flagged_attributions(
    table: pd.DataFrame | None, flagged: np.ndarray
) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """An attribution table's frames and exact-SHAP marks, aligned with the flagged rows."""
    from ztad.findings.attributions import exact_mask, split_table

    rows = np.flatnonzero(flagged)
    if table is None:
        return {}, np.zeros(len(rows), dtype=bool)
    frames = {
        member: frame.reindex(rows, fill_value=0.0).reset_index(drop=True)
        for member, frame in split_table(table).items()
    }
    return frames, exact_mask(table).reindex(rows, fill_value=False).to_numpy(bool)


def describe_flagged(
    day: date,
    events: pd.DataFrame,
    features: pd.DataFrame,
    scored: pd.DataFrame,
    attributions: pd.DataFrame | None,
    *,
    model_version: str,
    run_id: str | None,
    sensitive_resources: tuple[str, ...] = (),
    flagged_features: pd.DataFrame | None = None,
    typical: TypicalValues | None = None,
) -> pd.DataFrame:
    """The findings rows of the flagged events: reasons, severity, category, top features.

    ``events``, ``features`` and ``scored`` are the whole day (or batch), row-aligned, and
    ``attributions`` is indexed by their positions; ``scored`` carries the ``rule_<code>``
    columns and ``flagged``. Of the rows not flagged, only those of the addresses the
    ``background_scanning`` rule hit are read (:func:`ztad.findings.sentences.explain`): the
    rest may be left out. With ``flagged_features`` (every column of the flagged rows only, in
    order), ``features`` need hold only the day's model inputs; with ``typical`` as well (the
    day's typical feature values, :class:`ztad.findings.typical.TypicalValues`), ``features``
    may be ``None``: the nightly job never holds a large day's features whole.
    """
    frames, exact_shap = flagged_attributions(attributions, scored["flagged"].to_numpy(bool))
    return _describe(
        day, events, features, scored, frames, exact_shap, model_version=model_version, run_id=run_id,
        sensitive_resources=sensitive_resources, flagged_features=flagged_features, typical=typical,
    )


def _describe(
    day: date,
    events: pd.DataFrame,
    features: pd.DataFrame,
    scored: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    exact_shap: np.ndarray,
    *,
    model_version: str,
    run_id: str | None,
    sensitive_resources: tuple[str, ...],
    flagged_features: pd.DataFrame | None,
    typical: TypicalValues | None = None,
    rule_hits: pd.DataFrame | None = None,
    flagged_scored: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`describe_flagged` with the flagged rows' attributions per member at hand.

    ``rule_hits`` (rule codes as column names, row-aligned with ``scored``) and
    ``flagged_scored`` (``scored``'s flagged rows, indexed 0..k-1) spare reading them back out
    of ``scored`` when the caller holds them already.
    """
    from ztad.findings.build import build_findings, enrich_findings
    from ztad.findings.sentences import explain
    from ztad.findings.typical import TypicalValues

    flagged = scored["flagged"].to_numpy(bool)
    rows = np.flatnonzero(flagged)
    if rule_hits is None:
        rule_hits = rule_hits_of(scored)
    if flagged_features is None:
        flagged_features = _rows(features, rows)
    if typical is None:  # worked out only if a flagged row needs them
        typical = TypicalValues.of_frame(features)
    # The flagged rows are picked out once, for the reasons and for the findings alike.
    flagged_events, flagged_hits = _rows(events, rows), _rows(rule_hits, rows)
    flagged_scored = _rows(scored, rows) if flagged_scored is None else flagged_scored
    reasons = explain(
        events, features, rule_hits, flagged, flagged_features, typical,
        flagged_events=flagged_events, flagged_rule_hits=flagged_hits,
    )
    findings = build_findings(
        day=day,
        events=flagged_events,
        scored=flagged_scored,
        reasons=reasons,
        model_version=model_version,
        run_id=run_id,
    )
    return enrich_findings(
        findings,
        events=flagged_events,
        features=flagged_features,
        scored=flagged_scored,
        rule_hits=flagged_hits,
        attributions=frames,
        exact_shap=exact_shap,
        sensitive_resources=sensitive_resources,
        typical=typical,
    )


def _rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The rows at positions ``rows`` of ``frame``, indexed 0..k-1."""
    picked = frame.take(rows)
    picked.index = pd.RangeIndex(len(rows))
    return picked


def _positional(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` indexed 0..n-1: as it is when it is already."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None:
        return frame
    return frame.reset_index(drop=True)


@dataclass
class Scored:
    """What :func:`score_events` found, row-aligned with the events it was given.

    ``scored`` holds the score columns (with ``suppressed``), ``features`` the features (with
    ``ctx_*``), ``findings`` one row per flagged event (``event_id`` links them; no columns
    when none is flagged), and
    ``cold_start`` whether the user is unknown to the baseline.
    """

    events: pd.DataFrame
    features: pd.DataFrame
    scored: pd.DataFrame
    findings: pd.DataFrame
    cold_start: np.ndarray


def score_events(
    events: pd.DataFrame,
    *,
    day: date,
    model,
    baseline,
    config: JobConfig,
    allowlist: pd.DataFrame | None = None,
    exact_rows: int | None = None,
) -> Scored:
    """Score canonical events as the nightly run of ``day`` would.

    Parameters
    ----------
    events
        Canonical events (:mod:`ztad.schema`), judged together like one day: counts across
        users (one address failing against many users) are counted over them.
    day
        The day they are judged as; ``baseline`` is the state as of its start.
    model
        A loaded :class:`ztad.detection.scoring_model.ScoringModel`.
    allowlist
        Analysts' false positives in force (:func:`ztad.feedback.effective_allowlist`).
    exact_rows
        Flagged rows (highest score first) whose Isolation Forest attributions are exact
        TreeSHAP values; the rest get path attributions. Default: as the nightly job.
    """
    from ztad.behaviour.features import compute_features
    from ztad.feedback import suppressed_mask

    events = _positional(events)
    detection = config.detection
    features = _positional(compute_features(events, baseline, detection, detection.feature_settings))
    columns, hits = _score_columns(features, model, detection.rule_thresholds)
    suppressed = np.zeros(len(events), dtype=bool)
    rule_hits = None
    if columns["flagged"].any():  # nothing flagged, nothing to suppress
        rule_hits = pd.DataFrame(hits, index=pd.RangeIndex(len(events)))
        suppressed = np.asarray(suppressed_mask(events, features, rule_hits, columns["flagged"], allowlist), bool)
    columns["suppressed"] = suppressed
    columns["flagged"] = columns["flagged"] & ~suppressed
    columns.update({f"rule_{code}": values for code, values in hits.items()})
    scored = pd.DataFrame(columns, index=pd.RangeIndex(len(events)))  # the frame built once
    findings = pd.DataFrame()  # nothing flagged, nothing to describe
    if columns["flagged"].any():
        rows = np.flatnonzero(columns["flagged"])
        # The flagged rows are picked out once, for the attributions and the findings; their
        # scores are taken from the arrays: picking them out of the frame costs more.
        flagged_features = _rows(features, rows)
        flagged_scored = pd.DataFrame({name: values[rows] for name, values in columns.items()},
                                      index=pd.RangeIndex(len(rows)))
        frames, exact_shap = _member_attributions(model, flagged_features, flagged_scored, exact_rows)
        findings = _describe(
            day, events, features, scored, frames, exact_shap, model_version=model.version, run_id=None,
            sensitive_resources=detection.sensitive_resources, flagged_features=flagged_features,
            rule_hits=rule_hits, flagged_scored=flagged_scored,
        )
    known = features["ctx_user_known"].to_numpy("float64") > 0  # found in the baseline once, by the features
    return Scored(events, features, scored, findings, ~known)
