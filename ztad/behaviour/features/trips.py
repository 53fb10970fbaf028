"""The day's located logins of each user as stays and moves: travel speed and plausible trips.

Consecutive successful located logins of a user (the first one of the day paired with the last
one of the previous day, kept in the baseline) form pairs; a failed login only shows where
someone tried the account, not where the user is. A pair shorter than the GeoIP noise radius
is not a move. For a move, the speed it needs is blamed on each endpoint that is not a known
network of the user or organisation: a login from Lagos 40 minutes after one from Madrid is
suspicious, and so is a login from Lagos 40 minutes *before* the user's own login from Madrid,
while the Madrid logins themselves are not.

A stay in a city that was entered by a move at airliner speed or slower, and left (if at all
that day) the same way, on a device the user already owns, is a plausible trip: a business
traveller's first day in New York. Place and address novelty are not held against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ztad.behaviour.baselines import codes_in
from ztad.behaviour.baselines.arrays import nan_to_zero, positions_in
from ztad.behaviour.clock import MICROS_PER_MINUTE
from ztad.behaviour.features.categories import text_dtype
from ztad.behaviour.features.context import EventContext
from ztad.ingest.gazetteer import haversine_km

#: Gate-to-gate speed of a long-haul flight; anything up to it is plausible travel.
AIRLINER_KMH = 900.0


@dataclass
class Moves:
    """Per event (aligned with the events; NaN/None where there is no such login).

    ``prev_*`` describe the pair from the previous located login to this one, ``next_*`` the
    pair from this one to the next located login of the day (places are categoricals).
    ``blamed_*`` describe the fastest adjacent move held against this login (0 km/h when
    none), ``direction`` says whether it was the previous (-1) or the next (+1) pair. ``on_trip`` marks logins of a
    plausible trip; ``day_worst_kmh`` is the fastest blamed move of the user that day.
    """

    prev_location: pd.Categorical
    prev_minutes: np.ndarray
    prev_km: np.ndarray
    prev_kmh: np.ndarray
    next_location: pd.Categorical
    next_minutes: np.ndarray
    next_km: np.ndarray
    next_kmh: np.ndarray
    blamed_kmh: np.ndarray
    blamed_km: np.ndarray
    blamed_minutes: np.ndarray
    blamed_location: pd.Categorical
    direction: np.ndarray
    on_trip: np.ndarray
    day_worst_kmh: np.ndarray


def _last_locations(state) -> tuple[pd.Index, np.ndarray]:
    """The distinct places users were last seen in, and each user's among them (-1: none)."""
    last = state.users["last_location"].astype("string")
    names = pd.Index(last.dropna().unique(), dtype="string")
    return names, codes_in(names, last)


def place_codes(ctx: EventContext) -> tuple[np.ndarray, np.ndarray, pd.CategoricalDtype]:
    """Codes of the events' places and of the users' last places, over one vocabulary: the
    events' own places, then the users' last places the events do not name, sorted.

    Users' last places are coded and sorted once per state; a batch only looks its distinct
    places up among them, however many users the baseline holds. The vocabulary comes as the
    categorical dtype of the place columns, built once per vocabulary.
    """
    event_codes, names = ctx.codes_of(ctx.text("location"))
    sorted_last, sorted_position, last_codes, sorted_text = ctx.state.derived(
        ("sorted_last_locations",), lambda: _sorted_last_locations(ctx.state)
    )
    found = np.full(len(names), -1, dtype="int64")  # each event place among the last places
    if len(names) and len(sorted_last):
        found = positions_in(sorted_last, names)
    named = np.full(len(sorted_last), -1, dtype="int64")
    named[found[found >= 0]] = np.flatnonzero(found >= 0)
    unnamed = named < 0  # the last places the events do not name, after the events' own
    code_of_sorted = np.where(unnamed, len(names) + np.cumsum(unnamed) - 1, named)
    translate = np.append(code_of_sorted[sorted_position], -1)
    vocabulary = np.concatenate([np.asarray(names, dtype=object), sorted_text[unnamed]])
    return event_codes, translate[last_codes], text_dtype(vocabulary)


def _sorted_last_locations(state) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """The users' distinct last places sorted, the position there of each of
    :func:`_last_locations`' places, each user's code among those (-1: none), and the sorted
    places as Python text."""
    last_names, last_codes = _last_locations(state)
    order = np.argsort(np.asarray(last_names, dtype=object), kind="stable")
    position = np.empty(len(order), dtype="int64")
    position[order] = np.arange(len(order))
    sorted_names = last_names[order]
    return sorted_names, position, last_codes, np.asarray(sorted_names, dtype=object)


def _previous_points(ctx: EventContext, order: np.ndarray, previous: np.ndarray, places):
    """Coordinates, time and place code of each located login's predecessor (today or
    yesterday)."""
    lat = ctx.coords["lat"]
    lon = ctx.coords["lon"]
    locations, last_locations, _ = places
    k = len(order)
    p_lat, p_lon, p_time = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    p_loc = np.full(k, -1, dtype="int64")
    today = previous >= 0
    src = previous[today]
    p_lat[today], p_lon[today] = lat[src], lon[src]
    p_time[today], p_loc[today] = ctx.micros[src], locations[src]
    first = np.flatnonzero(~today & (ctx.user[order] >= 0))
    if len(first) and ctx.state.n_users:
        code = ctx.user[order[first]]
        last_time = ctx.user_column("last_time", np.nan)[order[first]]
        earlier = last_time < ctx.micros[order[first]]
        first, code = first[earlier], code[earlier]
        p_lat[first] = ctx.user_column("last_lat", np.nan)[order[first]]
        p_lon[first] = ctx.user_column("last_lon", np.nan)[order[first]]
        p_time[first] = last_time[earlier]
        p_loc[first] = last_locations[code]
    km = haversine_km(p_lat, p_lon, lat[order], lon[order])
    minutes = (ctx.micros[order] - p_time) / MICROS_PER_MINUTE
    # Same-minute logins count as one minute apart, so that the speed stays finite.
    kmh = km / np.maximum(minutes / 60.0, 1.0 / 60.0)
    return p_loc, minutes, km, kmh


