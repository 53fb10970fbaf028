"""``ztad evaluate``: score labelled logs with ztad and with the origin method, and compare.

:func:`evaluate` loads the labelled events, runs ztad's own day-by-day pipeline over the scored
days (in a throwaway state folder, so that evaluation never touches the findings of real runs),
fits the origin method on the same split, and hands both to :func:`evaluate_scored`, which
computes every metric from a frame of scored events and writes the report. Anything that can
produce that frame (a pipeline run, a saved file, a test) can be evaluated the same way.

The scored-events frame has one row per event with the columns ``event_id``, ``timestamp``,
``event_label``, optionally ``scenario``, and ztad's output: ``score`` (final, higher = more
anomalous), ``flagged`` (final decision), one ``score_<detector>`` column per detector and,
where a detector decides on its own, ``flag_<detector>``. The pipeline's frames also carry
``model_flag`` (the ensemble's own decision), from which the alert budget is checked
(:mod:`ztad.evaluation.budget`).

``evaluate(..., ablation=True)`` scores the same days a second time with the known-network,
cold-start and plausible-travel logic off, in a throwaway folder of its own, and compares the
false positives on the hard negatives (:mod:`ztad.evaluation.ablation`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.config import JobConfig, SourceConfig
from ztad.evaluation import EvaluationError
from ztad.evaluation.ablation import ablated_config, ablation_metrics
from ztad.evaluation.budget import budget_metrics, has_model_decisions
from ztad.evaluation.metrics import (
    GroundTruth,
    detector_metrics,
    labelled_only,
    require_both_classes,
    require_labels,
)
from ztad.evaluation.origin import OriginResult, OriginSettings, run_origin, tuning_sweep
from ztad.evaluation.splits import (
    DEFAULT_HISTORY_DAYS,
    DEFAULT_TEST_FRACTION,
    PROTOCOLS,
    Split,
    default_cutoff,
    event_days,
    random_split,
    time_split,
)
from ztad.schema import is_anomaly_label

Progress = Callable[[str], None] | None

SCORE_PREFIX = "score_"
#: The ensemble's combined score, before rules (``score`` is the final one).
ENSEMBLE_SCORE = "ensemble_score"
FLAG_PREFIX = "flag_"
REQUIRED_SCORED_COLUMNS = ("event_id", "timestamp", "score", "flagged")
#: Rows of a tree model's input explained by SHAP: enough for a summary, cheap to compute.
SHAP_SAMPLE_ROWS = 500


def _say(progress: Progress, text: str) -> None:
    if progress is not None:
        progress(text)


# --------------------------------------------------------------------------- scored frames


def _check_scored(scored: pd.DataFrame) -> pd.DataFrame:
    """Validate ztad's scored events; keep the first of any repeated column name."""
    require_labels(scored)
    scored = scored.loc[:, ~scored.columns.duplicated()]
    missing = [c for c in REQUIRED_SCORED_COLUMNS if c not in scored.columns]
    if missing:
        raise EvaluationError(
            f"the scored events lack column(s) {missing}: each event needs event_id, timestamp, "
            "event_label, the final score and the flagged decision"
        )
    ids = scored["event_id"].astype("string")
    repeated = ids.duplicated(keep=False)
    if repeated.any():
        first = int(np.flatnonzero(repeated.to_numpy())[0])
        raise EvaluationError(
            f"row {first}: field event_id {ids.iloc[first]!r} is not unique; scored events "
            "are matched by event_id, so each must appear once"
        )
    return scored.reset_index(drop=True)


def ztad_detectors(scored: pd.DataFrame) -> list[str]:
    """Names of ztad's detectors, from the ``score_<detector>`` columns."""
    return [c.removeprefix(SCORE_PREFIX) for c in scored.columns if c.startswith(SCORE_PREFIX)]


