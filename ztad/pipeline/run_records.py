"""The ``runs`` table from the runner's side: a ``running`` row when a day starts (a killed
run leaves it behind), the failed run with the counts its steps reached, and a local
fallback log, ``<home>/runs-fallback.jsonl``, for the records the database could not take
(an outage): they are written there and replayed into the database by the next run."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timezone
from pathlib import Path

from ztad.config import JobConfig
from ztad.pipeline.run_summary import pulled_counts
from ztad.pipeline.workfiles import day_dir, optional_json, started_at, write_json

log = logging.getLogger(__name__)

#: File name of the fallback log in the state folder.
FALLBACK_LOG = "runs-fallback.jsonl"


class FindingsDatabaseError(ConnectionError):
    """The findings database cannot be reached, or dropped the connection mid-write."""


def fallback_path(config: JobConfig) -> Path:
    """Where run records wait for the database: ``<home>/runs-fallback.jsonl``."""
    return Path(config.home) / FALLBACK_LOG


#: What each step of a day returned, kept in its work folder: a failed run reports the counts
#: of those this run wrote.
STEP_RESULTS = ("pull.json", "detectors.json", "score.json")


def start_run(day: date, config: JobConfig, run_id: str, dry_run: bool = False) -> datetime:
    """Note when the day's run started (in its work folder, cleared of an earlier run's step
    results) and, unless ``dry_run``, write its ``running`` row (:func:`begin_run`).
    Returns the start time."""
    folder = day_dir(config, day)
    for name in STEP_RESULTS:
        (folder / name).unlink(missing_ok=True)
    started = datetime.now(timezone.utc)
    write_json(folder / "started.json", {"started_at": started.isoformat()})
    if not dry_run:
        begin_run(day, config, run_id, started)
    return started


def begin_run(day: date, config: JobConfig, run_id: str, started: datetime) -> None:
    """Bring the schema up to date, replay records left in the fallback log, and write the
    run's ``running`` row.

    Raises
    ------
    FindingsDatabaseError
        When the database cannot be reached: better now than after the day's work.
    """
    from ztad.store import FindingsStore, RunRecord

    try:
        with FindingsStore(config.resolved_database_url) as store:
            store.create_schema()
            replay_fallback(store, config)
            store.record_run(RunRecord(run_id=run_id, day=day, status="running", started_at=started))
    except Exception as error:
        raise as_database_error(error, config) from error


def record_outcome(day: date, config: JobConfig, run_id: str, status: str, message: str, **fields) -> bool:
    """Write one run row (``skipped``, ``failed`` ...) now, or keep it in the fallback log when
    the database cannot take it. Never raises. Returns whether the database took it."""
    from ztad.store import RunRecord

    now = datetime.now(timezone.utc)
    fields.setdefault("started_at", now)
    record = RunRecord(
        run_id=run_id, day=day, status=status, finished_at=now, message=message[:2000], **fields
    )
    try:
        from ztad.store import FindingsStore

        with FindingsStore(config.resolved_database_url) as store:
            store.create_schema()
            store.record_run(record)
        return True
    except Exception as error:  # the run's own outcome matters more than this bookkeeping
        log.debug("could not record the %s run of %s", status, day, exc_info=True)
        _append_fallback(config, record, error)
        return False


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
    """Best effort: leave a ``failed`` run row, with the counts its steps reached (rows read
    once the pull succeeded, rows scored once the scoring did), so that the failure shows in
    SQL; in the fallback log when the database is what failed.

    Called by :func:`ztad.pipeline.run_day` and by an orchestrator's failure hook. It never
    raises: the original error matters more, and is what the caller reports. ``started`` and
    ``timings`` default to what the day's work folder recorded. Returns whether the database
    took the row (never in a dry run).
    """
    if dry_run:
        return False
    folder = day_dir(config, day)
    started = started or started_at(folder)
    message = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    return record_outcome(
        day, config, run_id, "failed", message, started_at=started,
        timings=optional_json(folder / "timings.json") if timings is None else timings,
        **reached_counts(folder),
    )


def reached_counts(folder: Path) -> dict:
    """The counts of the steps the day's run finished (:data:`STEP_RESULTS` in its folder)."""
    counts = {}
    pulled = optional_json(folder / "pull.json")
    if pulled:
        counts.update(pulled_counts(pulled))
    decision = optional_json(folder / "detectors.json")
    if decision:
        counts.update(model_version=decision.get("model_version"), model_action=decision.get("action"))
    scored = optional_json(folder / "score.json")
    if scored:
        counts.update(rows_scored=scored.get("rows_scored"), rows_flagged=scored.get("rows_flagged"))
    return counts


def as_database_error(error: BaseException, config: JobConfig) -> BaseException:
    """``error`` as a :class:`FindingsDatabaseError` naming the database, when the database
    could not be reached or dropped the connection; other errors as they are."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, FindingsDatabaseError):
        return error
    if not isinstance(error, DBAPIError) or not (error.connection_invalidated or _is_connection_error(error)):
        return error
    from ztad.store import safe_url

    cause = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
    return FindingsDatabaseError(
        f"the findings database {safe_url(config.resolved_database_url)} is unreachable ({cause}); "
        f"check --db / ZTAD_DATABASE_URL and the server. Nothing of the day was half-written; "
        f"its run record waits in {fallback_path(config)} and is written by the next run"
    )


def _is_connection_error(error) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(error, (OperationalError, InterfaceError))


def _append_fallback(config: JobConfig, record, error: BaseException) -> None:
    """Keep ``record`` in the fallback log (one JSON object per line)."""
    path = fallback_path(config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record.as_row(), default=str) + "\n")
        log.debug("kept the %s run %s in %s (%s)", record.status, record.run_id, path, type(error).__name__)
    except OSError:
        log.warning("could not keep the %s run %s of %s in %s", record.status, record.run_id, record.day,
                    path)


def replay_fallback(store, config: JobConfig) -> int:
    """Write the records waiting in the fallback log into ``store``, then empty the log.

    A record of a run the database already holds in a later state is not written back
    over it. Returns how many records were written.
    """
    from ztad.store import RunRecord

    path = fallback_path(config)
    if not path.exists():
        return 0
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    written = 0
    for line in lines:
        record = RunRecord(**json.loads(line))
        stored = store.runs(day=record.day)
        done = stored[(stored["run_id"] == record.run_id) & (stored["status"] != "running")]
        if done.empty:
            store.record_run(record)
            written += 1
    path.unlink()
    if written:
        log.info("recorded %d run(s) kept in %s while the database was unreachable", written, path)
    return written
