"""One day of the detection job, end to end, with no orchestrator.

The same functions run from the CLI, from the tests and from each Airflow task. Each step
reads and writes files in the day's work folder (``<home>/work/day=YYYY-MM-DD``) and returns a
small JSON-able dict, so that every step can run in its own process:

1. :func:`pull` loads the day's events and quarantines bad rows;
2. :func:`update_baselines` builds the baseline as it stood before the day and computes the
   day's behavioural features;
3. :func:`prepare_detectors` loads the latest model or trains a new one;
4. :func:`score` scores the events, applies the calibrated threshold and the behavioural rules;
5. :func:`write_findings` replaces the day's findings and run record, and indexes the day's
   model in the ``models`` table, in one transaction, then teaches the baseline the day's
   unflagged events.

:func:`run_day` runs all five; :func:`run_range` runs consecutive days (a backfill).

A large day can be spread over several workers in shards of users (:mod:`ztad.sharding`):
:func:`cross_user` prepares the day once, then steps 2 and 4 run per ``shard``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.detection.training import TRAINING_DAY, TRAINING_DAY_ROWS, TRAINING_FLAGGED, training_window

if TYPE_CHECKING:
    from ztad.sharding import Shard

log = logging.getLogger(__name__)

STEPS = ("pull", "update_baselines", "prepare_detectors", "score", "write_findings")


@dataclass
class RunSummary:
    """What one day's run did: the counts and timings that also land in the ``runs`` table."""

    day: date
    run_id: str
    status: str
    rows_read: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_scored: int = 0
    rows_flagged: int = 0
    model_version: str | None = None
    model_action: str | None = None
    threshold: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    message: str = ""
    target_fpr: float | None = None
    expected_alerts: float | None = None
    rows_model_flagged: int | None = None
    rows_rule_flagged: int | None = None

    @classmethod
    def from_steps(
        cls, day: date, run_id: str, dry_run: bool, pulled: dict, decision: dict, scored: dict,
        timings: dict[str, float],
    ) -> "RunSummary":
        """The summary of a finished run, from what its pull, detector and score steps returned."""
        return cls(
            day=day,
            run_id=run_id,
            status="dry_run" if dry_run else "success",
            timings=timings,
            **step_counts(pulled, decision, scored),
        )

    def as_dict(self) -> dict:
        """A JSON-able copy (the day as an ISO string)."""
        out = asdict(self)
        out["day"] = self.day.isoformat()
        return out


def step_counts(pulled: dict, decision: dict, scored: dict) -> dict:
    """What both a run's summary and its stored record report, from what its pull, detector
    and score steps returned: row counts, the model and why, the threshold and the budget."""
    return {
        "rows_read": pulled["rows_read"],
        "rows_quarantined": pulled["rows_quarantined"],
        "rows_duplicate": pulled["rows_duplicate"],
        "rows_scored": scored["rows_scored"],
        "rows_flagged": scored["rows_flagged"],
        "model_version": decision["model_version"],
        "model_action": decision["action"],
        "threshold": scored["threshold"],
        "message": decision.get("reason", ""),
        **alert_budget(scored),
    }


def alert_budget(scored: dict) -> dict:
    """The day's alert budget from what the score step returned: the target false-positive
    rate, the alerts it promises (``target_fpr x rows_scored``), and what the ensemble alone
    and the rules flagged (``None`` for a day scored before these were counted)."""
    target = scored.get("target_fpr")
    return {
        "target_fpr": target,
        "expected_alerts": None if target is None else float(target) * int(scored["rows_scored"]),
        "rows_model_flagged": scored.get("rows_model_flagged"),
        "rows_rule_flagged": scored.get("rows_rule_flagged"),
    }


# --------------------------------------------------------------------------- work files


def day_dir(config: JobConfig, day: date, shard: Shard | None = None) -> Path:
    """The folder holding one day's intermediate files (a shard's own inside it)."""
    folder = Path(config.work_dir) / f"day={day.isoformat()}"
    return folder if shard is None else folder / shard.folder_name


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(path)


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run the earlier pipeline steps for this day first"
        )
    return json.loads(path.read_text())