def align(scored: pd.DataFrame, origin: OriginResult) -> tuple[pd.DataFrame, OriginResult, dict]:
    """Keep the events scored by both ztad and the origin method, in ztad's row order.

    Returns the two restricted inputs and counts of events only one side scored (under the
    random protocol the origin method scores a random share of all days, ztad every event of
    the scored days).
    """
    origin_ids = pd.Index(origin.event_id.astype("string"))
    if origin_ids.has_duplicates:
        raise EvaluationError("the origin scores repeat event ids; each event must appear once")
    positions = origin_ids.get_indexer(scored["event_id"].astype("string"))
    both = positions >= 0
    if not both.any():
        raise EvaluationError(
            "no event was scored by both ztad and the origin method: check that they were "
            "given the same events (event_id must match)"
        )
    counts = {
        "ztad_only_events": int((~both).sum()),
        "origin_only_events": int(len(origin_ids) - both.sum()),
    }
    return scored.loc[both].reset_index(drop=True), origin.subset(positions[both]), counts


def _ztad_metrics(scored: pd.DataFrame, truth: GroundTruth) -> dict:
    out = {"final": detector_metrics(truth, scored["score"], scored["flagged"].astype(bool))}
    if ENSEMBLE_SCORE in scored.columns:
        # The detectors' combined decision alone, before behavioural rules raise findings.
        flags = scored["model_flag"].astype(bool) if "model_flag" in scored.columns else None
        out["ensemble"] = detector_metrics(truth, scored[ENSEMBLE_SCORE], flags)
    for name in ztad_detectors(scored):
        flags = scored.get(f"{FLAG_PREFIX}{name}")
        out[name] = detector_metrics(
            truth, scored[f"{SCORE_PREFIX}{name}"], None if flags is None else flags.astype(bool)
        )
    return out


def _label_counts(events: pd.DataFrame) -> dict[str, int]:
    counts = events["event_label"].astype("string").fillna("(unlabelled)").value_counts()
    return {str(label): int(n) for label, n in counts.items()}


def evaluate_scored(
    scored_events: pd.DataFrame,
    origin: OriginResult | None = None,
    *,
    events: pd.DataFrame | None = None,
    protocol: dict | None = None,
    sweep: pd.DataFrame | None = None,
    shap_models: dict[str, tuple[object, pd.DataFrame]] | None = None,
    report_dir: Path | None = None,
    progress: Progress = None,
    target_fpr: float | Mapping[date, float] | None = None,
    ablated: pd.DataFrame | None = None,
) -> dict:
    """Compute every metric for ztad (and the origin method) and optionally write the report.

    Parameters
    ----------
    scored_events
        ztad's scored events (see the module docstring for the columns).
    origin
        The origin method's scores and decisions for the same split; events scored by only
        one side are left out and counted.
    events
        All labelled events, for the exploratory plots; defaults to ``scored_events``.
    protocol
        How the split was made (``split``, ``description``, ``cutoff`` ...), copied into the
        metrics and shown at the top of the report.
    sweep
        The origin tuning sweep table (:func:`ztad.evaluation.origin.tuning_sweep`).
    shap_models
        Title -> (fitted tree model, feature sample) for the SHAP view.
    report_dir
        Where to write ``report.html`` and ``metrics.json``; ``None`` writes nothing.
    target_fpr
        The alert budget the scored days were run with (one value, or per day as the run
        records kept it). With it, and the ensemble's decisions in ``model_flag``, the
        metrics hold ``budget``: expected against actual alerts per day and in total.
    ablated
        The same days scored without the known-network and cold-start logic; with it the
        metrics hold ``ablation`` (:func:`ztad.evaluation.ablation.ablation_metrics`).

    Returns
    -------
    dict
        ``protocol``, ``ztad`` (``final`` and one entry per detector), ``origin`` (one entry
        per detector), ``origin_params``, ``origin_sweep``, ``data``, and ``budget`` and
        ``ablation`` when their inputs are given.

    Raises
    ------
    EvaluationError
        No ``event_label`` column, a single class, missing score columns or unaligned ids.
    """
    scored = _check_scored(scored_events)
    budget = None
    if target_fpr is not None and has_model_decisions(scored):
        _say(progress, "checking the alert budget day by day")
        budget = budget_metrics(scored, target_fpr)
    ablation = None
    if ablated is not None:
        _say(progress, "comparing false positives with and without the known-network and cold-start logic")
        ablation = ablation_metrics(scored, _check_scored(ablated))
    scored, unlabelled = labelled_only(scored)
    protocol = {"split": "given", "description": "scored events given directly",
                **(protocol or {})}
    counts = {"unlabelled_events": unlabelled, "ztad_only_events": 0, "origin_only_events": 0}
    if origin is not None:
        scored, origin, aligned = align(scored, origin)
        counts.update(aligned)
    truth = GroundTruth.from_events(scored)
    _say(progress, f"computing metrics on {len(truth)} events")
    metrics = {
        "protocol": {
            **protocol,
            **counts,
            "evaluated_events": len(truth),
            "anomalies": int(truth.is_anomaly.sum()),
            "normals": int((~truth.is_anomaly).sum()),
            "scored_days": _day_span(truth),
        },
        "ztad": _ztad_metrics(scored, truth),
        "origin": {},
        "origin_params": {},
        "origin_sweep": [] if sweep is None else sweep.to_dict(orient="records"),
        "data": {
            "label_counts": _label_counts(scored_events if events is None else events),
            "evaluated_label_counts": _label_counts(scored),
        },
    }
    if origin is not None:
        metrics["origin"] = {
            name: detector_metrics(truth, origin.scores[name], origin.flags[name])
            for name in origin.detectors
        }
        metrics["origin_params"] = origin.params
    if budget is not None:
        metrics["budget"] = budget
    if ablation is not None:
        metrics["ablation"] = ablation
    if report_dir is not None:
        _write(report_dir, metrics, scored, origin, truth, events, shap_models, progress)
    return metrics


