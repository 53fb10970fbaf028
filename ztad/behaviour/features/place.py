"""Place features: new city or country for the user, rarity among peers and the organisation,
and travel speed (see :mod:`ztad.behaviour.features.trips`).

Novelty for a user with thin history is judged against peers (a new employee in the city
where their colleagues work is not "somewhere new"), and the place that carries most of a new
user's own day is their home, not a novelty. Rarity only matters for a city the user
has never been to: a remote worker's home town is rare among peers every day and means
nothing. A plausible trip (business travel on the user's own laptop) is not held against them.
"""

from __future__ import annotations

import numpy as np

from ztad.behaviour.baselines.arrays import nan_to_zero
from ztad.behaviour.features.context import EventContext, present_in
from ztad.behaviour.features.trips import AIRLINER_KMH, compute_moves
from ztad.ingest.gazetteer import haversine_km

DESCRIPTIONS: dict[str, str] = {
    "city_novelty": "1 when the user has never logged in from this city in the baseline window "
    "(for a user with thin history, weighted by whether their peers never did either); 0 on a "
    "plausible trip",
    "country_novelty": "1 when the user has never logged in from this country in the baseline "
    "window (for a user with thin history, weighted by whether their peers never did either); "
    "0 on a plausible trip",
    "city_rarity_peers": "For a city new to the user, how rare it is among their peer group "
    "(log10 of the inverse share of peers who used it)",
    "city_rarity_org": "For a city new to the user, how rare it is across the organisation "
    "(log10 of the inverse share of users who used it)",
    "travel_speed": "How many times faster than an airliner (900 km/h) the user must have "
    "moved between this login and the previous or next one, log2 of the ratio; 0 at airliner "
    "speed or slower, under the GeoIP noise radius, or from a known network",
}


def rarity(users_with: np.ndarray, group_size) -> np.ndarray:
    """log10 of the inverse share of a group that used an item, smoothed (0 users -> high)."""
    return np.log10((np.asarray(group_size, dtype="float64") + 1.0) / (users_with + 0.5))


def group_users(ctx: EventContext, kind: str) -> np.ndarray:
    """Users of the event's peer group who used its item (NaN when the group is tiny), looked
    up once per kind however many features read it."""
    key = ("group_users", kind)
    if key not in ctx.shared:
        items, _ = ctx.lookup(kind)
        peer_pairs = ctx.state.peer_pairs[kind]
        users = peer_pairs.get("users", peer_pairs.find(ctx.peer, items))
        ctx.shared[key] = np.where(ctx.peer_size >= 3, users, np.nan)
    return ctx.shared[key]


def blended_novelty(ctx: EventContext, kind: str) -> np.ndarray:
    """New for the user, weighted for thin history by whether it is new for their peers too
    (the organisation when the peer group is tiny).

    A mature user's new city counts fully. A new employee's city counts only when none of
    their peers uses it and it is not where the user spends their day; once the user has been
    somewhere, it is not new for them, whatever their peers do.
    """
    _, days = ctx.lookup(kind)
    present = present_in(ctx.item_values(kind))
    peers = group_users(ctx, kind)
    in_group = np.where(np.isnan(peers), ctx.org_users(kind), peers)
    w = ctx.maturity
    surprising = (in_group == 0) & ~settled(ctx, kind)
    return (present & (days == 0)) * (w + (1.0 - w) * surprising)


def settled(ctx: EventContext, kind: str) -> np.ndarray:
    """Cold start: for a user with no history at all, the item that carries most of their
    day (their home town, their home network) is where they live, not a novelty."""
    if not ctx.settings.cold_start:
        return np.zeros(ctx.n, dtype=bool)
    return ctx.dominant_today(kind) & (ctx.history_events == 0)


def compute(ctx: EventContext) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Place features and their context columns for the day's events."""
    moves = compute_moves(ctx)
    ordinary = ~moves.on_trip
    _, city_days = ctx.lookup("city")
    peers, org = group_users(ctx, "city"), ctx.org_users("city")
    located = ctx.present("location")
    seen = (city_days >= 1) if ctx.settings.known_networks else np.zeros(ctx.n, dtype=bool)
    counts = located & ~seen & ordinary
    org_rarity = rarity(org, ctx.state.n_users)
    peer_rarity = np.where(np.isnan(peers), org_rarity, rarity(nan_to_zero(peers), ctx.peer_size))
    home = ctx.user_column("home_lat", np.nan), ctx.user_column("home_lon", np.nan)
    # A new user's home town may be rare in the organisation; it is still their home.
    weight = np.where(counts, np.where(settled(ctx, "city"), ctx.maturity, 1.0), 0.0)
    features = {
        "city_novelty": blended_novelty(ctx, "city") * ordinary,
        "country_novelty": blended_novelty(ctx, "country") * ordinary,
        "city_rarity_peers": weight * peer_rarity,
        "city_rarity_org": weight * org_rarity,
        "travel_speed": np.log2(np.maximum(moves.blamed_kmh, AIRLINER_KMH) / AIRLINER_KMH),
    }
    context = {
        "ctx_city_days": city_days,
        "ctx_city_peer_users": peers,
        "ctx_city_org_users": org,
        "ctx_home_location": ctx.user_categorical("home_location"),
        "ctx_home_distance_km": haversine_km(home[0], home[1], ctx.coords["lat"], ctx.coords["lon"]),
        "ctx_prev_location": moves.prev_location,
        "ctx_prev_minutes": moves.prev_minutes,
        "ctx_distance_km": moves.prev_km,
        "ctx_speed_kmh": moves.prev_kmh,
        "ctx_next_location": moves.next_location,
        "ctx_next_minutes": moves.next_minutes,
        "ctx_next_distance_km": moves.next_km,
        "ctx_next_speed_kmh": moves.next_kmh,
        "ctx_travel_kmh": moves.blamed_kmh,
        "ctx_travel_km": moves.blamed_km,
        "ctx_travel_minutes": moves.blamed_minutes,
        "ctx_travel_location": moves.blamed_location,
        "ctx_travel_direction": moves.direction,
        "ctx_known_network": ctx.known_network.astype("float64"),
        "ctx_on_trip": moves.on_trip.astype("float64"),
        "ctx_day_worst_speed_kmh": moves.day_worst_kmh,
    }
    return features, context
