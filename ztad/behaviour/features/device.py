"""Device and address features: first seen for the user, and how widely an address is shared.

Devices and exact addresses are personal, so peers cannot vouch for them: for a user with thin
history their novelty is scaled down by the user's maturity. Networks (an IPv4 /16) are
shared by a city's subscribers, so a new employee's home network is judged against peers.
Address churn of a known device inside a network or autonomous system the user already uses
(a VPN pool, a mobile carrier, a home line) is not a new source, and neither is the hotel of a
plausible trip. A new device that shows up on one of the user's own regular addresses (home
line, office egress) is a new laptop, not a takeover: takeovers come from somewhere else.
"""

from __future__ import annotations

import numpy as np

from ztad.behaviour.baselines import reduce_groups
from ztad.behaviour.features.context import EventContext
from ztad.behaviour.features.place import blended_novelty, group_users, settled
from ztad.behaviour.features.shared_counts import given
from ztad.behaviour.features.trips import compute_moves

DESCRIPTIONS: dict[str, str] = {
    "device_novelty": "1 when the user has never used this device in the baseline window "
    "(scaled down for users with thin history; 0 on one of the user's regular addresses, "
    "where a new device is a new laptop)",
    "ip_novelty": "1 when the user has never logged in from this IP address in the baseline "
    "window (scaled down for users with thin history; 0 for a known device in a known network "
    "and on a plausible trip)",
    "network_novelty": "1 when the user has never logged in from this network (IPv4 /16) in "
    "the baseline window (for thin history, weighted by whether their peers never did either; "
    "0 on a plausible trip)",
    "ip_users_today": "How many distinct users this IP address served today, log(1 + users)",
    "ip_users_history": "How many distinct users this IP address served in the baseline "
    "window, log(1 + users)",
    "ip_new_in_org": "1 when nobody in the organisation used this IP address in the baseline "
    "window, outside networks the user already uses (for thin history, only when the network "
    "is new to the organisation too)",
}


def distinct_per_group(groups: np.ndarray, members: np.ndarray) -> np.ndarray:
    """For each row, how many distinct ``members`` share its group (codes >= 0; -1 -> 0)."""
    keep = (groups >= 0) & (members >= 0)
    width = int(members.max()) + 1 if len(members) else 1
    pairs, _ = reduce_groups(groups[keep].astype("int64") * width + members[keep])
    per_group = np.bincount(pairs // width, minlength=int(groups.max()) + 1 if len(groups) else 0)
    if len(per_group) == 0:
        return np.zeros(len(groups))
    return np.where(groups >= 0, per_group[np.maximum(groups, 0)], 0).astype("float64")


def _devices_per_user(ctx: EventContext) -> np.ndarray:
    state = ctx.state
    per_user = state.derived(
        ("devices_per_user",),
        lambda: np.bincount(state.pairs["device"].owners(), minlength=state.n_users).astype("float64"),
    )
    if len(per_user) == 0:
        return np.zeros(ctx.n)
    return np.where(ctx.known_user, per_user[np.maximum(ctx.user, 0)], 0.0)


def ip_users_today(ctx: EventContext) -> np.ndarray:
    """Per event, how many distinct users its IP address served today.

    A cross-user count: the whole day's values when they were given
    (:mod:`ztad.behaviour.features.cross_user`), so that a shard of users counts the other users too.
    """
    whole_day = given(ctx, "ip_users_today")
    if whole_day is not None:
        return whole_day
    return distinct_per_group(ctx.day_codes("ip_address"), ctx.day_user)


def compute(ctx: EventContext) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Device and address features and their context columns for the day's events."""
    ordinary = ~compute_moves(ctx).on_trip
    _, device_days = ctx.lookup("device")
    ip_items, ip_days = ctx.lookup("ip")
    _, network_days = ctx.lookup("network")
    _, asn_days = ctx.lookup("asn")
    known = ctx.settings.known_networks
    # Churn is a known device getting a new address in a known network (its /16, or its
    # provider's autonomous system: a mobile carrier's pool spans many /16s); a new device on
    # a new address is the shape of a takeover, even inside the user's own provider's range.
    same_provider = (network_days >= 1) | (asn_days >= 1)
    churn = (same_provider & (device_days >= 1)) if known else np.zeros(ctx.n, dtype=bool)
    own_address = (ip_days >= ctx.settings.known_user_days) if known else np.zeros(ctx.n, dtype=bool)
    has_device = ctx.present("device_id")
    has_ip = ctx.present("ip_address")
    users_today = ip_users_today(ctx)
    users_history = ctx.org_users("ip")
    peers_network = group_users(ctx, "network")
    network_in_group = np.where(np.isnan(peers_network), ctx.org_users("network"), peers_network)
    w = ctx.maturity
    new_in_org = has_ip & (ip_items < 0) & ~churn & ordinary
    network_surprising = (network_in_group == 0) & ~settled(ctx, "network")
    features = {
        "device_novelty": w * (has_device & (device_days == 0) & ~own_address),
        "ip_novelty": w * (has_ip & (ip_days == 0) & ~churn & ordinary),
        "network_novelty": blended_novelty(ctx, "network") * ordinary,
        "ip_users_today": np.log1p(users_today),
        "ip_users_history": np.log1p(users_history),
        "ip_new_in_org": new_in_org * (w + (1.0 - w) * network_surprising),
    }
    context = {
        "ctx_device_days": device_days,
        "ctx_user_devices": _devices_per_user(ctx),
        "ctx_ip_days": ip_days,
        "ctx_network_days": network_days,
        "ctx_ip_users_today": users_today,
        "ctx_ip_users_history": users_history,
    }
    return features, context
