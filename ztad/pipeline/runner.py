"""Whole days: the five steps of one day in order, a range of days (a backfill), and a day run
in shards one after another in this process."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from ztad.config import JobConfig
from ztad.pipeline.collector import fewer_collections
from ztad.pipeline.day_lock import DEFAULT_LOCK_TIMEOUT, day_lock
from ztad.pipeline.pull_beside_baseline import pull_and_update_baselines
from ztad.pipeline.run_records import as_database_error, record_failure, record_outcome, start_run
from ztad.pipeline.run_summary import SLOWEST_SHARD, RunSummary
from ztad.pipeline.sharding import gather_features, gather_scores
from ztad.pipeline.shards import all_shards, check_count
from ztad.pipeline.steps.prepare_detectors import prepare_detectors
from ztad.pipeline.steps.pull import pull
from ztad.pipeline.steps.score import score
from ztad.pipeline.steps.update_baselines import cross_user, update_baselines
from ztad.pipeline.steps.write_findings import write_findings
from ztad.pipeline.workfiles import day_dir, release_unused_memory, write_json

log = logging.getLogger(__name__)


def new_run_id(day: date) -> str:
    """A unique, sortable run id for one day's run."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{day.isoformat()}-{stamp}-{uuid.uuid4().hex[:6]}"


#: What a run does when the source has no logs for its day (the DAG's ``on_missing_partition``).
ON_MISSING = ("fail", "skip", "wait")
#: How long ``on_missing="wait"`` waits for a day's logs by default (seconds), and how often it looks.
DEFAULT_WAIT_TIMEOUT = 6 * 3600.0
WAIT_POLL_SECONDS = 60.0

#: ``steps(timed, timings)`` of a day: runs them through ``timed(name, step)`` and returns
#: what its pull, detector and score steps returned.
Steps = Callable[[Callable[[str, Callable[[], dict]], dict], dict], tuple[dict, dict, dict]]