def _spread(n: int, order: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
    """Values given in ``order`` back in event order, ``fill`` for unlocated events."""
    out = np.full(n, fill, dtype=values.dtype)
    out[order] = values
    return out


def _place(n: int, order: np.ndarray, codes: np.ndarray, places: pd.CategoricalDtype) -> pd.Categorical:
    # Codes into the vocabulary by construction: not checked again.
    return pd.Categorical.from_codes(_spread(n, order, codes.astype("int64"), -1), dtype=places, validate=False)


def _user_max(day_user: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each event's largest value among its user's events of the day."""
    most = np.full(int(day_user.max(initial=-1)) + 1, -np.inf)
    np.maximum.at(most, day_user, values)
    return most[day_user]


def _trips(ctx, order, moved, kmh, next_pos) -> np.ndarray:
    """Per located login (in ``order``): part of a stay entered and left at plausible speed."""
    same_user = np.r_[False, ctx.day_user[order][1:] == ctx.day_user[order][:-1]]
    starts = ~same_user | moved
    run = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:] - 1, len(order) - 1] if len(first) else first
    entry_ok = moved[first] & (kmh[first] <= AIRLINER_KMH)
    leaves = next_pos[last]
    has_exit = leaves >= 0
    exit_ok = ~has_exit | (kmh[np.maximum(leaves, 0)] <= AIRLINER_KMH) | ~moved[np.maximum(leaves, 0)]
    device_known = ctx.lookup("device")[1][order] > 0
    return (entry_ok & exit_ok)[run] & device_known


def compute_moves(ctx: EventContext) -> Moves:
    """Moves and trips of the day (computed once per context)."""
    if "moves" in ctx.shared:
        return ctx.shared["moves"]
    n, s = ctx.n, ctx.settings
    lat = ctx.coords["lat"]
    # Where the user is: successful logins. A failure shows where someone tried the account.
    present = ~np.isnan(lat) & ~ctx.failed
    order = ctx.by_user_time[present[ctx.by_user_time]]
    previous = ctx.user_sorted_previous(order)
    places = place_codes(ctx)
    p_loc, minutes, km, kmh = _previous_points(ctx, order, previous, places)
    moved = nan_to_zero(km) >= s.geo_noise_km
    next_pos = np.full(len(order), -1, dtype="int64")
    has_next = np.flatnonzero(previous >= 0)
    next_pos[has_next - 1] = has_next
    nxt = np.maximum(next_pos, 0)
    n_kmh = np.where(next_pos >= 0, kmh[nxt], np.nan)
    n_km = np.where(next_pos >= 0, km[nxt], np.nan)
    n_min = np.where(next_pos >= 0, minutes[nxt], np.nan)
    n_moved = (next_pos >= 0) & moved[nxt]
    n_loc = np.where(next_pos >= 0, places[0][order[nxt]] if len(order) else -1, -1)
    excused = ctx.known_network[order]
    enter = np.where(moved & ~excused, nan_to_zero(kmh), 0.0)
    leave = np.where(n_moved & ~excused, nan_to_zero(n_kmh), 0.0)
    later = leave > enter
    blamed = np.maximum(enter, leave)
    on_trip = _trips(ctx, order, moved, kmh, next_pos) if s.plausible_travel else np.zeros(len(order), bool)
    worst = _user_max(ctx.day_user, _spread(n, order, blamed, 0.0))
    place_dtype = places[2]
    moves = Moves(
        prev_location=_place(n, order, p_loc, place_dtype),
        prev_minutes=_spread(n, order, minutes, np.nan),
        prev_km=_spread(n, order, km, np.nan),
        prev_kmh=_spread(n, order, np.where(moved, kmh, 0.0), np.nan),
        next_location=_place(n, order, n_loc, place_dtype),
        next_minutes=_spread(n, order, n_min, np.nan),
        next_km=_spread(n, order, n_km, np.nan),
        next_kmh=_spread(n, order, np.where(n_moved, n_kmh, 0.0), np.nan),
        blamed_kmh=_spread(n, order, blamed, 0.0),
        blamed_km=_spread(n, order, np.where(blamed > 0, np.where(later, n_km, km), 0.0), 0.0),
        blamed_minutes=_spread(n, order, np.where(later, n_min, np.where(blamed > 0, minutes, np.nan)), np.nan),
        blamed_location=_place(n, order, np.where(blamed > 0, np.where(later, n_loc, p_loc), -1), place_dtype),
        direction=_spread(n, order, np.where(blamed > 0, np.where(later, 1.0, -1.0), 0.0), 0.0),
        on_trip=_spread(n, order, on_trip, False),
        day_worst_kmh=worst,
    )
    ctx.shared["moves"] = moves
    return moves