def _optional_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _started_at(folder: Path) -> datetime:
    """When :func:`run_day` started this day's run (now, for a step run on its own)."""
    started = _optional_json(folder / "started.json").get("started_at")
    return datetime.fromisoformat(started) if started else datetime.now(timezone.utc)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically so a killed step never leaves a half file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run the earlier pipeline steps for this day first"
        )
    return pd.read_parquet(path)


# --------------------------------------------------------------------------- step 1: pull


def pull(day: date, config: JobConfig) -> dict:
    """Load the day's events, quarantine bad rows, and keep both in the work folder.

    Raises
    ------
    ztad.ingest.MissingPartitionError
        When the source has no data at all for the day (never a silent "0 findings").
    """
    from ztad.ingest import load_day

    result = load_day(config.source, day)
    folder = day_dir(config, day)
    _write_parquet(result.events, folder / "events.parquet")
    _write_parquet(result.quarantine.astype({"raw": "string"}), folder / "quarantine.parquet")
    counts = {
        "day": day.isoformat(),
        "rows_read": int(result.rows_read),
        "rows_quarantined": int(len(result.quarantine)),
        "rows_duplicate": int(result.duplicates),
        "rows_valid": int(len(result.events)),
    }
    _write_json(folder / "pull.json", counts)
    if counts["rows_quarantined"]:
        log.warning(
            "%s: %d of %d rows quarantined (see the quarantine table for row, field, reason)",
            day, counts["rows_quarantined"], counts["rows_read"],
        )
    return counts


# --------------------------------------------------------------------------- step 2: baselines


def _history_loader(config: JobConfig) -> Callable[[date], pd.DataFrame]:
    """A loader of one past day's events for baselines; a day with no data is empty."""
    from ztad.schema import empty_events
    from ztad.ingest import MissingPartitionError, load_day

    def load(past_day: date) -> pd.DataFrame:
        try:
            return load_day(config.source, past_day).events
        except MissingPartitionError:
            return empty_events()

    return load


def _baseline(config: JobConfig, day: date):
    from ztad.behaviour.baselines import baseline_as_of

    return baseline_as_of(
        config.state_dir, day, config.detection.history_days, _history_loader(config)
    )


def update_baselines(day: date, config: JobConfig, *, shard: Shard | None = None) -> dict:
    """Build the baseline as of the start of ``day`` and compute the day's features.

    With a ``shard``, only that shard's users, once :func:`cross_user` has prepared the day:
    the analysts' feedback is already applied, the baseline is the one it built, and the
    counts across users come from the whole day.
    """
    from ztad.behaviour.features import compute_features
    from ztad.sharding import load_baseline

    folder = day_dir(config, day, shard)
    events = _read_parquet(folder / "events.parquet")
    if shard is None:
        feedback, baseline, whole_day = _read_feedback(day, config), _baseline(config, day), None
    else:
        feedback, baseline = {}, load_baseline(day_dir(config, day), day)
        whole_day = _read_parquet(folder / "cross_user.parquet")
    features = compute_features(
        events, baseline, config.detection, config.detection.feature_settings, cross_user=whole_day
    )
    _write_parquet(features, folder / "features.parquet")
    return {"day": day.isoformat(), "rows": int(len(features)), "features": len(features.columns), **feedback}


def cross_user(day: date, config: JobConfig, shards: int = 1) -> dict:
    """Prepare the day for :func:`update_baselines` and :func:`score` in ``shards`` parts.

    Applies the analysts' feedback and builds the baseline once (kept for the shards),
    computes the counts that look across users (users per IP today, password-spray counts)
    over the whole day, and gives each shard of users its events and their counts
    (:mod:`ztad.sharding`).
    """
    from ztad.behaviour.features import cross_user_signals
    from ztad.sharding import split_day

    folder = day_dir(config, day)
    events = _read_parquet(folder / "events.parquet")
    feedback = _read_feedback(day, config)
    baseline = _baseline(config, day)
    signals = cross_user_signals(events, baseline, config.detection, config.detection.feature_settings)
    split = split_day(folder, events, signals, shards, baseline)
    return {"day": day.isoformat(), **split, **feedback}


def _read_feedback(day: date, config: JobConfig) -> dict:
    """Apply analysts' verdicts before the day is judged: rebuild the past days they changed
    and keep the day's allowlist for scoring (see :mod:`ztad.feedback`)."""
    from ztad.feedback import apply_feedback

    return apply_feedback(
        day,
        config,
        _history_loader(config),
        lambda past_day: training_features_path(config, past_day),
        day_dir(config, day),
    )


