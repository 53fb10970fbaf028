"""Volume features: bytes moved relative to the user's usual for that resource, relative to
peers, and the number of logins so far today relative to the user's usual day.

Bytes of successful logins are compared in log space (transfers spread over orders of
magnitude; a failed login's handshake is not a transfer and scores 0), against the most
specific baseline with enough observations: the user on this resource, then the peer group on
this resource, then the organisation on this resource, then the user on anything, then the
organisation on anything.
"""

from __future__ import annotations

import numpy as np

from ztad.behaviour.baselines.arrays import nan_to_zero
from ztad.behaviour.baselines.event_columns import log_bytes_of
from ztad.behaviour.features.categories import from_names
from ztad.behaviour.features.context import EventContext
from ztad.behaviour.features.shared_counts import given

_LN10 = np.log(10.0)

DESCRIPTIONS: dict[str, str] = {
    "bytes_log_ratio": "Bytes transferred compared with the usual amount for this user and "
    "resource, log10 of the ratio (1 = ten times more)",
    "bytes_z": "Bytes transferred as a z-score of log-bytes against the same baseline as "
    "bytes_log_ratio",
    "bytes_z_peers": "Bytes transferred as a z-score of log-bytes against the user's peer "
    "group on this resource",
    "logins_today_ratio": "The user's events so far today compared with their usual events "
    "per active day (peers for thin history), log2 of the ratio",
}

#: A transfer at least this many times its usual (log10) is a surge when peers are compared.
#: Ten times, not five: transfers are heavy-tailed, and on a busy resource of a large group a
#: few users move five times their usual on any ordinary day, which hid real exfiltrations.
SURGE_LOG_RATIO = float(np.log10(10.0))

#: Baselines tried in order, by name (the name is kept in ``ctx_bytes_baseline``).
BYTES_BASELINES: tuple[str, ...] = ("user_resource", "peer_resource", "org_resource", "user", "org")


def _stats(count: np.ndarray, total: np.ndarray, squares: np.ndarray, floor: float):
    mean = total / np.maximum(count, 1.0)
    spread = np.sqrt(np.maximum(squares / np.maximum(count, 1.0) - mean**2, 0.0))
    return mean, np.maximum(spread, floor)


def _candidate_stats(ctx: EventContext) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(count, sum, sum of squares) of log-bytes per event for each baseline level."""
    state = ctx.state
    pairs = state.pairs["resource"]
    items, _ = ctx.lookup("resource")
    user_rows = pairs.find(ctx.user, items)
    peer_pairs = state.peer_pairs["resource"]
    peer_rows = peer_pairs.find(ctx.peer, items)
    org = state.org_items["resource"]
    columns = ("lb_count", "lb_sum", "lb_sumsq")

    def org_resource(column):
        values = state.derived(("org_resource", column), lambda: org[column].to_numpy("float64"))
        return np.where(items >= 0, values[np.maximum(items, 0)] if len(values) else 0.0, 0.0)

    org_totals = state.derived(("org_log_bytes",), lambda: _org_totals(state, columns))
    return {
        "user_resource": tuple(pairs.get(c, user_rows) for c in columns),
        "peer_resource": tuple(peer_pairs.get(c, peer_rows) for c in columns),
        "org_resource": tuple(org_resource(c) for c in columns),
        "user": tuple(ctx.user_column(c) for c in columns),
        "org": tuple(np.full(ctx.n, t) for t in org_totals),
    }


def _org_totals(state, columns: tuple[str, ...]) -> list[float]:
    """The organisation's totals of per-user columns (0 without users)."""
    return [float(state.users[c].sum()) if state.n_users else 0.0 for c in columns]


def _first_trusted(candidates, order, minimum, floor, n, prior=None):
    """Mean and spread from the first baseline in ``order`` with at least ``minimum`` values.

    With a ``prior`` (mean, spread, available), user-level statistics are shrunk towards it
    (empirical Bayes): a user's spread estimated from a dozen transfers is noisy, and an
    underestimated spread turns ordinary variation into large z-scores.
    """
    mean, spread = np.zeros(n), np.full(n, floor)
    observations, chosen = np.zeros(n), np.full(n, -1)
    for level, name in enumerate(order):
        count, total, squares = candidates[name]
        take = (chosen < 0) & (count >= minimum)
        m, sd = _stats(count, total, squares, floor)
        if prior is not None and name.startswith("user"):
            m, sd = _shrink(count, m, sd, *prior)
        mean[take], spread[take], observations[take], chosen[take] = m[take], sd[take], count[take], level
    return mean, spread, observations, chosen


