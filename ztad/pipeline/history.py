"""Past days as the job reads them: their raw events, and the baseline as it stood before a day.

History the job never scored may carry the source's labels. Then only its events trusted as
normal teach the baseline and the detectors (:func:`ztad.feedback.trusted_by_labels`), and
how many were trusted and excluded is kept per day (``<state>/labels/day=YYYY-MM-DD.json``) for
the run to report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.config import JobConfig


def history_loader(config: JobConfig) -> Callable[[date], pd.DataFrame]:
    """A loader of one past day's events for baselines; a day with no data is empty.

    A flat log file is read once for all days (its index in ``config.flat_index_dir``), not
    once for every day asked for. The source is asked for its list of days once, on the first
    day asked for, so that a day it does not hold (a baseline window reaching before the logs
    start) is empty at once instead of being looked for.
    """
    from ztad.ingest import MissingPartitionError, available_days, load_day
    from ztad.schema import empty_events

    present: set[date] = set()

    def load(past_day: date) -> pd.DataFrame:
        if not present:
            present.update(available_days(config.source, config.flat_index_dir))
        if past_day not in present:
            return empty_events()
        try:
            return load_day(config.source, past_day, config.flat_index_dir).events
        except MissingPartitionError:
            return empty_events()

    return load


def history_trust(config: JobConfig, past_day: date, events: pd.DataFrame) -> np.ndarray:
    """Which of a never-scored past day's events may be learnt: those its labels trust as
    normal when it carries labels and ``config.use_labels``, else all. The counts are kept."""
    from ztad.feedback import trusted_by_labels

    trusted = trusted_by_labels(events) if config.use_labels else None
    if trusted is None:
        return np.ones(len(events), dtype=bool)
    _record_trust(config, past_day, int(trusted.sum()), int((~trusted).sum()))
    return trusted


def trusted_history_loader(config: JobConfig) -> Callable[[date], pd.DataFrame]:
    """:func:`history_loader` keeping only the events :func:`history_trust` lets be learnt."""
    load = history_loader(config)

    def load_trusted(past_day: date) -> pd.DataFrame:
        events = load(past_day)
        return trusted_rows(events, history_trust(config, past_day, events))

    return load_trusted


def trusted_rows(events: pd.DataFrame, trusted: np.ndarray) -> pd.DataFrame:
    """The ``trusted`` rows of a day's events, renumbered; clean history (every row trusted)
    is not copied."""
    if trusted.all():
        return events.reset_index(drop=True)
    return events[trusted].reset_index(drop=True)


def _trust_path(config: JobConfig, day: date) -> Path:
    return Path(config.state_dir) / "labels" / f"day={day.isoformat()}.json"


def _record_trust(config: JobConfig, day: date, trusted: int, excluded: int) -> None:
    path = _trust_path(config, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"trusted": trusted, "excluded": excluded}))


def label_trust_counts(config: JobConfig) -> dict[str, int]:
    """Events of labelled history trusted as normal and excluded, summed over every day the
    job learnt from its labels (``days`` of them)."""
    folder = Path(config.state_dir) / "labels"
    counts = {"days": 0, "trusted": 0, "excluded": 0}
    for path in sorted(folder.glob("day=*.json")) if folder.exists() else []:
        facts = json.loads(path.read_text())
        counts["days"] += 1
        counts["trusted"] += int(facts["trusted"])
        counts["excluded"] += int(facts["excluded"])
    return counts


def baseline_before(config: JobConfig, day: date):
    from ztad.behaviour.baselines import baseline_as_of

    return baseline_as_of(
        config.state_dir, day, config.detection.history_days, trusted_history_loader(config)
    )