# --------------------------------------------------------------------------- step 3: detectors


def training_features_path(config: JobConfig, day: date) -> Path:
    """Where the unflagged feature vectors of a past day are kept for training."""
    return Path(config.state_dir) / "training" / f"day={day.isoformat()}.parquet"


def _training_features_of(config: JobConfig, past_day: date) -> pd.DataFrame:
    """Feature vectors of one past day: those kept after scoring it, else computed now.

    A day that was never scored (history before the job started) is taken as it is; of a day
    whose findings are stored, the flagged and confirmed events are left out.
    """
    from ztad.feedback import learnable_events
    from ztad.behaviour.features import compute_features

    path = training_features_path(config, past_day)
    if path.exists():
        return pd.read_parquet(path)
    events = _history_loader(config)(past_day)
    if events.empty:
        return pd.DataFrame()
    detection = config.detection
    features = compute_features(events, _baseline(config, past_day), detection, detection.feature_settings)
    keep = learnable_events(config, past_day, events["event_id"])
    features = features[keep].reset_index(drop=True).assign(event_id=events["event_id"].to_numpy()[keep])
    _write_parquet(features, path)
    return features


def _training_matrix(config: JobConfig, day: date) -> pd.DataFrame:
    """Feature vectors of the training window, each row tagged with its day, its day's row
    count and whether the model flagged it when that day was scored.

    Rows beyond ``max_training_rows`` are dropped by a seeded uniform sample.
    """
    from ztad.behaviour.features import FEATURE_NAMES

    start, end = training_window(config, day)
    frames = []
    for offset in range((end - start).days):
        past_day = start + timedelta(days=offset)
        frame = _training_features_of(config, past_day)
        if not frame.empty:
            flagged = frame[TRAINING_FLAGGED] if TRAINING_FLAGGED in frame.columns else False
            frames.append(
                frame[list(FEATURE_NAMES)].assign(
                    **{TRAINING_DAY: past_day, TRAINING_FLAGGED: flagged, TRAINING_DAY_ROWS: len(frame)}
                )
            )
    if not frames:
        raise RuntimeError(
            f"no history to train on for {day}: days {start}..{end - timedelta(days=1)} "
            "have no events. Load some history first, or score later days."
        )
    matrix = pd.concat(frames, ignore_index=True)
    cap = config.detection.max_training_rows
    if len(matrix) > cap:
        matrix = matrix.sample(n=cap, random_state=config.detection.seed).sort_index()
    return matrix.reset_index(drop=True)


def prepare_detectors(day: date, config: JobConfig, retrain: bool = False) -> dict:
    """Load the newest model trained before ``day``, or train one, and say which and why."""
    from ztad.detection.policy import train_or_load

    decision = train_or_load(
        day,
        config,
        training_matrix=lambda: _training_matrix(config, day),
        day_features=lambda: _read_parquet(day_dir(config, day) / "features.parquet"),
        force_retrain=retrain,
    )
    _write_json(day_dir(config, day) / "detectors.json", decision)
    return decision


# --------------------------------------------------------------------------- step 4: score


def score(day: date, config: JobConfig, *, shard: Shard | None = None) -> dict:
    """Score the day against the chosen model and rules; flag what crosses the threshold.

    With a ``shard``, only that shard's events, with the day's model.
    """
    from ztad.detection.scoring_model import load_model
    from ztad.behaviour.rules import evaluate_rules

    folder = day_dir(config, day, shard)
    features = _read_parquet(folder / "features.parquet")
    decision = _read_json(day_dir(config, day) / "detectors.json")
    model = load_model(config, decision["model_version"])
    scored = model.score(features)
    rule_hits = evaluate_rules(features)
    scored["rule_hit"] = rule_hits.any(axis=1).to_numpy()
    scored["score"] = final_score(scored["ensemble_score"], scored["rule_hit"], model.threshold)
    scored["flagged"] = scored["model_flag"].to_numpy() | scored["rule_hit"].to_numpy()
    scored["suppressed"] = _suppressed(folder, features, rule_hits, scored["flagged"], day_dir(config, day))
    scored["flagged"] = scored["flagged"].to_numpy() & ~scored["suppressed"].to_numpy()
    rule_hits.columns = [f"rule_{c}" for c in rule_hits.columns]
    scored = pd.concat([scored, rule_hits.reset_index(drop=True)], axis=1)
    _write_parquet(scored, folder / "scored.parquet")
    if shard is None:  # a sharded day is explained once gathered: see attribute_scores
        _write_attributions(folder, model, features, scored["flagged"], scored["score"])
    result = {
        "day": day.isoformat(),
        "rows_scored": int(len(scored)),
        "rows_flagged": int(scored["flagged"].sum()),
        "rows_suppressed": int(scored["suppressed"].sum()),
        "rows_model_flagged": int(scored["model_flag"].sum()),
        "rows_rule_flagged": int(scored["rule_hit"].sum()),
        "threshold": float(model.threshold),
        "target_fpr": float(model.ensemble.target_fpr),
        "model_version": decision["model_version"],
    }
    _write_json(folder / "score.json", result)
    return result


