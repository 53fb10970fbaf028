"""Picking generated events by attack category, and users by position."""

import pandas as pd


def with_part(events: pd.DataFrame, category: str) -> pd.DataFrame:
    """Events whose label includes ``category`` (alone or combined)."""
    parts = events["event_label"].astype(str).str.split("+")
    return events[parts.apply(lambda p: category in p)]


def user_position(user_id: str) -> int:
    """Position of a generated user id (``u00001`` is 0)."""
    return int(user_id[1:]) - 1
