"""The baseline as it stood at the start of a day, from saved (or rebuilt) daily aggregates."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ztad.behaviour.baselines.daily import (
    BaselineError,
    DailyAggregate,
    aggregate_of_parts,
    daily_aggregate,
)
from ztad.behaviour.baselines.persist import save_daily_aggregate, saved_daily_aggregate
from ztad.behaviour.baselines.rolling import combine_rolling
from ztad.behaviour.baselines.state import BaselineState


def window_days_before(day: date, window_days: int) -> list[date]:
    """The days ``[day - window_days, day)``, oldest first."""
    if window_days < 1:
        raise BaselineError(f"window_days must be at least 1, got {window_days}")
    return [day - timedelta(days=k) for k in range(window_days, 0, -1)]


#: A past day's events as a loader gives them: whole, or as parts that share no user.
DayEvents = pd.DataFrame | Iterable[pd.DataFrame]


def _build_missing(
    state_dir: Path, d: date, load_events: Callable[[date], DayEvents | None]
) -> DailyAggregate | None:
    """Aggregate a past day from its raw events and save it; ``None`` when it has no data."""
    try:
        events = load_events(d)
    except FileNotFoundError:
        return None
    return save_aggregate_of(state_dir, d, events)


def save_aggregate_of(state_dir: Path | str, d: date, events: DayEvents | None) -> DailyAggregate | None:
    """Aggregate a never-scored past day's events and save it; ``None`` (nothing saved) when it
    has none, so that late-arriving data is picked up later.

    ``events`` is the whole day, or the day as parts that share no user, aggregated one part
    at a time (:func:`~ztad.behaviour.baselines.daily.aggregate_of_parts`): a large day's
    aggregate is then built without its events or working arrays held whole.
    Also called by whoever has just read the day for another purpose, so that the day's raw
    events are not read again when a later baseline needs its aggregate.
    """
    if events is None:
        return None
    if isinstance(events, pd.DataFrame):
        if len(events) == 0:
            return None
        agg = daily_aggregate(events)
    else:
        agg = aggregate_of_parts(events)
        if agg.events == 0:
            return None
    save_daily_aggregate(agg, state_dir, d)
    return agg


def baseline_as_of(
    state_dir: Path | str,
    day: date,
    window_days: int,
    load_events: Callable[[date], DayEvents | None],
    keep_window: bool = True,
) -> BaselineState:
    """The baseline as it stood at the start of ``day``: days ``[day - window_days, day)``.

    Saved daily aggregates are reused, their tables read one kind at a time as they are
    combined; a day without one is aggregated from
    ``load_events(d)`` (all its events, whole or as parts that share no user: it was never
    scored), saved, and then read back like
    the others, so that a window built from raw history (a first night) never holds every
    day's tables at once (about 70 MiB for each million events of the window).
    A day with no data
    (``load_events`` returns nothing, ``None`` or raises ``FileNotFoundError``) is skipped and not saved,
    so late-arriving data is picked up later. Nothing from ``day`` or later is read.

    The user x item pairs are rolled from the window kept the night before when that is
    exactly right (:mod:`~ztad.behaviour.baselines.rolling`); with ``keep_window`` this
    window's are kept in turn.
    """
    state_dir = Path(state_dir)
    aggregates = []
    for d in window_days_before(day, window_days):
        agg = saved_daily_aggregate(state_dir, d)
        if agg is None and _build_missing(state_dir, d, load_events) is not None:
            agg = saved_daily_aggregate(state_dir, d)
        if agg is not None:
            aggregates.append((d, agg))
    state = combine_rolling(state_dir, aggregates, day, window_days, keep=keep_window)
    # The window's tables were read into Arrow's memory pool, which keeps freed blocks for
    # Arrow alone; handed back, they can hold the day's features instead of adding to them.
    pa.default_memory_pool().release_unused()
    return state
