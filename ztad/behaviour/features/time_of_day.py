"""Time features: how rare this hour of the week is for the user, and how far outside their
usual working window the login falls.

Hours are local to the place the login comes from (its time zone, from the gazetteer; UTC when
the place is unknown), so a traveller working 09:00-17:00 in New York keeps a normal working day
and a VPN user is judged in the egress city's clock, consistently. Hour profiles (168 hours of
the week per user) are smoothed over neighbouring hours and pooled across working days /
weekend days, and a user with few events borrows the profile of their peers (Bayesian prior),
so that a new employee's 09:00 login is not "rare" just because they have no history. The usual
working window is the shortest run of hours that holds most of the user's logins, which
handles night shifts that wrap midnight.
"""

from __future__ import annotations

import numpy as np

from ztad.behaviour.clock import EPOCH_WEEKDAY, HOURS_PER_WEEK, MICROS_PER_DAY, MICROS_PER_HOUR, hour_of_week
from ztad.behaviour.features.categories import categorical
from ztad.behaviour.features.context import EventContext, as_text, present_in
from ztad.behaviour.holidays import holiday_names
from ztad.ingest.gazetteer import utc_offsets

_KERNEL = {0: 0.4, 1: 0.2, -1: 0.2, 2: 0.1, -2: 0.1}

DESCRIPTIONS: dict[str, str] = {
    "hour_rarity": "How rare this hour of the week is for the user (log10 of how much less "
    "likely than an even spread; smoothed, with peers filling in thin history)",
    "off_hours_distance": "Hours between the login and the user's usual working window, in "
    "local time (0 inside the window)",
    "day_off": "1 when the login falls on a weekend (or a configured holiday) in local time "
    "and the user never works such days; less the more often they do (0 for weekend staff)",
}

#: Share of an even week's hours that fall on Saturday and Sunday.
_WEEKEND_SHARE = 2.0 / 7.0
_WEEKEND_HOURS = np.arange(5 * 24, 7 * 24)


def smooth_week(counts: np.ndarray) -> np.ndarray:
    """Spread hour-of-week counts over neighbouring hours and over days of the same kind.

    Half of the mass is a circular kernel over adjacent hours; the other half is the average
    over working days (Mon-Fri) or weekend days of the same hour. Total mass is unchanged.
    """
    kernel = sum(w * np.roll(counts, shift, axis=1) for shift, w in _KERNEL.items())
    by_day = counts.reshape(len(counts), 7, 24)
    pooled = np.empty_like(by_day)
    pooled[:, :5] = by_day[:, :5].mean(axis=1, keepdims=True)
    pooled[:, 5:] = by_day[:, 5:].mean(axis=1, keepdims=True)
    return 0.5 * kernel + 0.5 * pooled.reshape(len(counts), HOURS_PER_WEEK)


def _with_prior(counts: np.ndarray, prior: np.ndarray, weight: float) -> np.ndarray:
    """Posterior mean probabilities: smoothed counts plus ``weight`` pseudo-events of ``prior``."""
    totals = counts.sum(axis=1, keepdims=True)
    return (smooth_week(counts) + weight * prior) / (totals + weight)


#: Users' rows of an hour table worked on at once: a large organisation's whole table (800,000
#: users x 168 hours) is a gibibyte, and smoothing it whole held several such copies at once.
#: A run this short (11 MiB of float64) keeps smoothing's shifted copies in the processor's
#: cache: the table of 82,000 users takes 0.4 s instead of 1.0 to 1.6 s with runs of 65,536.
#: Every row is computed on its own, so the rows come out the same whatever the run.
TABLE_ROWS = 8_192


def _chunks(rows: int) -> list[slice]:
    """Runs of :data:`TABLE_ROWS` rows covering ``rows``."""
    return [slice(begin, min(begin + TABLE_ROWS, rows)) for begin in range(0, rows, TABLE_ROWS)]


def _peer_sums(values: np.ndarray, peers: np.ndarray, n_peers: int) -> np.ndarray:
    """Each peer group's sum of its users' rows, added in the users' order a chunk at a time."""
    out = np.zeros((n_peers, values.shape[1]))
    for rows in _chunks(len(values)):
        keep = peers[rows] >= 0
        np.add.at(out, peers[rows][keep], values[rows][keep])
    return out


def _prior_rows(user_peers: np.ndarray, peers: np.ndarray, org: np.ndarray) -> np.ndarray:
    """Each user's peer-group row, or the organisation's for users without a group."""
    if len(peers) == 0:
        return np.repeat(org, len(user_peers), axis=0)
    return np.where((user_peers >= 0)[:, None], peers[np.maximum(user_peers, 0)], org)


