"""Resource features: first access by the user, rarity within the peer group, sensitivity.

"Rare among peers" is stronger evidence than "new for the user": a finance analyst opening the
finance ERP for the first time is routine, opening the HR payroll system that no one in finance
uses is not.
"""

from __future__ import annotations

import numpy as np

from ztad.behaviour.baselines.arrays import nan_to_zero
from ztad.behaviour.features.context import EventContext, present_in
from ztad.behaviour.features.place import group_users, rarity

DESCRIPTIONS: dict[str, str] = {
    "resource_novelty": "1 when the user has never accessed this resource in the baseline "
    "window (for a user with thin history, weighted by whether no peer did either)",
    "resource_rarity_peers": "How rare this resource is within the user's peer group (log10 of "
    "the inverse share of peers who used it; the organisation when the group is tiny)",
    "resource_sensitive": "1 when the resource is listed as sensitive in the configuration",
}


def compute(ctx: EventContext) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Resource features and their context columns for the day's events."""
    resources = ctx.item_values("resource")
    present = present_in(resources)
    _, user_days = ctx.lookup("resource")
    peers = group_users(ctx, "resource")
    use_peers = ~np.isnan(peers)
    in_group = np.where(use_peers, nan_to_zero(peers), ctx.org_users("resource"))
    group_size = np.where(use_peers, ctx.peer_size, float(ctx.state.n_users))
    w = ctx.maturity
    novelty = (present & (user_days == 0)) * (w + (1.0 - w) * (in_group == 0))
    sensitive = {str(r).strip().lower() for r in ctx.config.sensitive_resources}
    is_sensitive = ctx.lowered_in(resources, sensitive, strip=True)
    features = {
        "resource_novelty": novelty,
        "resource_rarity_peers": np.where(present, rarity(in_group, group_size), 0.0),
        "resource_sensitive": is_sensitive.astype("float64"),
    }
    context = {
        "ctx_resource_days": user_days,
        "ctx_resource_group_users": in_group,
        "ctx_group_size": group_size,
    }
    return features, context
