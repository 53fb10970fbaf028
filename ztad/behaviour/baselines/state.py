"""The baseline state: the window's daily aggregates combined into what features compare with."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import codes_in, latest_rows, take
from ztad.behaviour.baselines.daily import USER_SUMS, BaselineError, DailyAggregate
from ztad.behaviour.baselines.event_columns import PAIR_COLUMNS
from ztad.behaviour.baselines.pairs import PairStats, pair_stats
from ztad.behaviour.baselines.peers import assign_peers, group_items, org_items
from ztad.behaviour.baselines.places import country_pairs, home_places
from ztad.behaviour.baselines.window import WindowTable, read_window_table
from ztad.behaviour.clock import HOURS_PER_WEEK, SMALL_HOURS_END


@dataclass
class BaselineState:
    """What the organisation's behaviour looked like in the window ``[day - window_days, day)``.

    Attributes
    ----------
    user_index
        User ids; a user's code is their position here. ``users`` is aligned with it.
    users
        Per user: ``events``, ``failures``, ``active_days``, ``first_day``, ``last_day``
        (date ordinals), ``events_sq``, ``lb_count``/``lb_sum``/``lb_sumsq`` (log1p bytes),
        ``department``, ``last_time`` (µs since epoch, the last successful located login),
        ``last_lat``,
        ``last_lon``, ``last_location``, ``last_ip``, ``home_location``, ``home_lat``,
        ``home_lon``, ``home_tz``, ``peer`` (peer group code, -1 for none).
    hour_counts
        Events per user × local hour of the week, shape ``(users, 168)``.
    pairs
        ``device``, ``ip``, ``network``, ``asn``, ``city``, ``country``, ``resource``:
        :class:`PairStats` per user × item with ``count``, ``days``, ``last_day`` (resources
        also carry log-bytes sums).
    peer_labels
        Peer group names (a department, or ``resource group N``); a group's code is its position.
    peer_pairs
        ``city``, ``country``, ``network``, ``resource``: :class:`PairStats` per peer group ×
        item with ``users`` (distinct users of the group who used it) and ``count``.
    org_items
        ``ip``, ``network``, ``asn``, ``city``, ``country``, ``resource``: per item (aligned with the
        pair's ``items``) ``users`` and ``count`` across the organisation (resources also
        carry log-bytes sums).
    peer_descriptions
        Readable name of each peer group, e.g. ``resource group 2 (git, ci, wiki)``.
    centroids, centroid_resources, centroid_peers
        Learned groups' resource-share centroids, the resources they span and their peer
        codes, to place a new user without a department in the nearest group.
    """

    day: date
    window_days: int
    days_with_data: int
    user_index: pd.Index
    users: pd.DataFrame
    hour_counts: np.ndarray
    pairs: dict[str, PairStats]
    peer_labels: pd.Index
    peer_descriptions: list[str]
    peer_pairs: dict[str, PairStats]
    org_items: dict[str, pd.DataFrame]
    centroids: np.ndarray | None = None
    centroid_resources: pd.Index = field(default_factory=lambda: pd.Index([], dtype="string"))
    centroid_peers: np.ndarray = field(default_factory=lambda: np.array([], dtype="int64"))

    @property
    def n_users(self) -> int:
        """Users known to the baseline."""
        return len(self.user_index)

    def derived(self, key: tuple, compute):
        """A value derived from this state alone (and the settings named in ``key``), computed
        once: the scoring service judges request after request against one state, and tables
        over every user (hour-of-week probabilities, usual windows) need not be rebuilt for
        each. The state is never changed once built, so the value never goes stale."""
        cache = self.__dict__.setdefault("_derived", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def user_codes(self, user_ids: pd.Series) -> np.ndarray:
        """Code of each user id (-1 for a user the baseline has never seen)."""
        return codes_in(self.user_index, user_ids)

    @cached_property
    def peer_sizes(self) -> np.ndarray:
        """Number of known users per peer group."""
        peers = self.users["peer"].to_numpy("int64") if self.n_users else np.array([], "int64")
        return np.bincount(peers[peers >= 0], minlength=len(self.peer_labels))

    def peer_codes_for(self, events: pd.DataFrame, user_codes: np.ndarray) -> np.ndarray:
        """Peer group of each event's user: known users keep theirs; new users are placed
        by their department, else by the resources they touch today (nearest group)."""
        peers = np.full(len(events), -1, dtype="int64")
        known = user_codes >= 0
        if self.n_users:
            own = self.derived(("user_peers",), lambda: self.users["peer"].to_numpy("int64"))
            peers[known] = own[user_codes[known]]
        unknown = ~known
        if not unknown.any() or len(self.peer_labels) == 0:
            return peers
        by_department = codes_in(self.peer_labels, events["department"].astype("string"))
        peers[unknown] = by_department[unknown]
        still = unknown & (peers < 0)
        if still.any() and self.centroids is not None:
            peers[still] = self._nearest_group(events.loc[still])
        return peers

    def _nearest_group(self, events: pd.DataFrame) -> np.ndarray:
        """Assign users by the share of today's events on each resource (nearest centroid)."""
        user_codes, _ = pd.factorize(events["user_id"].astype("string"))
        resource_codes = codes_in(self.centroid_resources, events["resource"].astype("string"))
        n_users, n_res = user_codes.max() + 1, len(self.centroid_resources)
        keep = resource_codes >= 0
        matrix = np.zeros((n_users, n_res))
        np.add.at(matrix, (user_codes[keep], resource_codes[keep]), 1.0)
        matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
        distances = ((matrix[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
        group = self.centroid_peers[distances.argmin(axis=1)]
        return group[user_codes]


def _combine_users(window: WindowTable, codes: np.ndarray, n: int) -> pd.DataFrame:
    """Sum the window's per-day user rows (``codes`` their users'); the latest department and
    located login win."""
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for column in USER_SUMS:
        out[column] = np.bincount(codes, weights=window.numbers(column, "float64"), minlength=n)
    day = window.days
    out["active_days"], out["first_day"], out["last_day"] = _day_span(codes, day, n)
    # The latest day that names the user's department.
    named = np.where(window.valid("department"), day.astype("float64"), np.nan)
    out["department"] = window.text_at("department", latest_rows(codes, named, n))
    last_time = window.numbers("last_time", "float64")
    latest = latest_rows(codes, last_time, n)
    out["last_time"] = take(last_time, latest, np.nan)
    for column in ("last_lat", "last_lon"):
        out[column] = take(window.numbers(column, "float64"), latest, np.nan)
    for column in ("last_location", "last_ip"):
        out[column] = window.text_at(column, latest)
    return out


def _day_span(codes: np.ndarray, days: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per user (of ``n``, ``codes`` the users of the dated rows ``days``): their rows, first
    day and last day (0, 0 and 0 for a user without rows). Counted and found by maxima per
    user, not by sorting the window's rows by user."""
    rows = np.bincount(codes, minlength=n).astype("int64")
    first = np.full(n, np.iinfo("int64").max)
    last = np.full(n, np.iinfo("int64").min)
    np.minimum.at(first, codes, days)
    np.maximum.at(last, codes, days)
    seen = rows > 0
    return rows, np.where(seen, first, 0), np.where(seen, last, 0)


def _night_days(codes: np.ndarray, days: np.ndarray, hours: np.ndarray, n: int) -> np.ndarray:
    """Per user (of ``n``): the days of the window with logins in the small hours (before
    :data:`~ztad.behaviour.clock.SMALL_HOURS_END` local), from dated user x hour-of-week rows
    (``codes`` their users', -1 for none of the ``n``; ``days`` their days, ``hours`` their
    hours of the week): those of trusted events and those of events alerted by the off-hours
    rule alone.

    Separate nights, not events: one long night session is one night, and an on-call
    engineer's pattern is several nights. A night alerted for anything else (the model, another
    rule) or confirmed as an attack never counts. A night alerted only for its hour counts:
    the analyst has had the alert, and without it an on-call engineer whose nights all fall
    after the job started would be alerted every night, since an alerted night is never
    trusted (:func:`_habit_alerts` says which alerted hours count).
    """
    night = ((hours % 24) < SMALL_HOURS_END) & (codes >= 0)
    codes, days = codes[night], days[night]
    if not len(codes):
        return np.zeros(n, dtype="int64")
    span = int(days.max() - days.min()) + 1
    nights = np.unique(codes * span + (days - days.min()))
    return np.bincount(nights // span, minlength=n).astype("int64")


def _habit_alerts(alerted: pd.Series, others: pd.Series) -> np.ndarray:
    """Which of the window's ``alerted`` hours (those alerted by the off-hours rule alone, by
    their users) are of users with no ``others`` alert in the window (their users): one model
    alert, other rule or confirmed attack, and the user's alerted nights stop counting as a
    habit."""
    return ~alerted.isin(others.dropna().unique()).to_numpy()


def _combine_pairs(window: WindowTable, item_name: str, user_index: pd.Index) -> PairStats:
    """Sum the window's user × item rows into one :class:`PairStats` (``days`` = days seen).
    The items are found and coded from the days' dictionaries of their values."""
    item_codes, items = window.codes(item_name, sort=True)
    summed = ("count", "lb_count", "lb_sum", "lb_sumsq")
    sums = {c: window.numbers(c, "float64") for c in window.parts[0].column_names if c in summed}
    return pair_stats(
        window.codes_in(user_index, "user_id"),
        item_codes,
        pd.Index(items.to_numpy(zero_copy_only=False), dtype="string"),
        sums,
        maxes={"last_day": window.days},
        rows_as="days",
    )


def _hour_counts(codes: np.ndarray, hours: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """Events per user (of ``n``) × hour of the week, from user × hour-of-week rows."""
    flat = codes * HOURS_PER_WEEK + hours
    return np.bincount(flat, weights=counts, minlength=n * HOURS_PER_WEEK).reshape(n, HOURS_PER_WEEK)


@dataclass
class WindowHours:
    """The window's trusted hours: ``counts``, events per user × hour of the week (the
    state's ``hour_counts``), and ``nights``, the dated user × hour-of-week rows in the small
    hours, one row each of user code, day ordinal and hour of the week (what
    :func:`_night_days` counts)."""

    counts: np.ndarray
    nights: np.ndarray


def night_rows(codes: np.ndarray, days: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """The dated user × hour-of-week rows of known users in the small hours, as
    :attr:`WindowHours.nights` holds them."""
    night = ((hours % 24) < SMALL_HOURS_END) & (codes >= 0)
    return np.stack([codes[night], days[night], hours[night]], axis=1).astype("int64", copy=False)


def combine_hours(window: WindowTable, user_index: pd.Index) -> WindowHours:
    """The window's trusted hours combined from every day's user × hour-of-week rows."""
    codes, hours = window.codes_in(user_index, "user_id"), window.numbers("how", "int64")
    counts = _hour_counts(codes, hours, window.numbers("count", "float64"), len(user_index))
    return WindowHours(counts, night_rows(codes, window.days, hours))


#: The user x item pairs of one kind (a key of ``PAIR_COLUMNS``) of the window, coded against the
#: window's user index, found without combining every day's table; ``None`` when they cannot be.
RolledPairs = Callable[[str, pd.Index], PairStats | None]
#: The window's trusted hours coded against the window's user index: found without combining
#: every day's table when they can be, else by calling the given function, which combines them.
RolledHours = Callable[[pd.Index, Callable[[], WindowHours]], WindowHours]


def combine_aggregates(
    aggregates: Iterable[tuple[date, DailyAggregate]],
    day: date,
    window_days: int,
    rolled_pairs: RolledPairs | None = None,
    rolled_hours: RolledHours | None = None,
) -> BaselineState:
    """Combine daily aggregates (all before ``day``) into the state as of ``day``.

    The user x item pairs of a kind are taken from ``rolled_pairs`` when it gives them
    (:mod:`~ztad.behaviour.baselines.rolling`), else combined from every day's table; the
    trusted hours likewise from ``rolled_hours``.

    One kind of table is combined at a time, and each kind's daily tables are let go once it
    is: with aggregates that read their tables when asked for
    (:func:`~ztad.behaviour.baselines.persist.saved_daily_aggregate`), a window's tables are
    never all held at once (a million-event organisation's fortnight is most of a gibibyte).
    """
    dated = [(d, a) for d, a in aggregates]
    late = [d for d, _ in dated if d >= day]
    if late:
        raise BaselineError(f"aggregates of {late[0]} cannot be part of the baseline as of {day}")
    empty = DailyAggregate.empty().tables

    def window(name: str, texts: tuple[str, ...] = ("user_id",)) -> WindowTable:
        return read_window_table(dated, name, empty[name], texts)

    user_days = window("users", ("user_id", "department", "last_location", "last_ip"))
    days_with_data = len(np.unique(user_days.days[user_days.numbers("events", "int64") > 0]))
    user_codes, user_ids = user_days.codes("user_id", sort=True)
    user_index = pd.Index(user_ids.to_numpy(zero_copy_only=False), dtype="string")
    n = len(user_index)
    users = _combine_users(user_days, user_codes, n)
    del user_days, user_codes
    pairs = {}
    for kind, column in PAIR_COLUMNS.items():
        rolled = None if rolled_pairs is None else rolled_pairs(kind, user_index)
        if rolled is None:
            rolled = _combine_pairs(window(f"user_{kind}", ("user_id", column)), column, user_index)
        pairs[kind] = rolled
    pairs["country"] = country_pairs(pairs["city"])
    users = pd.concat([users, home_places(users, pairs["city"])], axis=1)

    def combined_hours() -> WindowHours:
        return combine_hours(window("user_hour"), user_index)

    hours = combined_hours() if rolled_hours is None else rolled_hours(user_index, combined_hours)
    alerted = window("user_alerted_hour")
    habit = _habit_alerts(alerted.texts("user_id"), window("user_other_alert").texts("user_id"))
    users["night_days"] = _night_days(
        np.concatenate([hours.nights[:, 0], alerted.codes_in(user_index, "user_id")[habit]]),
        np.concatenate([hours.nights[:, 1], alerted.days[habit]]),
        np.concatenate([hours.nights[:, 2], alerted.numbers("how", "int64")[habit]]),
        n,
    )
    del alerted
    peer, labels, descriptions, centroids, centroid_peers = assign_peers(users, pairs["resource"])
    users["peer"] = peer
    bytes_columns = ("lb_count", "lb_sum", "lb_sumsq")
    return BaselineState(
        day=day,
        window_days=window_days,
        days_with_data=days_with_data,
        user_index=user_index,
        users=users,
        hour_counts=hours.counts,
        pairs=pairs,
        peer_labels=labels,
        peer_descriptions=descriptions,
        peer_pairs={
            "city": group_items(pairs["city"], peer),
            "country": group_items(pairs["country"], peer),
            "network": group_items(pairs["network"], peer),
            "resource": group_items(pairs["resource"], peer, bytes_columns),
        },
        org_items={
            "ip": org_items(pairs["ip"]),
            "network": org_items(pairs["network"]),
            "asn": org_items(pairs["asn"]),
            "city": org_items(pairs["city"]),
            "country": org_items(pairs["country"]),
            "resource": org_items(pairs["resource"], bytes_columns),
        },
        centroids=centroids,
        centroid_resources=pairs["resource"].items,
        centroid_peers=centroid_peers,
    )
