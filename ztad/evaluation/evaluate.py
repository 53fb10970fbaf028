"""``ztad evaluate``: score labelled logs with ztad and with the origin method, and compare.

:func:`evaluate` loads the labelled events and splits them at the cut-off. The origin method
trains once on the history before it and scores every later event. ztad runs its own
day-by-day pipeline over the scored days (in a throwaway state folder, so that evaluation
never touches the findings of real runs), in two modes:

``walk_forward`` (the job as it runs in production)
    Each day is scored with the model registered before it, then learned from: its unflagged
    events join the baselines and the training rows, and the retrain policy (every
    ``retrain_every_days``, on drift, on a budget change) retrains on the latest days, scored
    days included. Events the model flagged on their day are kept out of fitting (they only
    count in calibration) and rule hits are left out altogether; labels are never read.
``frozen`` (like the origin method)
    The detectors are trained once, at the cut-off, on the history before it, and score every
    later day without retraining; the behavioural baselines still learn day by day, as they
    do in the job.

Both are measured on the same events and reported side by side (``metrics["ztad"]`` is the
walk-forward run, ``metrics["ztad_frozen"]`` the frozen one; ``metrics["ztad_modes"]`` says
which model scored each day). :func:`evaluate_scored` computes every metric from a frame of
scored events and writes the report; anything that can produce that frame (a pipeline run, a
saved file, a test) can be evaluated the same way.

The origin method's tuning sweep runs on validation events held out of its training history
(the last days before the cut-off), never on scored events
(:func:`ztad.evaluation.splits.validation_split`). The SHAP view explains ztad's own registered
model (its Isolation Forest member, on the last scored day's events) beside the origin forest.

The scored-events frame has one row per event with the columns ``event_id``, ``timestamp``,
``event_label``, optionally ``scenario``, and ztad's output: ``score`` (final, higher = more
anomalous), ``flagged`` (final decision), one ``score_<detector>`` column per detector and,
where a detector decides on its own, ``flag_<detector>``. The pipeline's frames also carry
``model_flag`` (the ensemble's own decision), from which the alert budget is checked
(:mod:`ztad.evaluation.budget`).

``evaluate(..., ablation=True)`` scores the same days a third time with the known-network,
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
from ztad.evaluation.explain import explain_models, explanation_metrics
from ztad.evaluation.metrics import (
    GroundTruth,
    detector_metrics,
    labelled_only,
    require_both_classes,
    require_labels,
)
from ztad.evaluation.origin import OriginResult, OriginSettings, fit_origin, run_origin, tuning_sweep
from ztad.evaluation.splits import (
    DEFAULT_HISTORY_DAYS,
    DEFAULT_TEST_FRACTION,
    DEFAULT_VALIDATION_DAYS,
    PROTOCOLS,
    Split,
    default_cutoff,
    event_days,
    random_split,
    time_split,
    validation_split,
)
from ztad.schema import is_anomaly_label

Progress = Callable[[str], None] | None

SCORE_PREFIX = "score_"
#: The ensemble's combined score, before rules (``score`` is the final one).
ENSEMBLE_SCORE = "ensemble_score"
FLAG_PREFIX = "flag_"
REQUIRED_SCORED_COLUMNS = ("event_id", "timestamp", "score", "flagged")
#: The incident the job filed a flagged event under (optional; else incidents are user-days).
INCIDENT_COLUMN = "incident_id"
#: Rows of a tree model's input explained by SHAP: enough for a summary, cheap to compute.
SHAP_SAMPLE_ROWS = 500
#: ztad's evaluation modes, in words (see the module docstring).
ZTAD_MODES: dict[str, str] = {
    "walk_forward": "day by day from the cut-off as the job runs: each day is scored, then learned "
                    "from; the detectors retrain under the retrain policy on the latest days, scored "
                    "days included, without the events they flagged and never with labels",
    "frozen": "the detectors are trained once at the cut-off on the history before it and never "
              "retrained, like the origin method; the baselines still learn day by day",
}


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
    out = {"final": detector_metrics(truth, scored["score"], scored["flagged"].astype(bool),
                                     incidents=scored.get(INCIDENT_COLUMN))}
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
    frozen: pd.DataFrame | None = None,
    sweep_protocol: dict | None = None,
    modes: dict | None = None,
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
        Title -> (fitted tree model, feature sample) or (model, sample, model version) for the
        SHAP view; ``metrics["shap"]`` keeps each one's mean absolute SHAP value per feature.
    report_dir
        Where to write ``report.html`` and ``metrics.json``; ``None`` writes nothing.
    target_fpr
        The alert budget the scored days were run with (one value, or per day as the run
        records kept it). With it, and the ensemble's decisions in ``model_flag``, the
        metrics hold ``budget``: expected against actual alerts per day and in total.
    ablated
        The same days scored without the known-network and cold-start logic; with it the
        metrics hold ``ablation`` (:func:`ztad.evaluation.ablation.ablation_metrics`).
    frozen
        The same days scored by ztad with its detectors trained once at the cut-off; with it
        the metrics hold ``ztad_frozen`` (its metrics on the same events).
    sweep_protocol
        Which validation events the tuning sweep ran on, or why it did not run.
    modes
        ztad's evaluation modes and the model that scored each day in each
        (``metrics["ztad_modes"]``).

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
    frozen_scored = None if frozen is None else same_events(_check_scored(frozen), scored)
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
        "origin_sweep_protocol": sweep_protocol or {},
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
    if frozen_scored is not None:
        metrics["ztad_frozen"] = _ztad_metrics(frozen_scored, truth)
    if modes:
        metrics["ztad_modes"] = modes
    if budget is not None:
        metrics["budget"] = budget
    if ablation is not None:
        metrics["ablation"] = ablation
    explanations = []
    if shap_models:
        _say(progress, f"explaining {len(shap_models)} tree model(s) with SHAP")
        explanations = explain_models(shap_models)
        metrics["shap"] = explanation_metrics(explanations)
    if report_dir is not None:
        _write(report_dir, metrics, scored, origin, truth, events, explanations, progress, frozen_scored)
    return metrics


def same_events(other: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    """``other``'s rows for the events of ``scored``, in its order (matched by ``event_id``).

    Raises
    ------
    EvaluationError
        When ``other`` lacks some of the events.
    """
    ids = pd.Index(other["event_id"].astype("string"))
    positions = ids.get_indexer(scored["event_id"].astype("string"))
    if (positions < 0).any():
        missing = int((positions < 0).sum())
        raise EvaluationError(f"the second ztad run lacks {missing} of the evaluated events; both runs must score the same days")
    return other.iloc[positions].reset_index(drop=True)


def _day_span(truth: GroundTruth) -> str | None:
    if truth.days is None or truth.days.empty:
        return None
    return f"{truth.days.min()}..{truth.days.max()}"


def _write(report_dir, metrics, scored, origin, truth, events, explanations, progress, frozen=None) -> None:
    from ztad.evaluation.report import ReportData, write_report

    scores = {"ztad final": scored["score"].to_numpy(dtype=np.float64)}
    if frozen is not None:
        scores["ztad frozen final"] = frozen["score"].to_numpy(dtype=np.float64)
    for name in ztad_detectors(scored):
        scores[f"ztad {name}"] = scored[f"{SCORE_PREFIX}{name}"].to_numpy(dtype=np.float64)
    if origin is not None:
        for name in origin.detectors:
            scores[f"origin {name}"] = origin.scores[name].to_numpy(dtype=np.float64)
    data = ReportData(
        truth=truth,
        scores=scores,
        events=scored if events is None else events,
        explanations=explanations,
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
    """Concatenate the pipeline's scored events of each day, each flagged event with the
    incident its finding was filed under (``incident_id``)."""
    from ztad import pipeline

    frames = [pipeline.scored_events(day, config) for day in days]
    scored = pd.concat(frames, ignore_index=True)
    return scored.assign(**{INCIDENT_COLUMN: stored_incidents(scored["event_id"], days, config)})


def stored_incidents(event_ids: pd.Series, days: list[date], config: JobConfig) -> np.ndarray:
    """The incident id of each event's stored finding (missing for events without one)."""
    from ztad.store import FindingsStore

    with FindingsStore(config.resolved_database_url) as store:
        findings = pd.concat([store.findings(day)[["event_id", "incident_id"]] for day in days],
                             ignore_index=True)
    by_event = findings.drop_duplicates("event_id").set_index("event_id")["incident_id"].astype("string")
    return by_event.reindex(event_ids.astype("string").to_numpy()).to_numpy()


