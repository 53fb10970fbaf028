"""Step 5: replace the day's findings, incidents, user risk, quarantine rows and run record in
one transaction, and teach the baseline the day's unflagged events, in a forked copy of the
process beside the findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.findings.build import RULE_PREFIX
from ztad.pipeline.run_summary import run_status, step_counts
from ztad.pipeline.training_data import training_features_path
from ztad.pipeline.workfiles import (
    day_dir,
    optional_json,
    read_json,
    read_parquet,
    read_parquet_by_column,
    release_unused_memory,
    started_at,
)

if TYPE_CHECKING:
    from ztad.findings.typical import TypicalValues


@dataclass
class _Day:
    """What the day's findings and learning read of its work files, read once: the yes/no
    columns of every event's scores (``marks``: flags and rule hits, what learning reads);
    of the rows findings describe (``rows``, :func:`described_rows`: the flagged ones and
    those of scanning sources) every score column (``scored``) and the event fields they
    quote (``events``); every column, ``ctx_*`` facts included, of the flagged events only
    (``flagged_features``); and the day's typical feature values (``typical``), read a
    feature column at a time if a finding needs them. No event field, model input or score
    of the whole day is held: a large day's would be gigabytes.
    """

    marks: pd.DataFrame
    rows: np.ndarray
    scored: pd.DataFrame
    events: pd.DataFrame
    flagged_features: pd.DataFrame
    typical: TypicalValues

    @classmethod
    def read(cls, folder: Path, marks: pd.DataFrame) -> _Day:
        """The day's work files as findings read them; ``marks`` are :func:`read_marks`'."""
        import pyarrow.parquet as pq

        from ztad.behaviour.features import FEATURE_NAMES
        from ztad.findings.typical import TypicalValues
        from ztad.pipeline.described_rows import described_rows
        from ztad.pipeline.parquet_columns import ParquetColumns

        scored_path = folder / "scored.parquet"
        features_path, events_path = folder / "features.parquet", folder / "events.parquet"
        rows = described_rows(events_path, marks)
        scored = _rows_of(scored_path, None, rows)
        flagged_features = _rows_of(features_path, None, np.flatnonzero(marks["flagged"].to_numpy(bool)))
        events = _rows_of(events_path, event_columns(pq.ParquetFile(events_path).schema_arrow.names), rows)
        day_features = ParquetColumns(features_path)
        typical = TypicalValues([n for n in FEATURE_NAMES if n in day_features.names], day_features.__getitem__)
        release_unused_memory()
        return cls(marks, rows, scored, events, flagged_features, typical)


def read_marks(folder: Path) -> pd.DataFrame:
    """The yes/no columns of every event's scores: what both the findings and the learning of
    the day start from."""
    import pyarrow.parquet as pq

    path = folder / "scored.parquet"
    return read_parquet_by_column(path, _mark_columns(pq.ParquetFile(path).schema_arrow))


def _mark_columns(schema) -> list[str]:
    """The yes/no columns of the scores file (the flags and each rule's hits): one byte an
    event each, where the scores are eight."""
    import pyarrow as pa

    return [field.name for field in schema if pa.types.is_boolean(field.type)]


def _rows_of(path: Path, columns: list[str] | None, rows: np.ndarray) -> pd.DataFrame:
    """``columns`` (all by default) of the sorted ``rows`` of a work file, in order."""
    import pyarrow.parquet as pq

    from ztad.pipeline.training_data import read_rows

    schema = pq.ParquetFile(path).schema_arrow
    columns = schema.names if columns is None else columns
    if len(rows):
        return read_rows(path, columns, rows)
    return schema.empty_table().select(columns).to_pandas()


def _findings_frame(day: date, config: JobConfig, run_id: str, decision: dict, work: _Day) -> pd.DataFrame:
    """The day's findings from the work files, as :mod:`ztad.pipeline.scoring` describes them."""
    from ztad.pipeline.scoring import describe_flagged

    path = day_dir(config, day) / "attributions.parquet"
    return describe_flagged(
        day,
        work.events,
        None,
        work.scored,
        _attributions_of(pd.read_parquet(path), work.rows) if path.exists() else None,
        model_version=decision["model_version"],
        run_id=run_id,
        sensitive_resources=config.detection.sensitive_resources,
        flagged_features=work.flagged_features,
        typical=work.typical,
    )


def _attributions_of(table: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The attribution table (its ``row``: a position in the day) of the described ``rows``,
    its ``row`` the position among them."""
    table = table[np.isin(table["row"].to_numpy(), rows)]
    return table.assign(row=np.searchsorted(rows, table["row"].to_numpy()))


def _learn_day(day: date, config: JobConfig, folder: Path, marks: pd.DataFrame, verdicts: pd.DataFrame) -> dict:
    """Teach the baseline the day's unflagged events and false positives, and the training set
    its unflagged events; confirmed attacks go to neither (:mod:`ztad.feedback`). Logins
    alerted for their hour alone tell the baseline which nights the user worked, nothing else.
    ``marks`` are the flags and rule hits of every event of the day, ``verdicts`` those of its
    findings (:func:`ztad.feedback.day_verdicts`, read by the caller: this may run in a forked
    copy, which must not use the database). A large day is learnt a part of its users at a
    time (:mod:`ztad.pipeline.day_learning`).

    It reads only the work files and writes the aggregate, the training file and the applied
    verdicts, each whole, never reading them: run again, it writes the same. Returns the count
    of training rows."""
    import pyarrow.parquet as pq

    from ztad.behaviour.baselines import save_daily_aggregate
    from ztad.feedback import baseline_mask, hour_only_alerts, record_fingerprint, training_mask
    from ztad.pipeline.day_learning import learn_in_parts
    from ztad.pipeline.day_training_file import write_day_training_file

    flagged, rule_hit = marks["flagged"].to_numpy(bool), marks["rule_hit"].to_numpy(bool)
    hour_alone = rows_raised_for_hour_alone(marks)

    def judge(events: pd.DataFrame, rows):
        ids = events["event_id"]
        # Model-only alerts stay in the training file, marked, so that calibration sees the
        # whole tail it budgets; rule hits and confirmed attacks are left out altogether.
        train = training_mask(ids, rule_hit[rows], verdicts)
        keep = baseline_mask(ids, flagged[rows], verdicts)
        alerted, other = hour_only_alerts(events["user_id"], ids, flagged[rows], hour_alone[rows], verdicts)
        return train, (keep, alerted, other)

    events_path = folder / "events.parquet"
    columns = [c for c in pq.ParquetFile(events_path).schema_arrow.names if c in {"event_id", *_learnt_columns()}]
    train, aggregate = learn_in_parts(events_path, columns, baseline_columns, judge)
    write_day_training_file(folder / "features.parquet", events_path, train, flagged,
                            training_features_path(config, day))
    save_daily_aggregate(aggregate, config.state_dir, day)
    record_fingerprint(config.state_dir, day, verdicts)
    return {"training_rows": int(np.count_nonzero(train))}


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


#: Fewest events of a day learnt by a forked copy beside its findings (:func:`write_findings`):
#: learning a smaller day takes less than forking a copy of a large process costs.
LEARN_BESIDE_MIN_EVENTS = 250_000


def write_findings(day: date, config: JobConfig, run_id: str, dry_run: bool = False) -> dict:
    """Replace the day's findings, incidents, user risk, quarantine rows and run record, and
    note which run trained the day's model and why (``models``), in one transaction; and learn
    the day (:func:`_learn_day`).

    Both read only the day's work files, so a day of :data:`LEARN_BESIDE_MIN_EVENTS` or more
    is learnt by a forked copy of this process
    (:class:`~ztad.pipeline.forked_step.ForkedStep`), on the other core, while the findings
    are built and stored here (a smaller day is learnt after them, as forking costs more than
    it saves there). It is forked once the marks are read, before the findings' rows
    are, so that it starts with no more memory than they need. The copy must not use the
    database (a connection used by two processes breaks): it is handed the day's verdicts read
    before the fork. The store write can change them on a rerun of a day analysts triaged (a
    judged finding the rerun no longer raises is removed with its verdict; a new finding of a
    judged incident inherits it), so they are read again after it, and when they differ the
    day is learnt again here with those: the day is always learnt with the verdicts its stored
    findings carry, as when it was learnt after the store write.

    A failed store write stops the copy and is raised, but the copy may already have written
    the day's aggregate, training file or applied verdicts (each whole, none half): the day
    may be learnt from this run's flags while the stored findings are the earlier run's. The
    run fails; its rerun learns the day again from the same work files, writing the same.

    With ``dry_run`` nothing is written (no findings, run record, baseline or training rows);
    the counts are still returned. A model the run trained stays registered (prepare step).
    """
    from ztad.detection.detectors.base import stop_scoring_threads
    from ztad.feedback import day_verdicts
    from ztad.feedback.relearning import fingerprint
    from ztad.pipeline.forked_step import ForkedStep

    folder = day_dir(config, day)
    marks = read_marks(folder)
    if dry_run:
        return _store_day(day, config, run_id, folder, marks, dry_run=True)
    if len(marks) < max(1, LEARN_BESIDE_MIN_EVENTS):
        result = _store_day(day, config, run_id, folder, marks)
        _learn_day(day, config, folder, marks, day_verdicts(config, day))
        return result
    learnt_with = day_verdicts(config, day)
    stop_scoring_threads()  # idle since the day was scored, they would keep the copy from being forked
    with ForkedStep.start(lambda: _learn_day(day, config, folder, marks, learnt_with)) as learning:
        result = _store_day(day, config, run_id, folder, marks)
        learning.result()
    verdicts = day_verdicts(config, day)
    if fingerprint(verdicts) != fingerprint(learnt_with):
        _learn_day(day, config, folder, marks, verdicts)
    return result


def _store_day(day: date, config: JobConfig, run_id: str, folder: Path, marks: pd.DataFrame,
               dry_run: bool = False) -> dict:
    """Build the day's findings, incidents and user risk from its work files and, unless
    ``dry_run``, store them with its quarantine rows and run record; returns the counts. The
    store is closed once written, so that no connection is left open for the copy of a later
    day (a backfill in one process) to inherit."""
    from ztad.feedback import sync_allowlist
    from ztad.findings.incidents import build_incidents
    from ztad.findings.risk import user_risk
    from ztad.store import FindingsStore, RunRecord

    pulled = read_json(folder / "pull.json")
    decision = read_json(folder / "detectors.json")
    scored = read_json(folder / "score.json")
    work = _Day.read(folder, marks)
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
    with FindingsStore(config.resolved_database_url) as store:
        store.create_schema()
        # Before the day is replaced: a false positive that this run no longer raises keeps its
        # allowlist entry.
        sync_allowlist(store)
        store.replace_day(run, findings, quarantine, incidents=incidents, user_risk=risk, model=model)
    return result
