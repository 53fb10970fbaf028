"""Tiny hand-made authentication histories for the baseline, feature, rule and explanation tests.

Events are written as short dicts (``login("alice", "2026-03-09 09:00")``) and turned into
canonical frames; a baseline is built from whole days of them exactly as the nightly job does
(daily aggregates, then their combination).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from ztad.behaviour.baselines import BaselineState, combine_aggregates, daily_aggregate
from ztad.behaviour.features import FeatureSettings, compute_features
from ztad.config import DetectionConfig
from ztad.schema import conform

#: The scored day of most tests (a Monday); history lies before it.
DAY = date(2026, 3, 16)


def login(
    user: str,
    at: str,
    location: str | None = "Madrid, Spain",
    *,
    ip: str | None = "192.0.2.10",
    device: str | None = None,
    success: bool = True,
    resource: str | None = "mail",
    nbytes: int = 10_000,
    department: str | None = "finance",
    asn: int | None = None,
) -> dict:
    """One event as a dict of canonical input fields (UTC time ``YYYY-MM-DD HH:MM[:SS]``);
    ``ip=None`` is an event without a client address, ``asn`` the address's network."""
    return {
        "timestamp": at,
        "user_id": user,
        "device_id": device or f"{user}-laptop",
        "ip_address": ip,
        "location": location,
        "department": department,
        "login_success": success,
        "resource": resource,
        "bytes_transferred": nbytes,
        "asn": asn,
    }


def frame(rows: list[dict]) -> pd.DataFrame:
    """Canonical events from dicts made by :func:`login`."""
    table = pd.DataFrame(rows)
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True, format="ISO8601")
    table["event_id"] = [f"e{i}" for i in range(len(table))]
    table["source_row"] = range(1, len(table) + 1)
    table["event_label"] = "normal"
    return conform(table)


def working_days(user: str, first: date, days: int, hours=(9, 12, 15), **fields) -> list[dict]:
    """The same logins (UTC hours) on each of ``days`` consecutive days from ``first``."""
    return [
        login(user, f"{first + timedelta(days=d)} {h:02d}:00", **fields)
        for d in range(days)
        for h in hours
    ]


def state_from(rows: list[dict], day: date = DAY, window_days: int = 30) -> BaselineState:
    """The baseline as of ``day`` from history rows, aggregated day by day like the job does."""
    if not rows:
        return combine_aggregates([], day, window_days)
    events = frame(rows)
    by_day = events.groupby(events["timestamp"].dt.date)
    first = day - timedelta(days=window_days)
    aggregates = [(d, daily_aggregate(part)) for d, part in by_day if first <= d < day]
    return combine_aggregates(aggregates, day, window_days)


def features_of(
    history: list[dict],
    today: list[dict],
    settings: FeatureSettings | None = None,
    config: DetectionConfig | None = None,
    day: date = DAY,
) -> pd.DataFrame:
    """Features of ``today``'s events against the baseline built from ``history``."""
    return compute_features(frame(today), state_from(history, day), config or DetectionConfig(), settings)


def at(day: date, clock: str) -> str:
    """``"2026-03-16 09:00"`` from a date and a clock time."""
    return f"{day} {clock}"
