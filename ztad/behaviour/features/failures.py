"""Failure features: bursts of failed logins per user, one source failing across many users
(password spray), and a success right after a burst (a guessed password).

A user's own windows look back in time from each event ("in the last 10 minutes"), counting
the event itself. A spray is judged on the whole hour it fills: the job scores a finished day,
so the first attempts of a spray belong to it as much as the last (see :func:`spray_counts`).
Everything is computed with sorted keys and binary search, never a loop over events.

Bursts and sprays count failures that tried a credential (:attr:`EventContext.guessed`): an
SSH client offering its public keys one by one fails several times before it asks for a
password, and those refusals are not guesses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.attempt_source import is_workstation
from ztad.behaviour.baselines.arrays import text_codes
from ztad.behaviour.clock import MICROS_PER_MINUTE
from ztad.behaviour.features.categories import categorical
from ztad.behaviour.features.context import EventContext
from ztad.behaviour.features.shared_counts import given
from ztad.config import FeatureSettings

#: Bound on (window, failure) pairs examined at once when counting distinct users.
_PAIR_CHUNK = 4_000_000

DESCRIPTIONS: dict[str, str] = {
    "login_failed": "1 when the login attempt failed",
    "user_failures_10m": "The user's failed credential attempts (not key probes) in the last 10 minutes, "
    "log(1 + count)",
    "user_failures_60m": "The user's failed credential attempts (not key probes) in the last hour, log(1 + count)",
    "ip_failed_users_60m": "Distinct users this source (the IP address, else the workstation) "
    "failed to log in as within the busiest hour that holds the event, counting only users for "
    "whom the source is new (password spray, not a busy office), log(1 + users)",
    "success_after_failures": "For a successful login, the user's failed logins in the "
    "preceding 10 minutes, log(1 + count); 0 for failures",
}


def _sorted_keys(groups: np.ndarray, micros: np.ndarray, span: int) -> np.ndarray:
    return groups.astype("int64") * span + micros


def _span(micros: np.ndarray, window: int) -> int:
    """Key stride per group: larger than any time difference plus the window."""
    return int(micros.max() - micros.min() + 2 * window + 1) if len(micros) else 1


def window_counts(groups, micros, flags, window_micros) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event, flagged events of the same group in ``[t - window, t]`` (in sorted order).

    Returns the count, the row of the earliest flagged event in the window and the row of the
    latest one (-1 when none), all aligned with the input rows.
    """
    n = len(micros)
    if n == 0:
        empty = np.array([], dtype="int64")
        return empty, empty, empty
    base = micros - micros.min()
    order = np.lexsort((base, groups))
    keys = _sorted_keys(groups[order], base[order], _span(base, window_micros))
    hit = flags[order].astype("int64")
    cumulative = np.r_[0, np.cumsum(hit)]
    position = np.arange(n)
    low = np.searchsorted(keys, keys - window_micros, side="left")
    count = cumulative[position + 1] - cumulative[low]
    next_hit = np.minimum.accumulate(np.where(hit > 0, position, n)[::-1])[::-1]
    last_hit = np.maximum.accumulate(np.where(hit > 0, position, -1))
    first = np.where(count > 0, order[np.minimum(next_hit[low], n - 1)], -1)
    last = np.where(count > 0, order[np.maximum(last_hit, 0)], -1)
    out_count, out_first, out_last = (np.empty(n, dtype="int64") for _ in range(3))
    out_count[order], out_first[order], out_last[order] = count, first, last
    return out_count, out_first, out_last


def _keyed(point_groups, point_micros, query_groups, query_micros, window_micros: int):
    """Sort order of the points, their sorted (group, time) keys and the queries' keys.

    Groups are strided far enough apart that a window before or after any time never reaches
    another group's keys, so one binary search finds a group's points in a window.
    """
    origin = min(point_micros.min(), query_micros.min())
    span = _span(np.r_[point_micros, query_micros] - origin, window_micros)
    order = np.lexsort((point_micros, point_groups))
    keys = _sorted_keys(point_groups[order], point_micros[order] - origin, span)
    return order, keys, _sorted_keys(query_groups, query_micros - origin, span)