def hour_probabilities(ctx: EventContext) -> tuple[np.ndarray, np.ndarray]:
    """Local hour-of-week probabilities for users, then peer groups, then the organisation,
    and each event's row.

    Returns
    -------
    table
        Shape ``(users + peers + 1, 168)``.
    rows
        For each event: its user's row if known, else its peer group's, else the organisation's.
    """
    state, weight = ctx.state, ctx.settings.hour_prior_events
    table = state.derived(("hour_probabilities", weight), lambda: _probability_table(state, weight))
    return table, _table_rows(ctx)


def _table_rows(ctx: EventContext) -> np.ndarray:
    """Each event's row in a users, then peer groups, then organisation table."""
    n_users, n_peers = ctx.state.n_users, len(ctx.state.peer_labels)
    return np.where(ctx.user >= 0, ctx.user, np.where(ctx.peer >= 0, n_users + ctx.peer, n_users + n_peers))


def _probability_table(state, weight: float) -> np.ndarray:
    """Hour-of-week probabilities of every user, peer group and the organisation."""
    users = state.hour_counts
    n_users, n_peers = len(users), len(state.peer_labels)
    user_peers = state.users["peer"].to_numpy("int64") if n_users else np.array([], "int64")
    org_counts = users.sum(axis=0, keepdims=True)
    org = _with_prior(org_counts, np.full((1, HOURS_PER_WEEK), 1.0 / HOURS_PER_WEEK), 1.0)
    peers = _with_prior(_peer_sums(users, user_peers, n_peers), org, weight)
    table = np.empty((n_users + n_peers + 1, HOURS_PER_WEEK))
    for rows in _chunks(n_users):
        table[rows] = _with_prior(users[rows], _prior_rows(user_peers[rows], peers, org), weight)
    table[n_users:n_users + n_peers], table[n_users + n_peers:] = peers, org
    return table


