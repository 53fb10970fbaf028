"""The whole day's cross-user counts, handed to the context of one shard of its users.

:func:`ztad.behaviour.features.cross_user.cross_user_signals` counts across users once over
the whole day; :func:`share` gives a shard's context its rows of those counts, in the types
the families read (:data:`CROSS_USER_DTYPES`), and the feature families read them back with
:func:`given` instead of counting within the shard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.features.context import EventContext, FeatureInputError

#: The cross-user counts, per event.
CROSS_USER_COLUMNS: tuple[str, ...] = (
    "ip_users_today", "ip_failures_60m", "ip_failed_users_60m",
    "source_attempts_today", "source_minutes_today", "source_scanner_like", "peer_surge_users",
)

#: The dtype each count is read as by the feature families. The day's counts are kept in
#: narrower types where that is exact (:mod:`ztad.behaviour.features.cross_user`): counts as
#: 32-bit integers, the scanner look as a flag. Minutes keep their fractions.
CROSS_USER_DTYPES: dict[str, str] = {
    "ip_users_today": "float64", "ip_failures_60m": "int64", "ip_failed_users_60m": "int64",
    "source_attempts_today": "float64", "source_minutes_today": "float64", "source_scanner_like": "float64",
    "peer_surge_users": "int64",
}

_SHARED_KEY = "cross_user"


def share(ctx: EventContext, signals: pd.DataFrame) -> None:
    """Give ``ctx`` the whole day's cross-user counts of its events (row-aligned).

    Raises
    ------
    FeatureInputError
        When a column is missing or the rows do not match the events.
    """
    missing = [c for c in CROSS_USER_COLUMNS if c not in signals.columns]
    if missing:
        raise FeatureInputError(
            f"cross-user signals lack column(s) {missing}; compute them with cross_user_signals()"
        )
    if len(signals) != ctx.n:
        raise FeatureInputError(
            f"cross-user signals have {len(signals)} rows for {ctx.n} events; pass the rows of "
            "exactly these events, in their order"
        )
    ctx.shared[_SHARED_KEY] = {c: signals[c].to_numpy(CROSS_USER_DTYPES[c]) for c in CROSS_USER_COLUMNS}


def given(ctx: EventContext, column: str) -> np.ndarray | None:
    """The whole day's value of a cross-user count, when :func:`share` gave one."""
    signals = ctx.shared.get(_SHARED_KEY)
    return None if signals is None else signals[column]