def distinct_in_window(
    point_groups: np.ndarray,
    point_micros: np.ndarray,
    point_members: np.ndarray,
    query_groups: np.ndarray,
    query_micros: np.ndarray,
    window_micros: int,
    cap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query, points of its group in ``[t - window, t]``: count and distinct members.

    Distinct members are counted among the latest ``cap`` points of the window, which bounds
    the work when one group holds a huge burst (the count is exact; distinct is a lower bound).
    Queries whose windows hold the same points share one count of their members: a group's
    windows move forward with time, so a day of queries holds few distinct windows.
    """
    if len(point_micros) == 0 or len(query_micros) == 0:
        zeros = np.zeros(len(query_micros), dtype="int64")
        return zeros, zeros
    order, keys, query_keys = _keyed(point_groups, point_micros, query_groups, query_micros, window_micros)
    members = point_members[order].astype("int64")
    high = np.searchsorted(keys, query_keys, side="right")
    low = np.searchsorted(keys, query_keys - window_micros, side="left")
    count = np.where(query_groups >= 0, high - low, 0)
    low = np.maximum(low, high - cap)
    distinct = np.minimum(np.where(query_groups >= 0, high - low, 0), 1)
    several = np.flatnonzero(count >= 2)
    windows, shared = np.unique(low[several] * (len(keys) + 1) + high[several], return_inverse=True)
    distinct[several] = _distinct_members(members, windows // (len(keys) + 1), windows % (len(keys) + 1))[shared]
    return count, distinct


def _distinct_members(members: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Distinct ``members`` of each range ``[low, high)`` of the sorted points."""
    distinct = np.zeros(len(low), dtype="int64")
    width = int(members.max()) + 1 if len(members) else 1
    for chunk in _chunks(np.arange(len(low)), high - low):
        lengths = (high - low)[chunk]
        owner = np.repeat(np.arange(len(chunk)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        pairs = np.unique(owner * width + members[np.repeat(low[chunk], lengths) + offsets])
        distinct[chunk] = np.bincount(pairs // width, minlength=len(chunk))
    return distinct


def _chunks(rows: np.ndarray, lengths: np.ndarray):
    """Split ``rows`` so that each chunk expands to at most about ``_PAIR_CHUNK`` pairs."""
    if len(rows) == 0:
        return
    bucket = np.cumsum(lengths) // _PAIR_CHUNK
    bounds = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        yield rows[a:b]


def _range_argmax(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per query, the position of the largest ``values`` in ``[low, high)``; -1 when empty.

    A sparse table: level k holds the argmax of each run of 2**k values, so that any range is
    covered by two (overlapping) runs. Memory is n log n positions.
    """
    n = len(values)
    best = np.full(len(low), -1, dtype="int64")
    if n == 0:
        return best
    levels = [np.arange(n)]
    while 2 ** len(levels) <= n:
        half, prev = 2 ** (len(levels) - 1), levels[-1]
        left, right = prev[: n - 2 * half + 1], prev[half : n - half + 1]
        levels.append(np.where(values[right] > values[left], right, left))
    some = np.flatnonzero(high > low)
    width = high[some] - low[some]
    level = np.floor(np.log2(width)).astype("int64")
    for k in np.unique(level):
        rows = some[level == k]
        left = levels[k][low[rows]]
        right = levels[k][high[rows] - 2**k]
        best[rows] = np.where(values[right] > values[left], right, left)
    return best


def peak_in_window(
    point_groups: np.ndarray,
    point_micros: np.ndarray,
    point_members: np.ndarray,
    query_groups: np.ndarray,
    query_micros: np.ndarray,
    window_micros: int,
    cap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query, the busiest window of its group that holds it: count and distinct members.

    The windows considered are ``[p - window, p]`` for every point ``p`` of the group with
    ``t <= p <= t + window`` (every window that holds ``t`` and ends at a point), and the
    query's own trailing window ``[t - window, t]``. "Busiest" means the most distinct members,
    then the most points. Counts are as :func:`distinct_in_window` gives them.
    """
    own_count, own_distinct = distinct_in_window(
        point_groups, point_micros, point_members, query_groups, query_micros, window_micros, cap
    )
    if len(point_micros) == 0 or len(query_micros) == 0:
        return own_count, own_distinct
    count, distinct = distinct_in_window(
        point_groups, point_micros, point_members, point_groups, point_micros, window_micros, cap
    )
    order, keys, query_keys = _keyed(point_groups, point_micros, query_groups, query_micros, window_micros)
    low = np.searchsorted(keys, query_keys, side="left")
    high = np.where(query_groups >= 0, np.searchsorted(keys, query_keys + window_micros, side="right"), low)
    stride = int(count.max()) + 1
    busiest = _range_argmax((distinct * stride + count)[order], low, high)
    later = order[np.maximum(busiest, 0)]
    better = (busiest >= 0) & (distinct[later] * stride + count[later] > own_distinct * stride + own_count)
    return np.where(better, count[later], own_count), np.where(better, distinct[later], own_distinct)


def _take(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values[rows]``, None where ``rows`` is -1."""
    if len(values) == 0:
        return np.full(len(rows), None, dtype=object)
    return np.where(rows >= 0, values[np.maximum(rows, 0)], None)


def spray_counts(ctx: EventContext) -> tuple[np.ndarray, np.ndarray]:
    """Per event, its source's failures in the busiest spray window (an hour) that holds the
    event, and the distinct users they were against, counting only users for whom the source
    is new. The source is the IP address, else the workstation (:mod:`ztad.behaviour.attempt_source`).

    A spray of 20 users over half an hour gives every one of its 20 attempts the count 20, not
    1, 2, ... 20: the job scores a finished day, and the first victims are as sprayed as the last.

    A cross-user count: the whole day's values when they were given
    (:mod:`ztad.behaviour.features.cross_user`), so that a shard of users counts the other users too.
    """
    given_attempts = given(ctx, "ip_failures_60m")
    if given_attempts is not None:
        return given_attempts, given(ctx, "ip_failed_users_60m")
    sources = ctx.sources
    source_codes, _ = text_codes(sources)
    failing = ctx.guessed & foreign(ctx, sources)
    return spray_peaks(source_codes, ctx.micros, ctx.day_user, failing, ctx.settings)


def spray_peaks(
    sources: np.ndarray, micros: np.ndarray, users: np.ndarray, failing: np.ndarray, settings: FeatureSettings
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`spray_counts` from the day's arrays: each event's source code (-1: none), time,
    user code, and whether it is a failure that counts (a guess from a source foreign to its
    user). Equal codes mean the same source or user, whatever their values.

    Only the events of a source that failed at least once are looked at: a source without a
    counted failure has no spray window, and its events count 0 (most of a large day's).
    """
    counts = np.zeros(len(sources), dtype="int64"), np.zeros(len(sources), dtype="int64")
    fails = np.flatnonzero(failing & (sources >= 0))
    if len(fails) == 0:
        return counts
    failed_source = np.zeros(int(sources.max()) + 1, dtype=bool)
    failed_source[sources[fails]] = True
    asked = np.flatnonzero((sources >= 0) & failed_source[np.maximum(sources, 0)])
    counts[0][asked], counts[1][asked] = peak_in_window(
        sources[fails], micros[fails], users[fails], sources[asked], micros[asked],
        settings.spray_minutes * MICROS_PER_MINUTE, settings.spray_pair_cap,
    )
    return counts


def foreign(ctx: EventContext, sources: pd.Series) -> np.ndarray:
    """True where the attempt's source is new to its user and not one of the organisation's
    shared addresses.

    An office or VPN address fails for many of its own users every hour (a shared kiosk
    workstation too); a spraying source fails for users who never came from it. Only the
    latter count. A workstation source is judged by the user's devices, an address by their
    addresses and by the organisation's: an address that at least ``known_org_users`` users
    came from in the window is an office or VPN egress, and a large organisation's new
    employees, new laptops and travellers fail through it by the dozen every hour without
    ever having used it themselves.
    """
    if not ctx.settings.known_networks:
        return np.ones(ctx.n, dtype=bool)
    by_workstation = is_workstation(sources).to_numpy()
    new_address = (ctx.lookup("ip")[1] == 0) & (ctx.org_users("ip") < ctx.settings.known_org_users)
    return np.where(by_workstation, ctx.lookup("device")[1] == 0, new_address)


def compute(ctx: EventContext) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Failure features and their context columns for the day's events."""
    s, failed, guessed = ctx.settings, ctx.failed, ctx.guessed
    burst = s.burst_minutes * MICROS_PER_MINUTE
    per_10m, first_failure, last_failure = window_counts(ctx.day_user, ctx.micros, guessed, burst)
    per_60m, _, _ = window_counts(ctx.day_user, ctx.micros, guessed, 60 * MICROS_PER_MINUTE)
    ip_attempts, ip_users = spray_counts(ctx)
    succeeded = ~failed
    since_first = ctx.micros - ctx.micros[np.maximum(first_failure, 0)] if ctx.n else ctx.micros
    burst_minutes = np.where(first_failure >= 0, since_first / MICROS_PER_MINUTE, 0.0)
    sources = ctx.sources.to_numpy()
    features = {
        "login_failed": failed.astype("float64"),
        "user_failures_10m": np.log1p(per_10m),
        "user_failures_60m": np.log1p(per_60m),
        "ip_failed_users_60m": np.log1p(ip_users),
        "success_after_failures": np.where(succeeded, np.log1p(per_10m), 0.0),
    }
    context = {
        "ctx_user_failures_10m": per_10m.astype("float64"),
        "ctx_user_failures_60m": per_60m.astype("float64"),
        "ctx_burst_minutes": burst_minutes,
        "ctx_burst_ip": categorical(_take(sources, last_failure)),
        "ctx_ip_failures_60m": ip_attempts.astype("float64"),
        "ctx_ip_failed_users_60m": ip_users.astype("float64"),
    }
    return features, context