def usual_windows(histograms: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Shortest circular run of local hours holding ``share`` of each row's logins.

    Returns the start hour and the length in hours (24 = no usual window: empty history).
    """
    rows = len(histograms)
    totals = histograms.sum(axis=1, keepdims=True)
    normalised = np.where(totals > 0, histograms / np.maximum(totals, 1e-12), 1.0 / 24)
    cumulative = np.concatenate([np.zeros((rows, 1)), np.cumsum(np.tile(normalised, 2), axis=1)], axis=1)
    starts = np.zeros(rows, dtype="int64")
    lengths = np.full(rows, 24, dtype="int64")
    still = np.flatnonzero(totals[:, 0] > 0)  # rows whose window is not found yet
    begin = np.arange(24)
    for length in range(1, 24):
        if len(still) == 0:
            break
        open_cumulative = cumulative[still]
        coverage = open_cumulative[:, begin + length] - open_cumulative[:, begin]
        best = coverage.argmax(axis=1)
        done = coverage[np.arange(len(still)), best] >= share - 1e-9
        starts[still[done]], lengths[still[done]] = best[done], length
        still = still[~done]
    return starts, lengths


def window_table(ctx: EventContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Usual windows for users, then peer groups, then the organisation, and each event's row."""
    state, weight, share = ctx.state, ctx.settings.hour_prior_events, ctx.settings.usual_hours_share
    starts, lengths = state.derived(("usual_windows", weight, share), lambda: _windows(state, weight, share))
    return starts, lengths, _table_rows(ctx)


def _windows(state, weight: float, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Usual windows of every user, peer group and the organisation."""
    n_users, n_peers = state.n_users, len(state.peer_labels)
    local = state.hour_counts.reshape(n_users, 7, 24).sum(axis=1)
    user_peers = state.users["peer"].to_numpy("int64") if n_users else np.array([], "int64")
    peers = _peer_sums(local, user_peers, n_peers)
    org = local.sum(axis=0, keepdims=True)

    def norm(h):
        return h / np.maximum(h.sum(axis=1, keepdims=True), 1e-12)

    starts = np.empty(n_users + n_peers + 1, dtype="int64")
    lengths = np.empty(n_users + n_peers + 1, dtype="int64")
    for rows in _chunks(n_users):
        prior = norm(_prior_rows(user_peers[rows], peers, org))
        starts[rows], lengths[rows] = usual_windows(local[rows] + weight * prior, share)
    starts[n_users:], lengths[n_users:] = usual_windows(np.vstack([peers + weight * norm(org), org]), share)
    return starts, lengths


def hours_outside(local_hour: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Circular distance in hours from ``local_hour`` to the window ``[start, start+length)``."""
    into = np.mod(local_hour - start, 24.0)
    after = into - length
    before = 24.0 - into
    return np.where((into < length) | (length >= 24), 0.0, np.minimum(after, before))


def unaccustomed_to_weekends(week_profiles: np.ndarray) -> np.ndarray:
    """1 for a profile with no weekend logins, falling to 0 at an even week's share (2/7).

    Judges a day off by the user's own habit (with the peer prior for thin history), so that
    weekend staff and people who often work Saturdays are not flagged for it.
    """
    weekend_share = week_profiles[:, _WEEKEND_HOURS].sum(axis=1)
    return np.clip(1.0 - weekend_share / _WEEKEND_SHARE, 0.0, 1.0)


def _weekend_habits(ctx: EventContext, table: np.ndarray) -> np.ndarray:
    """:func:`unaccustomed_to_weekends` of the state's probability ``table``, computed once."""
    key = ("weekend_habits", ctx.settings.hour_prior_events)
    return ctx.state.derived(key, lambda: unaccustomed_to_weekends(table))


#: Hours either side of a login's local hour that count as "the same time of day".
SAME_TIME_HOURS = 2


def _events_near_hour(state) -> np.ndarray:
    """Per user and hour of day: baseline events within :data:`SAME_TIME_HOURS` of it."""
    by_hour = state.hour_counts.reshape(state.n_users, 7, 24).sum(axis=1)
    return sum(np.roll(by_hour, shift, axis=1) for shift in range(-SAME_TIME_HOURS, SAME_TIME_HOURS + 1))


def own_events_near_hour(ctx: EventContext, local_hour: np.ndarray) -> np.ndarray:
    """The user's own baseline events within :data:`SAME_TIME_HOURS` of the login's local hour
    of day, on any day of the week (0 for users without history).

    An on-call engineer paged at 02:00 every few weeks has a handful; a strict day worker has
    none, however their hour-of-week profile is smoothed.
    """
    state = ctx.state
    if state.n_users == 0 or ctx.n == 0:
        return np.zeros(ctx.n)
    near = state.derived(("events_near_hour", SAME_TIME_HOURS), lambda: _events_near_hour(state))
    hour = np.floor(local_hour).astype("int64") % 24
    return np.where(ctx.user >= 0, near[np.maximum(ctx.user, 0), hour], 0.0).astype("float64")


def own_night_days(ctx: EventContext) -> np.ndarray:
    """The days of the user's baseline window with small-hours logins of their own, trusted or
    alerted by the off-hours rule alone (0 for users without history): an on-call engineer's
    nights recur on separate days."""
    state = ctx.state
    if state.n_users == 0 or ctx.n == 0:
        return np.zeros(ctx.n)
    nights = state.derived(("night_days",), lambda: state.users["night_days"].to_numpy("float64"))
    return np.where(ctx.user >= 0, nights[np.maximum(ctx.user, 0)], 0.0)


def compute(ctx: EventContext) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Time features and their context columns for the day's events."""
    zones = as_text(ctx.coords["timezone"])
    local = ctx.micros + utc_offsets(ctx.micros, zones)
    table, rows = hour_probabilities(ctx)
    probability = table[rows, hour_of_week(local)]
    local_day = np.floor_divide(local, MICROS_PER_DAY)
    local_hour = (local - local_day * MICROS_PER_DAY) / MICROS_PER_HOUR
    starts, lengths, window_rows = window_table(ctx)
    start, length = starts[window_rows], lengths[window_rows]
    weekend = ((local_day + EPOCH_WEEKDAY) % 7) >= 5
    holiday = holiday_names(
        ctx.coords["country_code"], local_day.astype("int64"),
        public=ctx.settings.public_holidays, company_days=ctx.settings.company_holidays,
    )
    rest_day = weekend | present_in(holiday)
    features = {
        "hour_rarity": np.log10(1.0 / (HOURS_PER_WEEK * probability)),
        "off_hours_distance": hours_outside(local_hour, start, length),
        # Per profile row first, then per event: an events x 168 copy of the table would
        # cost over a kilobyte per event.
        "day_off": rest_day * _weekend_habits(ctx, table)[rows],
    }
    context = {
        "ctx_weekend": weekend.astype("float64"),
        "ctx_holiday": categorical(holiday),
        "ctx_hour_probability": probability,
        "ctx_local_hour": local_hour,
        "ctx_timezone": categorical(zones, missing_as="UTC"),
        "ctx_usual_start": start.astype("float64"),
        "ctx_usual_end": np.where(length >= 24, np.nan, (start + length) % 24).astype("float64"),
        "ctx_own_events_near_hour": own_events_near_hour(ctx, local_hour),
        "ctx_own_night_days": own_night_days(ctx),
    }
    return features, context