def _suppressed(
    folder: Path, features: pd.DataFrame, rule_hits: pd.DataFrame, flagged: pd.Series, day_folder: Path
) -> np.ndarray:
    """Flagged events that analysts' false positives cover (:mod:`ztad.feedback`); the
    feedback is the day's (``day_folder``), the events are ``folder``'s (a shard's, maybe)."""
    from ztad.feedback import load_day_feedback, suppressed_mask

    feedback = load_day_feedback(day_folder)
    if feedback.allowlist.empty or not flagged.any():
        return np.zeros(len(flagged), dtype=bool)
    events = _read_parquet(folder / "events.parquet")
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
    (:func:`ztad.sharding.gather_scores`): which flagged events get the costly exact
    explanations depends on the whole day's ranking.
    """
    from ztad.detection.scoring_model import load_model

    folder = day_dir(config, day)
    features = _read_parquet(folder / "features.parquet")
    scored = _read_parquet(folder / "scored.parquet")
    model = load_model(config, _read_json(folder / "detectors.json")["model_version"])
    _write_attributions(folder, model, features, scored["flagged"], scored["score"])


def _write_attributions(
    folder: Path, model, features: pd.DataFrame, flagged: pd.Series, priority: pd.Series
) -> None:
    """Per-feature attributions of each member for the flagged rows, while the model is loaded
    (exact TreeSHAP for those with the highest ``priority``)."""
    from ztad.findings.attributions import attribution_table

    table = attribution_table(model.ensemble, features, flagged.to_numpy(), priority=priority.to_numpy())
    _write_parquet(table, folder / "attributions.parquet")


#: How far above the model threshold a behavioural rule hit ranks, in ensemble score units.
RULE_MARGIN = 1.0


def final_score(ensemble_score: pd.Series, rule_hit: pd.Series, threshold: float) -> np.ndarray:
    """One score for the whole decision: the ensemble's, lifted above the threshold by a rule.

    A rule hit is flagged whatever the models say, so it must also rank above every event
    that the models alone would not flag; among rule hits the ensemble still orders them.
    """
    values = ensemble_score.to_numpy(dtype=float)
    lifted = np.maximum(values, threshold) + RULE_MARGIN
    return np.where(rule_hit.to_numpy(dtype=bool), lifted, values)


def scored_events(day: date, config: JobConfig) -> pd.DataFrame:
    """The day's events joined with their scores, flags and rule hits (for evaluation)."""
    folder = day_dir(config, day)
    events = _read_parquet(folder / "events.parquet")
    scored = _read_parquet(folder / "scored.parquet")
    return pd.concat([events.reset_index(drop=True), scored.reset_index(drop=True)], axis=1)


# --------------------------------------------------------------------------- step 5: write


def _findings_frame(day: date, config: JobConfig, run_id: str, decision: dict) -> pd.DataFrame:
    from ztad.findings.sentences import explain
    from ztad.findings.build import build_findings, enrich_findings

    folder = day_dir(config, day)
    events = _read_parquet(folder / "events.parquet")
    features = _read_parquet(folder / "features.parquet")
    scored = _read_parquet(folder / "scored.parquet")
    flagged = scored["flagged"].to_numpy()
    rule_hits = scored[[c for c in scored.columns if c.startswith("rule_") and c != "rule_hit"]]
    rule_hits = rule_hits.rename(columns=lambda c: c.removeprefix("rule_"))
    reasons = explain(events, features, rule_hits, flagged)
    findings = build_findings(
        day=day,
        events=events[flagged],
        scored=scored[flagged],
        reasons=reasons,
        model_version=decision["model_version"],
        run_id=run_id,
    )
    attributions, exact_shap = _read_attributions(folder, flagged)
    return enrich_findings(
        findings,
        events=events[flagged],
        features=features[flagged],
        scored=scored[flagged],
        rule_hits=rule_hits[flagged],
        attributions=attributions,
        exact_shap=exact_shap,
        sensitive_resources=config.detection.sensitive_resources,
        day_features=features,
    )


