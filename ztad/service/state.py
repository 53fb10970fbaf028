"""What the scoring service judges with: the registered model, the baseline and the allowlist.

They are loaded once, as of the day after the latest successful nightly run (that run's model,
the baseline the next night starts from, the analysts' false positives in force), and loaded
again when a newer run finishes, which is how a newly registered model reaches the service.
Checking for one is a single small query, made at most every ``check_seconds``.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from ztad.config import JobConfig


class NotReadyError(RuntimeError):
    """No nightly run has scored a day yet, so there is no model to score with."""


@dataclass(frozen=True)
class LatestRun:
    """The newest successful run: its day and the model version that scored it."""

    day: date
    model_version: str


@dataclass
class ScoringState:
    """A loaded model, the baseline as of ``day`` and the allowlist in force on ``day``."""

    day: date
    model: object
    baseline: object
    allowlist: pd.DataFrame
    loaded_at: float

    @property
    def model_version(self) -> str:
        return self.model.version


def latest_run(store) -> LatestRun | None:
    """The newest successful, non-dry run with a model, or ``None`` before the first one."""
    from sqlalchemy import inspect, select

    from ztad.store import tables

    runs = tables.runs
    query = (
        select(runs.c.day, runs.c.model_version)
        .where(runs.c.status == "success", runs.c.model_version.is_not(None))
        .order_by(runs.c.day.desc(), runs.c.finished_at.desc())
        .limit(1)
    )
    with store.engine.connect() as connection:
        if not inspect(connection).has_table(runs.name):
            return None
        row = connection.execute(query).first()
    return None if row is None else LatestRun(pd.Timestamp(row[0]).date(), row[1])


def load_state(config: JobConfig, store, day: date, model_version: str) -> ScoringState:
    """Load the model ``model_version``, the baseline as of ``day`` and the allowlist in force.

    The baseline is combined from the daily aggregates the nightly runs saved; the service
    never reads raw logs nor writes state (a day without an aggregate is left out).
    """
    from ztad.behaviour.baselines import baseline_as_of
    from ztad.detection.scoring_model import load_model
    from ztad.feedback import derive_allowlist, effective_allowlist, read_verdicts
    from ztad.feedback.allowlist import read_allowlist
    from ztad.pipeline.model_trust import FindingsDatabaseTrust
    from ztad.schema import empty_events

    model = load_model(config, model_version, FindingsDatabaseTrust(config.resolved_database_url))
    baseline = baseline_as_of(
        config.state_dir, day, config.detection.history_days, lambda _: empty_events(), keep_window=False
    )
    verdicts = read_verdicts(store, end=day)
    allowlist = effective_allowlist(read_allowlist(store), derive_allowlist(verdicts), day)
    return ScoringState(day, model, baseline, allowlist, time.monotonic())


class StateHolder:
    """Hands out the current :class:`ScoringState`, reloading it when a newer run appears.

    Parameters
    ----------
    config, store
        The job's configuration and its findings database.
    check_seconds
        How often, at most, the runs table is asked whether a newer run finished.
    pinned
        ``(day, model_version)`` to judge as, instead of following the nightly runs (to
        replay a past day).
    """

    def __init__(
        self, config: JobConfig, store, check_seconds: float = 30.0, pinned: LatestRun | None = None
    ):
        self.config, self.store, self.check_seconds, self.pinned = config, store, check_seconds, pinned
        self._state: ScoringState | None = None
        self._source: LatestRun | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> ScoringState:
        """The state to score with; raises :class:`NotReadyError` before any nightly run."""
        if self.fresh():
            return self._state
        with self._lock:
            if not self.fresh():
                self._refresh()
        return self._state

    def fresh(self) -> bool:
        """Whether :meth:`current` answers at once: a state is loaded and no check for a newer
        run is due."""
        return self._state is not None and time.monotonic() - self._checked < self.check_seconds

    def _refresh(self) -> None:
        if self.pinned is not None:
            source, day = self.pinned, self.pinned.day
        else:
            source = latest_run(self.store)
            if source is None:
                self._checked = float("-inf")
                raise NotReadyError(
                    "no nightly run has scored a day yet, so no model is registered: run `ztad run` first"
                )
            day = source.day + timedelta(days=1)
        if source != self._source or self._state is None:
            gc.unfreeze()  # the state loaded before may be collected once replaced
            self._state = load_state(self.config, self.store, day, source.model_version)
            self._source = source
            freeze_long_lived()
        self._checked = time.monotonic()


def freeze_long_lived() -> None:
    """Move every object alive now (the model, the baseline, the loaded libraries) out of the
    garbage collector's reach until the next load.

    They live as long as the state does, yet each full collection walked all of them (hundreds
    of thousands of objects): a pause of hundreds of milliseconds in the request that met it.
    Frozen objects are still freed by reference counting; :meth:`StateHolder._refresh` unfreezes
    them before the next load, so a replaced state is collected as usual.
    """
    gc.collect()
    gc.freeze()
