"""How labelled events are divided into what trains and what is scored.

Two protocols:

``time`` (the default)
    As the job runs in production: everything before the cut-off day (midnight UTC) is
    history, and each day from the cut-off on is scored. The origin method trains once on the
    history. ztad runs its day-by-day pipeline over the scored days: each day is scored before
    it is learned from, and in its default (walk-forward) mode ztad later retrains on earlier
    scored days, with the events its own models flagged left out of fitting, never with their
    labels; in its frozen mode its detectors are trained once at the cut-off, like the origin
    method (:mod:`ztad.evaluation.evaluate`).
``random``
    As the origin notebook did: a stratified random share of events is held out for scoring
    and the rest trains, whatever their day. Training then sees the same days, users and
    attacks that are scored, which flatters any method; it is offered to compare with the
    origin notebook's numbers, and the report says which protocol was used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ztad.evaluation import EvaluationError
from ztad.schema import is_anomaly_label

PROTOCOLS = ("time", "random")
#: Days of history before the first scored day when no cut-off is given.
DEFAULT_HISTORY_DAYS = 14
#: Share of events held out for scoring by the random protocol.
DEFAULT_TEST_FRACTION = 0.2
#: Last days of the history (time protocol) that validate the origin method's tuning sweep.
DEFAULT_VALIDATION_DAYS = 7


@dataclass(frozen=True)
class Split:
    """Training and scored events, and a sentence saying how they were chosen."""

    train: pd.DataFrame
    test: pd.DataFrame
    protocol: str
    description: str
    cutoff: date | None = None


def day_start(day: date) -> pd.Timestamp:
    """Midnight UTC at the start of ``day``."""
    return pd.Timestamp(day.isoformat(), tz="UTC")


def _utc_timestamps(events: pd.DataFrame) -> pd.Series:
    if "timestamp" not in events.columns:
        raise EvaluationError("the events have no timestamp column: a time split needs one")
    stamps = pd.to_datetime(events["timestamp"], utc=True)
    if stamps.isna().any():
        first = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise EvaluationError(f"row {first}: field timestamp is empty; cannot place it in time")
    return stamps


def event_days(events: pd.DataFrame) -> list[date]:
    """The distinct UTC days of the events, in order."""
    midnights = pd.DatetimeIndex(_utc_timestamps(events).dt.floor("D").unique())
    return sorted(midnights.date)


def default_cutoff(days: Sequence[date], history_days: int = DEFAULT_HISTORY_DAYS) -> date:
    """The first scored day: ``history_days`` after the first day with data."""
    if not days:
        raise EvaluationError("no days with data: nothing to evaluate")
    first, last = min(days), max(days)
    cutoff = first + timedelta(days=history_days)
    if cutoff > last:
        raise EvaluationError(
            f"the data spans {first}..{last}, shorter than the {history_days} days of history "
            "needed before the first scored day; give more days or an earlier --cutoff"
        )
    return cutoff


def time_split(events: pd.DataFrame, cutoff: date) -> Split:
    """Events before midnight UTC of ``cutoff`` train; events on or after it are scored.

    Raises
    ------
    EvaluationError
        When either side would be empty.
    """
    stamps = _utc_timestamps(events)
    is_test = (stamps >= day_start(cutoff)).to_numpy(dtype=bool)
    train = events.loc[~is_test].reset_index(drop=True)
    test = events.loc[is_test].reset_index(drop=True)
    if train.empty:
        raise EvaluationError(
            f"no events before the cut-off {cutoff}: choose a later --cutoff so that some "
            "history trains"
        )
    if test.empty:
        raise EvaluationError(
            f"no events on or after the cut-off {cutoff}: choose an earlier --cutoff"
        )
    last = stamps[is_test].max().date()
    description = (
        f"time split: the history before {cutoff} (midnight UTC) trains the origin method, each day "
        f"{cutoff}..{last} is scored"
    )
    return Split(train=train, test=test, protocol="time", description=description, cutoff=cutoff)


def random_split(
    events: pd.DataFrame, *, test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 42
) -> Split:
    """A random, stratified (normal vs anomaly) hold-out, as the origin notebook used.

    Stratifying on the binary outcome rather than on each category keeps rare categories
    from making the split impossible.
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if "event_label" not in events.columns:
        raise EvaluationError("the events have no event_label column: cannot stratify")
    strata = is_anomaly_label(events["event_label"])
    if strata.isna().any():
        raise EvaluationError("some events have no event_label: drop them before splitting")
    counts = strata.value_counts()
    if len(counts) < 2 or counts.min() < 2:
        raise EvaluationError(
            "a stratified split needs at least two normal and two anomalous events, got "
            f"{dict(counts)}"
        )
    positions = np.arange(len(events))
    train_rows, test_rows = train_test_split(
        positions,
        test_size=test_fraction,
        stratify=strata.to_numpy(dtype=bool),
        random_state=seed,
    )
    description = (
        f"stratified random split (as the origin notebook): {test_fraction:.0%} of events "
        f"held out at random (seed {seed}), the rest trains, whatever their day"
    )
    return Split(
        train=events.iloc[np.sort(train_rows)].reset_index(drop=True),
        test=events.iloc[np.sort(test_rows)].reset_index(drop=True),
        protocol="random",
        description=description,
    )


def validation_split(split: Split, *, days: int = DEFAULT_VALIDATION_DAYS,
                     fraction: float = DEFAULT_TEST_FRACTION, seed: int = 42) -> Split:
    """Divide a split's training events into what fits and what validates a tuning sweep, so
    that tuning never sees a scored event.

    Time protocol: the last ``days`` days with data before the cut-off validate, the earlier
    ones fit. Random protocol: a stratified random ``fraction`` of the training events
    validates.

    Raises
    ------
    EvaluationError
        When the history is too short to leave days on both sides, or (random protocol) when
        the training events cannot be stratified.
    """
    if split.protocol == "random":
        inner = random_split(split.train, test_fraction=fraction, seed=seed)
        description = (f"a stratified random {fraction:.0%} of the training events (seed {seed}); "
                       "the sweep's models fit on the rest")
        return Split(train=inner.train, test=inner.test, protocol="random", description=description)
    history = event_days(split.train)
    if len(history) <= days:
        raise EvaluationError(
            f"the history before the cut-off has {len(history)} day(s) with data: too few to hold "
            f"out {days} validation day(s) and fit on the days before them"
        )
    first = history[-days]
    inner = time_split(split.train, first)
    description = (f"the last {days} days of history, {first}..{history[-1]}, before the cut-off "
                   f"{split.cutoff}; the sweep's models fit on the days before {first}")
    return Split(train=inner.train, test=inner.test, protocol="time", description=description, cutoff=first)
