"""Whole days: the five steps of one day in order, a range of days (a backfill), and a day run
in shards one after another in this process."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from ztad.config import JobConfig
from ztad.pipeline.run_summary import RunSummary
from ztad.pipeline.sharding import gather_features, gather_scores
from ztad.pipeline.shards import all_shards, check_count
from ztad.pipeline.steps.prepare_detectors import prepare_detectors
from ztad.pipeline.steps.pull import log, pull
from ztad.pipeline.steps.score import score
from ztad.pipeline.steps.update_baselines import cross_user, update_baselines
from ztad.pipeline.steps.write_findings import write_findings
from ztad.pipeline.workfiles import day_dir, optional_json, started_at, write_json


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
    write_json(folder / "started.json", {"started_at": started.isoformat()})
    timings: dict[str, float] = {}

    def timed(name: str, step: Callable[[], dict]) -> dict:
        begin = time.perf_counter()
        out = step()
        timings[name] = round(time.perf_counter() - begin, 3)
        write_json(folder / "timings.json", timings)
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
        with FindingsStore(config.resolved_database_url) as store:
            store.create_schema()
            store.record_run(
                RunRecord(
                    run_id=run_id,
                    day=day,
                    status="failed",
                    started_at=started or started_at(folder),
                    finished_at=datetime.now(timezone.utc),
                    timings=optional_json(folder / "timings.json") if timings is None else timings,
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


def prepare_sharded_detectors(day: date, config: JobConfig, retrain: bool = False) -> dict:
    """Gather the shards' features, then train or load the day's model on the whole day."""
    gather_features(day, config)
    return prepare_detectors(day, config, retrain=retrain)


def write_sharded_findings(day: date, config: JobConfig, run_id: str, dry_run: bool = False) -> dict:
    """Gather the shards' scores, then write the whole day in one transaction."""
    gather_scores(day, config)
    return write_findings(day, config, run_id, dry_run=dry_run)


def run_sharded_day(
    day: date,
    config: JobConfig,
    shards: int,
    run_id: str | None = None,
    *,
    retrain: bool = False,
    dry_run: bool = False,
) -> RunSummary:
    """Run one day in ``shards`` shards, one after another in this process.

    The same steps, in the same order, as an orchestrator runs them on several workers.
    ``timings`` holds each step's total and, per sharded step, its slowest shard
    (``<step>_slowest_shard``): the step's wall time when every shard has a worker.
    """
    count = check_count(shards)
    run_id = run_id or new_run_id(day)
    folder = day_dir(config, day)
    started = datetime.now(timezone.utc)
    write_json(folder / "started.json", {"started_at": started.isoformat()})
    timings: dict[str, float] = {}

    def timed(name: str, step) -> dict:
        begin = time.perf_counter()
        out = step()
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - begin, 3)
        write_json(folder / "timings.json", timings)
        return out

    def per_shard(name: str, step) -> None:
        slowest = 0.0
        for shard in all_shards(count):
            begin = time.perf_counter()
            timed(name, lambda: step(shard))
            slowest = max(slowest, time.perf_counter() - begin)
        timings[f"{name}_slowest_shard"] = round(slowest, 3)

    try:
        pulled = timed("pull", lambda: pull(day, config))
        timed("cross_user", lambda: cross_user(day, config, count))
        per_shard("update_baselines", lambda s: update_baselines(day, config, shard=s))
        decision = timed("prepare_detectors", lambda: prepare_sharded_detectors(day, config, retrain))
        per_shard("score", lambda s: score(day, config, shard=s))
        scored = timed("gather_scores", lambda: gather_scores(day, config))
        timed("write_findings", lambda: write_findings(day, config, run_id, dry_run))
    except Exception as error:
        record_failure(day, config, run_id, error, started=started, timings=timings, dry_run=dry_run)
        raise
    return RunSummary.from_steps(day, run_id, dry_run, pulled, decision, scored, timings)
