"""The features that compare an event with other users' events of the same day.

Four families look across users within the day: how many distinct users one IP address served
today (``ip_users_today``), how many distinct users one source failed to log in as in the
last hour (``ip_failed_users_60m``, a password spray; its failures are counted in
``ctx_ip_failures_60m``); what each address did today, to tell the internet's background
scanning (:mod:`ztad.behaviour.features.scanning`); and how many peers surged on the same
resource that day (``ctx_peer_surge_users``, a month-end close rather than an exfiltration).
Every other feature depends only on the event's own user, that
user's events of the day and the baseline.

A day scored in shards of users (:mod:`ztad.pipeline.sharding`) cannot count across users inside one
shard. :func:`cross_user_signals` computes these counts once over the whole day; each shard
passes its rows of them to :func:`ztad.behaviour.features.compute_features` (``cross_user=``) and gets
exactly the features that the whole day would give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines import BaselineState
from ztad.behaviour.features import volume
from ztad.behaviour.features.context import build_context
from ztad.behaviour.features.device import ip_users_today
from ztad.behaviour.features.failures import spray_counts
from ztad.behaviour.features.scanning import source_scan
from ztad.behaviour.features.shared_counts import CROSS_USER_COLUMNS
from ztad.config import DetectionConfig, FeatureSettings


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
        As for :func:`ztad.behaviour.features.compute_features`, with ALL the day's events.

    Returns
    -------
    pandas.DataFrame
        Same index and order as ``events``; columns :data:`CROSS_USER_COLUMNS` (users the
        event's IP served today; failures of its IP in the spray window and the distinct users
        they were against).
    """
    ctx = build_context(events, baseline, config, settings or FeatureSettings())
    attempts, users = spray_counts(ctx)
    source_attempts, source_minutes, scanner_like = source_scan(ctx)
    volume_features, _ = volume.compute(ctx)
    return pd.DataFrame(
        {
            "ip_users_today": ip_users_today(ctx),
            "ip_failures_60m": attempts,
            "ip_failed_users_60m": users,
            "source_attempts_today": source_attempts,
            "source_minutes_today": source_minutes,
            "source_scanner_like": scanner_like,
            "peer_surge_users": volume.peer_surge_users(ctx, volume_features["bytes_log_ratio"]),
        },
        index=events.index,
    )