def with_attack_ids(scored: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """``scored`` with the ``attack_id`` of its events taken from the source (matched by
    ``event_id``) where the scored files lack it (written before the schema had it)."""
    if "attack_id" not in events.columns or scored.get("attack_id", pd.Series(dtype="string")).notna().any():
        return scored
    ids = events.drop_duplicates("event_id").set_index(events["event_id"].astype("string"))["attack_id"]
    return scored.assign(attack_id=ids.reindex(scored["event_id"].astype("string").to_numpy()).to_numpy())


def own_tree_model(day: date, version: str | None, config: JobConfig, seed: int) -> dict:
    """ztad's own registered model that scored ``day``, ready for the SHAP view: its Isolation
    Forest member and a sample of the day's features, loaded through the job's registry (so
    checked against the findings database like any load). Empty when the model has no
    Isolation Forest member or the day no model."""
    from ztad import pipeline
    from ztad.pipeline.workfiles import read_parquet

    if version is None:
        return {}
    model = pipeline.model_registry(config).load(version).model
    members = getattr(model, "detectors_", {model.name: model} if hasattr(model, "name") else {})
    forest = members.get("isolation_forest")
    if forest is None:
        return {}
    features = read_parquet(pipeline.day_dir(config, day) / "features.parquet")[list(model.feature_names_in_)]
    sample = features.sample(n=min(SHAP_SAMPLE_ROWS, len(features)), random_state=seed).reset_index(drop=True)
    return {f"ztad isolation_forest ({version}, scoring {day})": (forest.model_, sample, version)}


@dataclass
class ZtadRun:
    """What ztad's pipeline produced for the scored days.

    Attributes
    ----------
    scored
        The scored events of every day.
    shap_models
        Title -> (tree model, feature sample, model version) for the SHAP view: the Isolation
        Forest member of the model that scored the last day.
    target_fpr
        Day -> the alert budget its run record kept (days without one are left out).
    models
        Day -> ``{"model_version", "model_action"}`` of its run record: which model scored
        it, and whether the run trained or loaded it.
    """

    scored: pd.DataFrame
    shap_models: dict[str, tuple] = field(default_factory=dict)
    target_fpr: dict[date, float] = field(default_factory=dict)
    models: dict[date, dict] = field(default_factory=dict)


def latest_runs(days: list[date], config: JobConfig) -> pd.DataFrame:
    """The latest successful run record of each of ``days``."""
    from ztad.store import FindingsStore

    with FindingsStore(config.resolved_database_url) as store:
        runs = store.runs()
    kept = runs[(runs["status"] == "success") & runs["day"].isin(set(days))]
    return kept.sort_values(["day", "finished_at"]).groupby("day").tail(1)


def run_targets(days: list[date], config: JobConfig) -> dict[date, float]:
    """Day -> the target false-positive rate of its latest successful run record."""
    latest = latest_runs(days, config)
    latest = latest[latest["target_fpr"].notna()]
    return {day: float(target) for day, target in zip(latest["day"], latest["target_fpr"])}


def _collect(days: list[date], config: JobConfig, seed: int) -> ZtadRun:
    latest = latest_runs(days, config)
    models = {
        day: {"model_version": version, "model_action": action}
        for day, version, action in zip(latest["day"], latest["model_version"], latest["model_action"])
    }
    last = max(days)
    return ZtadRun(
        scored=collect_scored_events(days, config),
        shap_models=own_tree_model(last, models.get(last, {}).get("model_version"), config, seed),
        target_fpr=run_targets(days, config),
        models=models,
    )


def frozen_config(config: JobConfig, days: list[date]) -> JobConfig:
    """``config`` whose detectors, once trained at the first scored day, are never retrained
    over ``days``: no model grows old within them, and no drift is large enough. Budget,
    features and libraries stay as they are, so nothing else retrains either."""
    from dataclasses import replace

    span = (max(days) - min(days)).days + 1
    frozen = replace(config.detection, retrain_every_days=span + 1, psi_threshold=float("inf"))
    return config.with_overrides(detection=frozen)


def run_ztad(
    source: SourceConfig,
    days: list[date],
    config: JobConfig,
    *,
    rerun: bool = True,
    progress: Progress = None,
    label: str = "ztad",
) -> ZtadRun:
    """ztad's scored events for ``days``, their run records' budgets and models, and the tree
    model that scored the last day.

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
                       f"{summary.rows_flagged} flagged, model {summary.model_action} ({done}/{total})")

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


def origin_sweep(parts: Split, settings: OriginSettings, seed: int, progress: Progress = None,
                 validation_days: int = DEFAULT_VALIDATION_DAYS) -> tuple[pd.DataFrame | None, dict]:
    """The origin method's tuning sweep on validation events held out of its training history
    (:func:`ztad.evaluation.splits.validation_split`), never on scored events.

    Returns the sweep table (``None`` when it cannot run) and what it ran on, or why not: the
    validation events need both normal and anomalous labels.
    """
    try:
        inner = validation_split(parts, days=validation_days, seed=seed)
    except EvaluationError as error:
        _say(progress, f"origin tuning sweep not run: {error}")
        return None, {"ran": False, "reason": str(error)}
    labels = is_anomaly_label(inner.test["event_label"]).dropna().astype(bool)
    if labels.all() or not labels.any():
        reason = (f"its validation events ({inner.description}) hold {int(labels.sum())} anomalous "
                  f"and {int((~labels).sum())} normal events; tuning needs both (choose a later cut-off)")
        _say(progress, f"origin tuning sweep not run: {reason}")
        return None, {"ran": False, "reason": reason}
    _say(progress, f"running the origin tuning sweep on {len(inner.test)} validation events")
    model = fit_origin(inner.train, settings)
    about = {
        "ran": True,
        "validation": inner.description,
        "validation_events": len(inner.test),
        "validation_anomalies": int(labels.sum()),
        "fit_events": len(inner.train),
    }
    return tuning_sweep(model, inner.test), about


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
    frozen: bool = True,
    validation_days: int = DEFAULT_VALIDATION_DAYS,
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
        Also run the origin tuning sweep, on validation events before the cut-off.
    test_fraction
        Held-out share of the random protocol (and of its validation events).
    ablation
        Also score the scored days without the known-network, cold-start and plausible-travel
        logic (always afresh, in a throwaway folder of its own) and compare the false
        positives on the hard negatives.
    frozen
        Also run ztad in its frozen mode (detectors trained once at the cut-off; always afresh)
        and report it beside the walk-forward run.
    validation_days
        Days of history before the cut-off that validate the tuning sweep (time protocol).
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

    _say(progress, f"running ztad (walk-forward) over {len(scored_days)} days from {cutoff}")
    run = run_ztad(source, scored_days, config, rerun=rerun, progress=progress)
    scored, shap_models = with_attack_ids(run.scored, events), dict(run.shap_models)
    target_fpr = {day: run.target_fpr.get(day, config.detection.target_fpr) for day in scored_days}
    modes = {"walk_forward": _mode_summary("walk_forward", run)}
    frozen_run = None
    if frozen:
        _say(progress, f"running ztad (frozen: trained once at {cutoff}) over {len(scored_days)} days")
        frozen_run = run_ztad(source, scored_days, frozen_config(config, scored_days), progress=progress,
                              label="frozen")
        modes["frozen"] = _mode_summary("frozen", frozen_run)
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
    sweep_table, sweep_protocol = (None, {"ran": False, "reason": "not asked for"})
    if sweep:
        sweep_table, sweep_protocol = origin_sweep(parts, settings, seed, progress, validation_days)
    if model.isolation_forest is not None:
        sample = evaluated.sample(n=min(SHAP_SAMPLE_ROWS, len(evaluated)), random_state=seed)
        shap_models["origin isolation_forest"] = (model.isolation_forest, model.transform(sample))
    protocol = {
        "split": split,
        "description": parts.description,
        "cutoff": cutoff.isoformat(),
        "origin_train_events": len(parts.train),
        "ztad": ZTAD_MODES["walk_forward"],
        "ztad_frozen": ZTAD_MODES["frozen"] if frozen else None,
        "target_fpr_from_run_records": len(run.target_fpr),
    }
    metrics = evaluate_scored(
        scored,
        origin,
        events=events,
        protocol=protocol,
        sweep=sweep_table,
        sweep_protocol=sweep_protocol,
        shap_models=shap_models,
        report_dir=report_dir,
        progress=progress,
        target_fpr=target_fpr,
        ablated=ablated,
        frozen=None if frozen_run is None else frozen_run.scored,
        modes=modes,
    )
    return metrics


def _mode_summary(mode: str, run: ZtadRun) -> dict:
    """What a mode is, and which model scored each day (trained or loaded)."""
    by_day = {day.isoformat(): facts for day, facts in sorted(run.models.items())}
    versions = [facts["model_version"] for facts in by_day.values()]
    return {
        "description": ZTAD_MODES[mode],
        "models": by_day,
        "distinct_models": len(dict.fromkeys(versions)),
        "trained_days": [day for day, facts in by_day.items() if facts["model_action"] == "trained"],
    }