def _day_span(truth: GroundTruth) -> str | None:
    if truth.days is None or truth.days.empty:
        return None
    return f"{truth.days.min()}..{truth.days.max()}"


def _write(report_dir, metrics, scored, origin, truth, events, shap_models, progress) -> None:
    from ztad.evaluation.report import ReportData, write_report

    scores = {"ztad final": scored["score"].to_numpy(dtype=np.float64)}
    for name in ztad_detectors(scored):
        scores[f"ztad {name}"] = scored[f"{SCORE_PREFIX}{name}"].to_numpy(dtype=np.float64)
    if origin is not None:
        for name in origin.detectors:
            scores[f"origin {name}"] = origin.scores[name].to_numpy(dtype=np.float64)
    data = ReportData(
        truth=truth,
        scores=scores,
        events=scored if events is None else events,
        shap_models=shap_models or {},
    )
    _say(progress, f"writing the report to {report_dir}")
    paths = write_report(Path(report_dir), metrics, data)
    _say(progress, f"report: {paths['report']}")


# --------------------------------------------------------------------------- ztad's side


def consecutive_blocks(days: list[date]) -> list[tuple[date, date]]:
    """Group sorted days into inclusive ``(first, last)`` runs of consecutive days."""
    blocks: list[tuple[date, date]] = []
    for day in sorted(days):
        if blocks and day == blocks[-1][1] + timedelta(days=1):
            blocks[-1] = (blocks[-1][0], day)
        else:
            blocks.append((day, day))
    return blocks


def collect_scored_events(days: list[date], config: JobConfig) -> pd.DataFrame:
    """Concatenate the pipeline's scored events of each day."""
    from ztad import pipeline

    frames = [pipeline.scored_events(day, config) for day in days]
    return pd.concat(frames, ignore_index=True)


def _tree_model_sample(days, config, seed) -> dict[str, tuple[object, pd.DataFrame]]:
    """ztad's tree model and a sample of its inputs, when the pipeline exposes them."""
    from ztad import pipeline

    get = getattr(pipeline, "tree_model", None)
    if get is None or not days:
        return {}
    found = get(days[-1], config)
    if found is None:
        return {}
    estimator, features = found
    sample = features.sample(n=min(SHAP_SAMPLE_ROWS, len(features)), random_state=seed)
    return {"ztad isolation_forest": (estimator, sample.reset_index(drop=True))}