#: Pseudo-observations of the peer prior in the user's mean and variance of log-bytes.
_PRIOR_MEAN_WEIGHT = 2.0
_PRIOR_VARIANCE_WEIGHT = 10.0


def _shrink(count, mean, spread, prior_mean, prior_spread, available):
    """Posterior mean and spread of log-bytes: the user's, pulled towards the prior."""
    km = np.where(available, _PRIOR_MEAN_WEIGHT, 0.0)
    kv = np.where(available, _PRIOR_VARIANCE_WEIGHT, 0.0)
    shrunk_mean = (count * mean + km * prior_mean) / np.maximum(count + km, 1e-12)
    variance = (count * spread**2 + kv * prior_spread**2) / np.maximum(count + kv, 1e-12)
    return shrunk_mean, np.sqrt(variance)


def _logins_so_far(ctx: EventContext) -> np.ndarray:
    """1 for the user's first event of the (UTC) day, 2 for the second, and so on."""
    day = ctx.micros // 86_400_000_000
    groups = ctx.day_user * (int(day.max() - day.min()) + 1) + (day - day.min()) if ctx.n else day
    order = ctx.by_user_time
    ordered = groups[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if ctx.n else np.array([], bool)
    start_index = np.maximum.accumulate(np.where(starts, np.arange(ctx.n), 0))
    rank = np.empty(ctx.n, dtype="float64")
    rank[order] = np.arange(ctx.n) - start_index + 1
    return rank


def _usual_daily_events(ctx: EventContext) -> np.ndarray:
    """The user's mean events per active day, blended with their peers' by maturity."""
    own = ctx.history_events / np.maximum(ctx.active_days, 1.0)
    if ctx.state.n_users:
        state = ctx.state
        peer_mean, org_mean = state.derived(("daily_events_means",), lambda: _daily_event_means(state))
        own_group = peer_mean[np.maximum(ctx.peer, 0)] if len(peer_mean) else org_mean
        group_mean = np.where(ctx.peer >= 0, own_group, org_mean)
    else:
        group_mean = np.zeros(ctx.n)
    w = ctx.maturity
    return w * own + (1.0 - w) * group_mean


def _daily_event_means(state) -> tuple[np.ndarray, float]:
    """Mean events per active day of each peer group (the organisation's for a group without
    activity), and the organisation's."""
    users = state.users
    peers = users["peer"].to_numpy("int64")
    keep = peers >= 0
    size = len(state.peer_labels)

    def per_peer(column):
        return np.bincount(peers[keep], weights=users[column].to_numpy("float64")[keep], minlength=size)

    events, days = per_peer("events"), per_peer("active_days")
    org_mean = users["events"].sum() / max(users["active_days"].sum(), 1.0)
    return np.where(days > 0, events / np.maximum(days, 1.0), org_mean), org_mean


def peer_surge_users(ctx: EventContext, log_ratio: np.ndarray) -> np.ndarray:
    """Per event, the other users of its peer group who moved at least ten times their usual
    bytes on the same resource that day.

    A month-end close, a release or a quarterly export makes a whole team move much more than
    usual on the same application on the same day; an exfiltration is one account's. A
    cross-user count: the whole day's values when they were given
    (:mod:`ztad.behaviour.features.cross_user`).
    """
    shared = given(ctx, "peer_surge_users")
    if shared is not None:
        return shared
    return peer_surges(ctx.peer, ctx.day_codes("resource"), ctx.day_user, log_ratio >= SURGE_LOG_RATIO)


def peer_surges(peer: np.ndarray, resource: np.ndarray, users: np.ndarray, surged: np.ndarray) -> np.ndarray:
    """:func:`peer_surge_users` from the day's arrays: each event's peer group, resource code
    and user code (-1: none), and whether it moved at least ten times its usual bytes. Equal
    codes mean the same resource or user, whatever their values."""
    if len(peer) == 0:
        return np.zeros(0, dtype="int64")
    group = np.where((peer >= 0) & (resource >= 0), peer.astype("int64") * (int(resource.max()) + 1)
                     + resource, -1)
    surged = surged & (group >= 0)
    width = int(users.max()) + 1
    pairs = np.unique(group[surged] * width + users[surged])
    per_group = np.bincount(pairs // width, minlength=max(int(group.max()) + 1, 1))
    count = np.where(group >= 0, per_group[np.maximum(group, 0)], 0)
    return (count - surged).astype("int64")  # the others: the event's own user does not count


def own_surge_transfers(ctx: EventContext, log_ratio: np.ndarray) -> np.ndarray:
    """Per event, the user's transfers of that (UTC) day, this one included, that moved at
    least ten times their usual bytes.

    Transfers are heavy-tailed: one access at fifty times the usual is an ordinary day's
    outlier somewhere in a large organisation, while an exfiltration moves its bulk in a
    session of several accesses.
    """
    if ctx.n == 0:
        return np.zeros(0, dtype="int64")
    day = ctx.micros // 86_400_000_000
    groups = ctx.day_user.astype("int64") * (int(day.max() - day.min()) + 1) + (day - day.min())
    surged = log_ratio >= SURGE_LOG_RATIO
    counts = np.bincount(groups[surged], minlength=int(groups.max()) + 1)
    return counts[groups].astype("int64")


def _judged_bytes(ctx: EventContext) -> dict[str, np.ndarray]:
    """Each event's log-bytes and the baselines it is judged against: the user's (``mean``,
    ``spread``, ``observations``, ``chosen`` level, ``judged``) and the peers' (``peer_*``)."""
    s = ctx.settings
    x = log_bytes_of(ctx.column("bytes_transferred"), ctx.column("login_success"))
    has = ~np.isnan(x)
    candidates = _candidate_stats(ctx)
    if s.cold_start:
        order, minimum = BYTES_BASELINES, s.bytes_min_observations
    else:
        order, minimum = ("user_resource", "user"), 1
    peer_order = ("peer_resource", "org_resource", "org")
    peer_mean, peer_spread, _, peer_level = _first_trusted(
        candidates, peer_order, s.bytes_min_observations, s.bytes_std_floor, ctx.n
    )
    prior = (peer_mean, peer_spread, peer_level >= 0) if s.cold_start else None
    mean, spread, observations, chosen = _first_trusted(
        candidates, order, minimum, s.bytes_std_floor, ctx.n, prior
    )
    judged = has & (chosen >= 0)
    return {
        "x": x, "order": order, "mean": mean, "spread": spread, "observations": observations,
        "chosen": chosen, "judged": judged, "deviation": np.where(judged, nan_to_zero(x) - mean, 0.0),
        "peer_mean": peer_mean, "peer_spread": peer_spread, "peer_judged": has & (candidates["org"][0] > 0),
    }


def bytes_log_ratio(ctx: EventContext) -> np.ndarray:
    """The ``bytes_log_ratio`` feature alone (what a surge is judged by)."""
    return _judged_bytes(ctx)["deviation"] / _LN10


def compute(ctx: EventContext) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Volume features and their context columns for the day's events."""
    b = _judged_bytes(ctx)
    x, deviation = b["x"], b["deviation"]
    so_far = _logins_so_far(ctx)
    usual_daily = _usual_daily_events(ctx)
    features = {
        "bytes_log_ratio": deviation / _LN10,
        "bytes_z": deviation / b["spread"],
        "bytes_z_peers": np.where(
            b["peer_judged"], (nan_to_zero(x) - b["peer_mean"]) / b["peer_spread"], 0.0
        ),
        "logins_today_ratio": np.log2((so_far + 1.0) / (usual_daily + 1.0)),
    }
    context = {
        "ctx_usual_bytes": np.where(b["judged"], np.expm1(b["mean"]), np.nan),
        "ctx_bytes_observations": b["observations"],
        "ctx_bytes_baseline": from_names(np.where(b["judged"], b["chosen"], -1), tuple(b["order"])),
        "ctx_events_so_far": so_far,
        "ctx_usual_daily_events": usual_daily,
        "ctx_peer_surge_users": peer_surge_users(ctx, features["bytes_log_ratio"]),
        "ctx_own_surge_transfers": own_surge_transfers(ctx, features["bytes_log_ratio"]),
    }
    return features, context
