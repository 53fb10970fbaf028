"""Whole days of hand-made events for the baseline tests, and a loader that serves them by day."""

from __future__ import annotations

from datetime import date

import pandas as pd

from tests.ztad.behaviour.features.sequences import frame, working_days


def day_events(d: date, user: str = "alice", **fields) -> pd.DataFrame:
    return frame(working_days(user, d, 1, **fields))


def loader(events_by_day: dict[date, pd.DataFrame], asked: list[date] | None = None):
    def load(d: date) -> pd.DataFrame:
        if asked is not None:
            asked.append(d)
        if d not in events_by_day:
            raise FileNotFoundError(d)
        return events_by_day[d]

    return load