@dataclass
class ZtadRun:
    """What ztad's pipeline produced for the scored days.

    Attributes
    ----------
    scored
        The scored events of every day.
    shap_models
        Title -> (tree model, feature sample) for the SHAP view, when the pipeline exposes one.
    target_fpr
        Day -> the alert budget its run record kept (days without one are left out).
    """

    scored: pd.DataFrame
    shap_models: dict[str, tuple[object, pd.DataFrame]] = field(default_factory=dict)
    target_fpr: dict[date, float] = field(default_factory=dict)


def run_targets(days: list[date], config: JobConfig) -> dict[date, float]:
    """Day -> the target false-positive rate of its latest successful run record."""
    from ztad.store import FindingsStore

    with FindingsStore(config.resolved_database_url) as store:
        runs = store.runs()
    wanted = set(days)
    kept = runs[(runs["status"] == "success") & runs["target_fpr"].notna() & runs["day"].isin(wanted)]
    latest = kept.sort_values(["day", "finished_at"]).groupby("day").tail(1)
    return {day: float(target) for day, target in zip(latest["day"], latest["target_fpr"])}


def _collect(days: list[date], config: JobConfig, seed: int) -> ZtadRun:
    return ZtadRun(
        scored=collect_scored_events(days, config),
        shap_models=_tree_model_sample(days, config, seed),
        target_fpr=run_targets(days, config),
    )


def run_ztad(
    source: SourceConfig,
    days: list[date],
    config: JobConfig,
    *,
    rerun: bool = True,
    progress: Progress = None,
    label: str = "ztad",
) -> ZtadRun:
    """ztad's scored events for ``days``, their run records' budgets, and its tree model.

    With ``rerun`` the day-by-day pipeline runs in a throwaway home folder (fresh baselines,
    models and an embedded database), so every scored day sees only the history before it and
    real findings are never touched. Without it, the scored files and run records of an
    earlier run under ``config.home`` are read as they are. ``label`` prefixes the progress
    lines and names the throwaway folder.
    """
    from ztad import pipeline

    if not rerun:
        return _collect(days, config.with_overrides(source=source), config.detection.seed)

    def report(summary, done: int, total: int) -> None:
        _say(progress, f"{label} {summary.day}: {summary.rows_scored} scored, "
                       f"{summary.rows_flagged} flagged ({done}/{total})")

    home = Path(config.home)
    home.mkdir(parents=True, exist_ok=True)
    prefix = "evaluation-" if label == "ztad" else f"evaluation-{label}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=home) as scratch:
        run_config = config.with_overrides(source=source, home=Path(scratch), database_url=None)
        for first, last in consecutive_blocks(days):
            pipeline.run_range(first, last, run_config, progress=report)
        return _collect(days, run_config, config.detection.seed)


# --------------------------------------------------------------------------- the whole run


def load_events(source: SourceConfig) -> pd.DataFrame:
    """Every valid event of the source (quarantined rows are left out, as the job does)."""
    from ztad.ingest import available_days, load_range

    days = available_days(source)
    if not days:
        raise EvaluationError(f"no data found under {source.root}")
    return load_range(source, min(days), max(days) + timedelta(days=1)).events


def _split(events, labelled, split, cutoff, test_fraction, seed) -> Split:
    """The origin method's split: by time over every event, or stratified over labelled ones."""
    if split == "time":
        return time_split(events, cutoff)
    return random_split(labelled, test_fraction=test_fraction, seed=seed)


