"""Point-in-time behavioural baselines built from additive daily aggregates.

Each day's (unflagged) events are summarised once into small tables of counts and sums, per
user and per user × device / IP / city / resource (:mod:`~ztad.behaviour.baselines.daily`),
and saved under ``<state_dir>/baselines/day=YYYY-MM-DD/``
(:mod:`~ztad.behaviour.baselines.persist`). The baseline as of day D is the combination of the
aggregates of days ``[D - window, D)`` (:mod:`~ztad.behaviour.baselines.as_of`): sums are
summed, first and last days are the minimum and maximum, the latest value wins for the last
login. This gives, at once:

- point in time: nothing from D or later can leak into the judgement of D, so a backfill of a
  past day reproduces the nightly run exactly;
- incremental work: each night adds one small aggregate and never re-reads raw history;
- a bounded window: days older than the window simply stop being combined (expiry);
- state persisted per day, so the baseline as of any recent day can be rebuilt.

From the combined tables the state (:mod:`~ztad.behaviour.baselines.state`) derives what
features compare against: each user's maturity (events, active days), home place and time zone
(:mod:`~ztad.behaviour.baselines.places`), last successful located login, local hour-of-week
counts, bytes statistics, the peer group (department, or clusters of users who touch the same
resources, :mod:`~ztad.behaviour.baselines.peers`) and peer / organisation-wide counts of users
per city, network, IP and resource.
"""

from ztad.behaviour.baselines.arrays import codes_in, reduce_groups
from ztad.behaviour.baselines.as_of import baseline_as_of, save_aggregate_of, window_days_before
from ztad.behaviour.baselines.daily import BaselineError, DailyAggregate, daily_aggregate
from ztad.behaviour.baselines.event_columns import (
    PAIR_COLUMNS,
    REQUIRED_COLUMNS,
    asn_text,
    event_coordinates,
    log_bytes,
    network_prefix,
)
from ztad.behaviour.baselines.pairs import PairStats
from ztad.behaviour.baselines.persist import (
    AGGREGATE_VERSION,
    aggregate_dir,
    has_daily_aggregate,
    load_daily_aggregate,
    save_daily_aggregate,
)
from ztad.behaviour.baselines.state import BaselineState, combine_aggregates
from ztad.behaviour.baselines.state_files import load_state, save_state

__all__ = [
    "AGGREGATE_VERSION", "PAIR_COLUMNS", "REQUIRED_COLUMNS", "BaselineError", "BaselineState",
    "DailyAggregate", "PairStats", "aggregate_dir", "asn_text", "baseline_as_of", "codes_in",
    "combine_aggregates", "daily_aggregate", "event_coordinates", "has_daily_aggregate",
    "load_daily_aggregate", "load_state", "log_bytes", "network_prefix", "reduce_groups",
    "save_aggregate_of", "save_daily_aggregate", "save_state", "window_days_before",
]
