"""The features that compare an event with other users' events of the same day.

Two families look across users within the day: how many distinct users one IP address served
today (``ip_users_today``), and how many distinct users one source failed to log in as in the
last hour (``ip_failed_users_60m``, a password spray; its failures are counted in
``ctx_ip_failures_60m``). Every other feature depends only on the event's own user, that
user's events of the day and the baseline.

A day scored in shards of users (:mod:`ztad.sharding`) cannot count across users inside one
shard. :func:`cross_user_signals` computes these counts once over the whole day; each shard
passes its rows of them to :func:`ztad.features.compute_features` (``cross_user=``) and gets
exactly the features that the whole day would give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.baselines import BaselineState
from ztad.config import DetectionConfig
from ztad.features.context import EventContext, FeatureInputError, FeatureSettings, build_context

#: The cross-user counts, per event.
CROSS_USER_COLUMNS: tuple[str, ...] = ("ip_users_today", "ip_failures_60m", "ip_failed_users_60m")

_SHARED_KEY = "cross_user"


def cross_user_signals(
    events: pd.DataFrame,
    baseline: BaselineState,
    config: DetectionConfig,
    settings: FeatureSettings | None = None,
) -> pd.DataFrame:
    """The cross-user counts of a whole day's events.

    Parameters
    ----------
    events, baseline, config, settings
        As for :func:`ztad.features.compute_features`, with ALL the day's events.

    Returns
    -------
    pandas.DataFrame
        Same index and order as ``events``; columns :data:`CROSS_USER_COLUMNS` (users the
        event's IP served today; failures of its IP in the spray window and the distinct users
        they were against).
    """
    from ztad.features.device import ip_users_today
    from ztad.features.failures import spray_counts

    ctx = build_context(events, baseline, config, settings or FeatureSettings())
    attempts, users = spray_counts(ctx)
    return pd.DataFrame(
        {
            "ip_users_today": ip_users_today(ctx),
            "ip_failures_60m": attempts,
            "ip_failed_users_60m": users,
        },
        index=events.index,
    )


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
    ctx.shared[_SHARED_KEY] = {c: signals[c].to_numpy() for c in CROSS_USER_COLUMNS}


def given(ctx: EventContext, column: str) -> np.ndarray | None:
    """The whole day's value of a cross-user count, when :func:`share` gave one."""
    signals = ctx.shared.get(_SHARED_KEY)
    return None if signals is None else signals[column]