def evaluate(
    source: SourceConfig,
    *,
    cutoff: date | None,
    split: str = "time",
    report_dir: Path | None,
    config: JobConfig,
    progress: Progress = None,
    rerun: bool = True,
    origin_settings: OriginSettings | None = None,
    sweep: bool = True,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    ablation: bool = False,
) -> dict:
    """Evaluate ztad and the origin method on labelled logs; see :func:`evaluate_scored`.

    Parameters
    ----------
    source
        Where the labelled logs are.
    cutoff
        First scored day; ``None`` = 14 days after the first day with data.
    split
        ``time`` (default): the origin method trains on the events before ``cutoff`` and ztad
        runs day by day from ``cutoff`` on. ``random``: the origin method trains on a
        stratified random share of all events, as its notebook did; both are measured on the
        held-out events of the days ztad scored.
    report_dir
        Folder for ``report.html`` and ``metrics.json``; ``None`` writes nothing.
    config
        Job settings (detection settings, seed, home folder for the throwaway run).
    progress
        Called with a line of text at each stage.
    rerun
        Run ztad's pipeline afresh (default) or read the scored files of an earlier run.
    origin_settings
        Origin method parameters; by default derived from the training data, seeded by
        ``config.detection.seed``.
    sweep
        Also run the origin tuning sweep.
    test_fraction
        Held-out share of the random protocol.
    ablation
        Also score the scored days without the known-network, cold-start and plausible-travel
        logic (always afresh, in a throwaway folder of its own) and compare the false
        positives on the hard negatives.
    """
    if split not in PROTOCOLS:
        raise ValueError(f"split must be one of {PROTOCOLS}, got {split!r}")
    seed = config.detection.seed
    _say(progress, f"loading labelled events from {source.root}")
    events = load_events(source)
    require_labels(events)
    labelled, _ = labelled_only(events)
    require_both_classes(is_anomaly_label(labelled["event_label"]).to_numpy(dtype=bool))
    days = event_days(events)
    cutoff = cutoff or default_cutoff(days, DEFAULT_HISTORY_DAYS)
    scored_days = [day for day in days if day >= cutoff]
    if not scored_days:
        raise EvaluationError(f"no data on or after the cut-off {cutoff}; last day is {days[-1]}")
    parts = _split(events, labelled, split, cutoff, test_fraction, seed)

    _say(progress, f"running ztad over {len(scored_days)} days from {cutoff}")
    run = run_ztad(source, scored_days, config, rerun=rerun, progress=progress)
    scored, shap_models = run.scored, run.shap_models
    target_fpr = {day: run.target_fpr.get(day, config.detection.target_fpr) for day in scored_days}
    ablated = None
    if ablation:
        _say(progress, f"running ztad again over {len(scored_days)} days without the "
                       "known-network and cold-start logic")
        ablated = run_ztad(source, scored_days, ablated_config(config), progress=progress,
                           label="ablation").scored

    _say(progress, f"fitting the origin method on {len(parts.train)} events ({split} split)")
    settings = origin_settings or OriginSettings(seed=seed)
    model, origin = run_origin(parts.train, parts.test, settings)
    evaluated = parts.test[parts.test["event_id"].astype("string").isin(
        scored["event_id"].astype("string"))]
    sweep_table = None
    if sweep:
        _say(progress, "running the origin tuning sweep")
        sweep_table = tuning_sweep(model, evaluated)
    if model.isolation_forest is not None:
        sample = evaluated.sample(n=min(SHAP_SAMPLE_ROWS, len(evaluated)), random_state=seed)
        shap_models["origin isolation_forest"] = (model.isolation_forest, model.transform(sample))
    protocol = {
        "split": split,
        "description": parts.description,
        "cutoff": cutoff.isoformat(),
        "origin_train_events": len(parts.train),
        "ztad": "day-by-day pipeline from the cut-off; each day's baseline and model use "
                "only the days before it",
        "target_fpr_from_run_records": len(run.target_fpr),
    }
    return evaluate_scored(
        scored,
        origin,
        events=events,
        protocol=protocol,
        sweep=sweep_table,
        shap_models=shap_models,
        report_dir=report_dir,
        progress=progress,
        target_fpr=target_fpr,
        ablated=ablated,
    )