def _read_attributions(folder: Path, flagged: np.ndarray) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """The score step's attributions and exact-SHAP marks, aligned with the flagged rows."""
    from ztad.findings.attributions import exact_mask, split_table

    rows = np.flatnonzero(flagged)
    path = folder / "attributions.parquet"
    if not path.exists():
        return {}, np.zeros(len(rows), dtype=bool)
    table = pd.read_parquet(path)
    frames = {
        member: frame.reindex(rows, fill_value=0.0).reset_index(drop=True)
        for member, frame in split_table(table).items()
    }
    return frames, exact_mask(table).reindex(rows, fill_value=False).to_numpy(bool)


def _learn_day(day: date, config: JobConfig) -> None:
    """Teach the baseline the day's unflagged events and false positives, and the training set
    its unflagged events; confirmed attacks go to neither (:mod:`ztad.feedback`)."""
    from ztad.behaviour.baselines import daily_aggregate, save_daily_aggregate
    from ztad.feedback import baseline_mask, day_verdicts, record_fingerprint, training_mask

    folder = day_dir(config, day)
    events = _read_parquet(folder / "events.parquet")
    features = _read_parquet(folder / "features.parquet")
    scored = _read_parquet(folder / "scored.parquet")
    flagged = scored["flagged"].to_numpy()
    verdicts = day_verdicts(config, day)
    keep = baseline_mask(events["event_id"], flagged, verdicts)
    save_daily_aggregate(daily_aggregate(events[keep]), config.state_dir, day)
    # Model-only alerts stay in the file, marked, so that calibration sees the whole tail it
    # budgets; rule hits and confirmed attacks are left out altogether.
    train = training_mask(events["event_id"], scored["rule_hit"].to_numpy(), verdicts)
    training = features[train].reset_index(drop=True).assign(
        event_id=events["event_id"].to_numpy()[train], **{TRAINING_FLAGGED: flagged[train]}
    )
    _write_parquet(training, training_features_path(config, day))
    record_fingerprint(config.state_dir, day, verdicts)


def _model_record(day: date, config: JobConfig, run_id: str, decision: dict):
    """The registry's index row of the day's model, with this run as its trainer when it
    trained it (a run that loaded it leaves the training run's reason in place)."""
    from ztad.detection.registry import ModelRegistry
    from ztad.store import ModelRecord

    facts = ModelRegistry(config.model_dir).index_record(decision["model_version"])
    if decision["action"] != "trained":
        return ModelRecord(**facts)
    return ModelRecord(**facts, train_reason=decision.get("reason"), trained_for_day=day, run_id=run_id)


def write_findings(day: date, config: JobConfig, run_id: str, dry_run: bool = False) -> dict:
    """Replace the day's findings, incidents, user risk, quarantine rows and run record, and
    upsert the day's model into the registry's index (``models``), in one transaction.

    With ``dry_run`` nothing is written anywhere; the counts are still returned.
    """
    from ztad.feedback import sync_allowlist
    from ztad.findings.incidents import build_incidents
    from ztad.findings.risk import user_risk
    from ztad.store import FindingsStore, RunRecord

    folder = day_dir(config, day)
    pulled = _read_json(folder / "pull.json")
    decision = _read_json(folder / "detectors.json")
    scored = _read_json(folder / "score.json")
    findings = _findings_frame(day, config, run_id, decision)
    quarantine = _read_parquet(folder / "quarantine.parquet")
    interval_start = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
    run = RunRecord(
        run_id=run_id,
        day=day,
        interval_start=interval_start,
        interval_end=interval_start + timedelta(days=1),
        status="success",
        started_at=_started_at(folder),
        finished_at=datetime.now(timezone.utc),
        timings=_optional_json(folder / "timings.json"),
        **step_counts(pulled, decision, scored),
    )
    incidents = build_incidents(findings, day, run_id)
    risk = user_risk(findings, day, run_id)
    result = {
        "day": day.isoformat(),
        "findings": int(len(findings)),
        "incidents": int(len(incidents)),
        "dry_run": dry_run,
    }
    if dry_run:
        return result
    model = _model_record(day, config, run_id, decision)
    store = FindingsStore(config.resolved_database_url)
    store.create_schema()
    # Before the day is replaced: a false positive that this run no longer raises keeps its
    # allowlist entry.
    sync_allowlist(store)
    store.replace_day(run, findings, quarantine, incidents=incidents, user_risk=risk, model=model)
    _learn_day(day, config)
    return result


