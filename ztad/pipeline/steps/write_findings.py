"""Step 5: replace the day's findings, incidents, user risk, quarantine rows and run record in
one transaction, then teach the baseline the day's unflagged events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.detection.training import (
    TRAINING_FLAGGED,
)
from ztad.findings.build import RULE_PREFIX
from ztad.pipeline.run_summary import run_status, step_counts
from ztad.pipeline.training_data import training_features_path, write_training_file
from ztad.pipeline.workfiles import (
    day_dir,
    optional_json,
    read_json,
    read_parquet,
    read_parquet_by_column,
    release_unused_memory,
    started_at,
)


@dataclass
class _Day:
    """The day's work files that both the findings and the learning read, read once.

    ``features`` holds the model inputs of every event (what training and the findings'
    comparison with the day's typical values read; ``None`` once the training rows are
    written); ``flagged_features`` every column,
    ``ctx_*`` facts included, of the flagged events only: the context columns are most of
    the features file, and only findings quote them. ``events`` holds the event fields that
    findings or learning read (:func:`event_columns`), and is ``None`` once the columns the
    baseline learns are taken from it. Each file is read column by column, so that none is
    held twice (Arrow's table and the frame) while it is read.
    """

    events: pd.DataFrame | None
    features: pd.DataFrame | None
    flagged_features: pd.DataFrame
    scored: pd.DataFrame

    @classmethod
    def read(cls, folder: Path) -> _Day:
        import pyarrow.parquet as pq

        from ztad.behaviour.features import FEATURE_NAMES
        from ztad.pipeline.training_data import read_rows

        scored = read_parquet_by_column(folder / "scored.parquet")
        path = folder / "features.parquet"
        features = read_parquet_by_column(path, list(FEATURE_NAMES))
        release_unused_memory()
        flagged = np.flatnonzero(scored["flagged"].to_numpy(bool))
        schema = pq.ParquetFile(path).schema_arrow
        flagged_features = (
            read_rows(path, schema.names, flagged) if len(flagged) else schema.empty_table().to_pandas()
        )
        events_path = folder / "events.parquet"
        events = read_parquet_by_column(events_path, event_columns(pq.ParquetFile(events_path).schema_arrow.names))
        # Each file's pages, decoded and freed, are handed back rather than kept beside the day.
        release_unused_memory()
        return cls(events, features, flagged_features, scored)


def _findings_frame(day: date, config: JobConfig, run_id: str, decision: dict, work: _Day) -> pd.DataFrame:
    """The day's findings from the work files, as :mod:`ztad.pipeline.scoring` describes them."""
    from ztad.pipeline.scoring import describe_flagged

    folder = day_dir(config, day)
    path = folder / "attributions.parquet"
    return describe_flagged(
        day,
        work.events,
        work.features,
        work.scored,
        pd.read_parquet(path) if path.exists() else None,
        model_version=decision["model_version"],
        run_id=run_id,
        sensitive_resources=config.detection.sensitive_resources,
        flagged_features=work.flagged_features,
    )


def _learn_day(day: date, config: JobConfig, work: _Day) -> None:
    """Teach the baseline the day's unflagged events and false positives, and the training set
    its unflagged events; confirmed attacks go to neither (:mod:`ztad.feedback`). Logins
    alerted for their hour alone tell the baseline which nights the user worked, nothing else."""
    from ztad.behaviour.baselines import daily_aggregate, save_daily_aggregate
    from ztad.feedback import (
        baseline_mask,
        day_verdicts,
        hour_only_alerts,
        record_fingerprint,
        training_mask,
    )

    events, scored = work.events, work.scored
    flagged = scored["flagged"].to_numpy()
    verdicts = day_verdicts(config, day)
    # Model-only alerts stay in the file, marked, so that calibration sees the whole tail it
    # budgets; rule hits and confirmed attacks are left out altogether.
    train = training_mask(events["event_id"], scored["rule_hit"].to_numpy(), verdicts)
    write_training_file(
        work.features, train, {"event_id": events["event_id"], TRAINING_FLAGGED: flagged},
        training_features_path(config, day),
    )
    # Nothing reads the day's model inputs again: released before the baseline aggregate,
    # the write step's largest working set.
    work.features = None
    keep = baseline_mask(events["event_id"], flagged, verdicts)
    alerted, other = hour_only_alerts(events["user_id"], events["event_id"], flagged,
                                      rows_raised_for_hour_alone(scored), verdicts)
    learnt = events[baseline_columns(events)]
    # The day's other fields (event ids, labels) are not learnt, and the whole day's learnt
    # fields not once the rows of each kind are picked: released before the aggregate, the
    # write step's peak.
    work.events = events = None
    kept, hour_only, other_alerts = learnt[keep], learnt[alerted], learnt[other]
    del learnt
    release_unused_memory()
    save_daily_aggregate(daily_aggregate(kept, hour_only, other_alerts), config.state_dir, day)
    record_fingerprint(config.state_dir, day, verdicts)


def rows_raised_for_hour_alone(scored: pd.DataFrame) -> np.ndarray:
    """Which scored events the off-hours rule raised and nothing else: no model alert, no
    other rule."""
    rules = [c for c in scored.columns if c.startswith(RULE_PREFIX) and c != "rule_hit"]
    if "rule_off_hours" not in rules:
        return np.zeros(len(scored), dtype=bool)
    hits = scored[rules].to_numpy(bool)
    return (scored["rule_off_hours"].to_numpy(bool) & (hits.sum(axis=1) == 1)
            & ~scored["model_flag"].to_numpy(bool))


def _learnt_columns() -> tuple[str, ...]:
    """The event fields a day's baseline aggregate reads."""
    from ztad.behaviour.baselines import REQUIRED_COLUMNS

    return (*REQUIRED_COLUMNS, "asn")


def baseline_columns(events: pd.DataFrame) -> list[str]:
    """The event columns a day's baseline aggregate reads: copying only those for the learnt
    events keeps the day's other fields (labels, source rows, organisations) out of the copy."""
    return [c for c in _learnt_columns() if c in events.columns]


#: Event fields the day's findings quote (:func:`ztad.findings.build.build_findings`) or its
#: learning matches verdicts by, beyond those the baseline learns (:func:`baseline_columns`).
FINDING_EVENT_COLUMNS: tuple[str, ...] = ("event_id", "event_label")


def event_columns(available: list[str]) -> list[str]:
    """Which of the events file's ``available`` columns the write step reads, in file order:
    those findings quote and those the baseline learns. The rest (source rows, scenario and
    attack labels, organisations, sign-in methods) nothing here reads."""
    wanted = {*FINDING_EVENT_COLUMNS, *_learnt_columns()}
    return [c for c in available if c in wanted]


def _model_record(day: date, config: JobConfig, run_id: str, decision: dict):
    """The ``models`` row of the day's model with this run as its trainer, when it trained it;
    ``None`` when it only loaded it (the row, recorded at training, stays as it is). The facts
    are read from the registry and checked against that row, which keeps its digests."""
    from ztad.pipeline.model_trust import model_registry
    from ztad.store import ModelRecord

    if decision["action"] != "trained":
        return None
    facts = model_registry(config).index_record(decision["model_version"])
    return ModelRecord(**facts, train_reason=decision.get("reason"), trained_for_day=day, run_id=run_id)


def write_findings(day: date, config: JobConfig, run_id: str, dry_run: bool = False) -> dict:
    """Replace the day's findings, incidents, user risk, quarantine rows and run record, and
    note which run trained the day's model and why (``models``), in one transaction.

    With ``dry_run`` nothing is written (no findings, run record, baseline or training rows);
    the counts are still returned. A model the run trained stays registered (prepare step).
    """
    from ztad.feedback import sync_allowlist
    from ztad.findings.incidents import build_incidents
    from ztad.findings.risk import user_risk
    from ztad.store import FindingsStore, RunRecord

    folder = day_dir(config, day)
    pulled = read_json(folder / "pull.json")
    decision = read_json(folder / "detectors.json")
    scored = read_json(folder / "score.json")
    work = _Day.read(folder)
    findings = _findings_frame(day, config, run_id, decision, work)
    quarantine = read_parquet(folder / "quarantine.parquet")
    run = RunRecord(
        run_id=run_id,
        day=day,
        status=run_status(decision),
        started_at=started_at(folder),
        finished_at=datetime.now(timezone.utc),
        timings=optional_json(folder / "timings.json"),
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
    # Stored: released before the day is learnt, so that they do not add to its peak.
    del findings, incidents, risk, quarantine
    _learn_day(day, config, work)
    return result