def run_day(
    day: date,
    config: JobConfig,
    run_id: str | None = None,
    *,
    retrain: bool = False,
    dry_run: bool = False,
    on_missing: str = "fail",
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> RunSummary:
    """Run all five steps for one day and return what happened.

    The day is pulled by a forked copy of the process while the baseline is built, when it
    can be (:mod:`ztad.pipeline.pull_beside_baseline`). A rerun of the same day replaces its findings. See :func:`guarded_run` for the day's
    lock, its run record, a day without logs (``on_missing``) and failures.
    """
    run_id = run_id or new_run_id(day)

    def steps(timed, timings: dict) -> tuple[dict, dict, dict]:
        pulled = pull_and_update_baselines(day, config, timed, timings)
        decision = timed("prepare_detectors", lambda: prepare_detectors(day, config, retrain))
        scored = timed("score", lambda: score(day, config))
        timed("write_findings", lambda: write_findings(day, config, run_id, dry_run))
        return pulled, decision, scored

    return guarded_run(
        day, config, run_id, steps, dry_run=dry_run, on_missing=on_missing,
        wait_timeout=wait_timeout, lock_timeout=lock_timeout,
    )


def guarded_run(
    day: date,
    config: JobConfig,
    run_id: str,
    steps: Steps,
    *,
    dry_run: bool = False,
    on_missing: str = "fail",
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> RunSummary:
    """Run a day's ``steps`` under the day's lock, with its run record kept up to date.

    - The day's lock on the state folder (:mod:`~ztad.pipeline.day_lock`): a second run of the
      same day waits up to ``lock_timeout`` seconds for the first to finish.
    - A ``running`` row is written first (:func:`~ztad.pipeline.run_records.begin_run`), so a
      killed run leaves a trace; an unreachable database stops the run before any work.
    - No logs for the day: ``on_missing`` ``fail`` raises
      :class:`ztad.ingest.MissingPartitionError` (recorded as ``failed``), ``skip`` records the
      day as ``skipped`` and returns, ``wait`` waits up to ``wait_timeout`` seconds for them.
    - A failure records a ``failed`` run with the counts reached (in the fallback log when the
      database is what failed) and re-raises, as a
      :class:`~ztad.pipeline.run_records.FindingsDatabaseError` for a database outage.
    """
    from ztad.ingest import MissingPartitionError

    if on_missing not in ON_MISSING:
        raise ValueError(f"on_missing must be one of {list(ON_MISSING)}, not {on_missing!r}")
    folder = day_dir(config, day)
    timings: dict[str, float] = {}

    def timed(name: str, step: Callable[[], dict]) -> dict:
        begin = time.perf_counter()
        out = step()
        release_unused_memory()
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - begin, 3)
        write_json(folder / "timings.json", timings)
        return out

    with day_lock(config, day, timeout=lock_timeout, on_wait=lambda holder: _waiting_for_lock(day, holder)):
        started = datetime.now(timezone.utc)
        try:
            started = start_run(day, config, run_id, dry_run)
            if on_missing == "wait":
                wait_for_logs(day, config, wait_timeout)
            try:
                with fewer_collections():
                    pulled, decision, scored = steps(timed, timings)
            except MissingPartitionError as error:
                if on_missing != "skip":
                    raise
                return _skipped_day(day, config, run_id, error, dry_run=dry_run, started=started)
        except Exception as error:
            record_failure(day, config, run_id, error, started=started, timings=timings, dry_run=dry_run)
            translated = as_database_error(error, config)
            if translated is error:
                raise
            raise translated from error
    return RunSummary.from_steps(day, run_id, dry_run, pulled, decision, scored, timings)


def _waiting_for_lock(day: date, holder: str) -> None:
    log.warning("%s: another run of this day holds its lock (%s); waiting for it to finish", day, holder)


def _skipped_day(
    day: date, config: JobConfig, run_id: str, error: BaseException, *, dry_run: bool, started: datetime
) -> RunSummary:
    """Record a day without logs as ``skipped`` (``on_missing="skip"``) and say so."""
    message = f"{error} [on_missing='skip']"
    if not dry_run:
        record_outcome(day, config, run_id, "skipped", message, started_at=started)
    return RunSummary(day=day, run_id=run_id, status="skipped", message=message)


def wait_for_logs(day: date, config: JobConfig, timeout: float) -> None:
    """Return once the source has logs for ``day`` (at once for a flat file, which holds every
    day), looking every minute (more often for a short ``timeout``); after ``timeout``
    seconds, return anyway and let the pull report the missing day."""
    from ztad.ingest import available_days
    from ztad.pipeline.steps.pull import is_flat_file

    if is_flat_file(config.source):
        return
    poll = min(WAIT_POLL_SECONDS, max(0.5, timeout / 20))
    deadline = time.monotonic() + timeout
    announced = False
    while day not in set(available_days(config.source, config.flat_index_dir)):
        if time.monotonic() >= deadline:
            return
        if not announced:
            log.warning("%s: no logs yet; waiting up to %g s for them (on_missing wait)", day, timeout)
            announced = True
        time.sleep(max(0.0, min(poll, deadline - time.monotonic())))


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
    on_missing: str = "fail",
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> RunSummary:
    """Run one day in ``shards`` shards, one after another in this process.

    The same steps, in the same order, as an orchestrator runs them on several workers,
    guarded like :func:`run_day`. ``timings`` holds each step's total and, per sharded step,
    its slowest shard (``<step>_slowest_shard``): the step's wall time when every shard has a
    worker.
    """
    count = check_count(shards)
    run_id = run_id or new_run_id(day)

    def steps(timed, timings: dict) -> tuple[dict, dict, dict]:
        def per_shard(name: str, step) -> None:
            slowest = 0.0
            for shard in all_shards(count):
                begin = time.perf_counter()
                timed(name, lambda: step(shard))
                slowest = max(slowest, time.perf_counter() - begin)
            timings[f"{name}{SLOWEST_SHARD}"] = round(slowest, 3)

        pulled = timed("pull", lambda: pull(day, config))
        timed("cross_user", lambda: cross_user(day, config, count))
        per_shard("update_baselines", lambda s: update_baselines(day, config, shard=s))
        decision = timed("prepare_detectors", lambda: prepare_sharded_detectors(day, config, retrain))
        per_shard("score", lambda s: score(day, config, shard=s))
        scored = timed("gather_scores", lambda: gather_scores(day, config))
        timed("write_findings", lambda: write_findings(day, config, run_id, dry_run))
        return pulled, decision, scored

    return guarded_run(
        day, config, run_id, steps, dry_run=dry_run, on_missing=on_missing,
        wait_timeout=wait_timeout, lock_timeout=lock_timeout,
    )