# --------------------------------------------------------------------------- whole days


def new_run_id(day: date) -> str:
    """A unique, sortable run id for one day's run."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{day.isoformat()}-{stamp}-{uuid.uuid4().hex[:6]}"


def run_day(
    day: date,
    config: JobConfig,
    run_id: str | None = None,
    *,
    retrain: bool = False,
    dry_run: bool = False,
) -> RunSummary:
    """Run all five steps for one day and return what happened.

    A rerun of the same day replaces its findings; a failure records a failed run (when the
    database is reachable) and re-raises.
    """
    run_id = run_id or new_run_id(day)
    folder = day_dir(config, day)
    started = datetime.now(timezone.utc)
    _write_json(folder / "started.json", {"started_at": started.isoformat()})
    timings: dict[str, float] = {}

    def timed(name: str, step: Callable[[], dict]) -> dict:
        begin = time.perf_counter()
        out = step()
        timings[name] = round(time.perf_counter() - begin, 3)
        _write_json(folder / "timings.json", timings)
        return out

    try:
        pulled = timed("pull", lambda: pull(day, config))
        timed("update_baselines", lambda: update_baselines(day, config))
        decision = timed("prepare_detectors", lambda: prepare_detectors(day, config, retrain))
        scored = timed("score", lambda: score(day, config))
        timed("write_findings", lambda: write_findings(day, config, run_id, dry_run))
    except Exception as error:
        record_failure(day, config, run_id, error, started=started, timings=timings, dry_run=dry_run)
        raise
    return RunSummary.from_steps(day, run_id, dry_run, pulled, decision, scored, timings)


def record_failure(
    day: date,
    config: JobConfig,
    run_id: str,
    error: BaseException | str | None,
    *,
    started: datetime | None = None,
    timings: dict[str, float] | None = None,
    dry_run: bool = False,
) -> bool:
    """Best effort: leave a ``failed`` run row so that the failure is visible in SQL.

    Called by :func:`run_day` and by an orchestrator's failure hook. It never raises: the
    original error matters more than this bookkeeping, and is what the caller reports.
    ``started`` and ``timings`` default to what the day's work folder recorded. Returns
    whether the row was written (never in a dry run).
    """
    if dry_run:
        return False
    try:
        from ztad.store import FindingsStore, RunRecord

        folder = day_dir(config, day)
        message = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
        interval_start = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
        with FindingsStore(config.resolved_database_url) as store:
            store.create_schema()
            store.record_run(
                RunRecord(
                    run_id=run_id,
                    day=day,
                    interval_start=interval_start,
                    interval_end=interval_start + timedelta(days=1),
                    status="failed",
                    started_at=started or _started_at(folder),
                    finished_at=datetime.now(timezone.utc),
                    timings=_optional_json(folder / "timings.json") if timings is None else timings,
                    message=message[:2000],
                )
            )
        return True
    except Exception:  # the original error matters more than this one
        log.exception("could not record the failed run for %s", day)
        return False


def run_range(
    start: date,
    end: date,
    config: JobConfig,
    progress: Callable[[RunSummary, int, int], None] | None = None,
    **options,
) -> list[RunSummary]:
    """Run every day from ``start`` to ``end`` inclusive, in order (a backfill).

    ``progress(summary, done, total)`` is called after each day.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    total = (end - start).days + 1
    summaries = []
    for offset in range(total):
        summary = run_day(start + timedelta(days=offset), config, **options)
        summaries.append(summary)
        if progress:
            progress(summary, offset + 1, total)
    return summaries
