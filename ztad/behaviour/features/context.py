"""What every feature family needs to know about the day's events, computed once.

The context indexes the events once (user codes, times, the user-then-time order, peer groups)
and caches lookups against the baseline, so that families share them and work with integer
codes and numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ztad.behaviour.attempt_source import attempt_sources
from ztad.behaviour.baselines import (
    REQUIRED_COLUMNS,
    BaselineState,
    asn_text,
    network_prefix,
)
from ztad.behaviour.baselines.arrays import (
    ascii_lowered_in,
    lowered_in,
    nan_to_zero,
    positions_in,
    text_codes,
)
from ztad.behaviour.baselines.event_columns import coordinates_of
from ztad.behaviour.clock import timestamp_micros
from ztad.behaviour.features.categories import sorted_codes, used_categorical
from ztad.config import DetectionConfig, FeatureSettings
from ztad.schema import KEY_METHODS


class FeatureInputError(ValueError):
    """The events cannot be turned into features; the message names the row and field."""


@dataclass
class EventContext:
    """The day's events with codes and orderings shared by the feature families.

    Attributes
    ----------
    events
        The events, index reset to 0..n-1.
    micros
        Event times, µs since the epoch.
    day_user
        Dense code of the user within these events (0..k-1).
    user
        Code of the user in the baseline (-1 for a user it has never seen).
    peer
        Peer group code (-1: judged against the whole organisation).
    by_user_time
        Row order sorted by user, then time.
    shared
        Results one family computes and another reuses (e.g. the day's trips).
    """

    events: pd.DataFrame
    state: BaselineState
    config: DetectionConfig
    settings: FeatureSettings
    micros: np.ndarray
    day_user: np.ndarray
    user: np.ndarray
    peer: np.ndarray
    by_user_time: np.ndarray
    shared: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of events."""
        return len(self.events)

    def column(self, name: str) -> pd.Series:
        """An event column, read out of the frame once however many families read it: each
        read of a frame's column builds a new Series, a fixed cost that a request of a few
        events pays dozens of times otherwise."""
        key = ("column", name)
        if key not in self.shared:
            self.shared[key] = self.events[name]
        return self.shared[key]

    @cached_property
    def column_names(self) -> frozenset[str]:
        """The events' column names."""
        return frozenset(self.events.columns)

    def present(self, column: str) -> np.ndarray:
        """True where an event column holds a value."""
        return present_in(self.column(column))

    @cached_property
    def coords(self) -> dict[str, object]:
        """Latitude and longitude (float64 arrays), country code and time zone (``string``
        Series) of each event."""
        return coordinates_of(self.column("location"), self.column("latitude"), self.column("longitude"))

    @cached_property
    def failed(self) -> np.ndarray:
        """True for failed logins."""
        flags = self.column("login_success")
        return ~(flags.to_numpy() if flags.dtype == np.bool_ else flags.astype(bool).to_numpy())

    @cached_property
    def guessed(self) -> np.ndarray:
        """True for failed logins that tried a credential: every failure but those of a key
        method (``auth_method`` in :data:`ztad.schema.KEY_METHODS`). An SSH client offers its
        keys in turn before asking for a password, so a refused key is no password guess."""
        if "auth_method" not in self.column_names:
            return self.failed
        method = self.text("auth_method")
        if not present_in(method).any():  # no method named: every failure is a guess
            return self.failed
        method = method.str.lower()
        return self.failed & ~method.isin(KEY_METHODS).fillna(False).to_numpy(dtype=bool)

    @cached_property
    def sources(self) -> pd.Series:
        """Each attempt's source (:func:`ztad.behaviour.attempt_source.sources_of`), worked
        out once for the families that count by it."""
        return attempt_sources(self.column("ip_address"), self.column("device_id"))

    def text(self, column: str) -> pd.Series:
        """An event column as text (``string`` dtype), converted once however many families
        read it; canonical events hold text already, and are then not copied at all."""
        key = ("text", column)
        if key not in self.shared:
            self.shared[key] = as_text(self.column(column))
        return self.shared[key]

    def day_codes(self, column: str) -> np.ndarray:
        """Dense codes of a text column's values within these events (-1 for null), factorised
        once for every family that counts by them."""
        return self.codes_of(self.text(column))[0]

    def codes_of(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """:func:`ztad.behaviour.baselines.arrays.text_codes` of one of the events' text
        columns (:meth:`text`, :meth:`item_values`), worked out once per column: the places,
        addresses and resources are coded by several families (never to be changed in place)."""
        key = ("codes", id(values))
        held = self.shared.get(key)
        if held is None or held[0] is not values:  # the column is held, so its id is never reused
            held = self.shared[key] = (values, text_codes(values))
        return held[1]

    def lowered_in(self, values: pd.Series, names, strip: bool = False) -> np.ndarray:
        """:func:`ztad.behaviour.baselines.arrays.lowered_in` of one of the events' text columns,
        decided once per distinct value (:meth:`codes_of`): a day repeats its users and
        resources, and Arrow's string kernels behind pandas cost more than lowering a few
        hundred distinct ASCII names in Python (whose ``lower`` and ``strip`` agree with
        Arrow's there). Distinct values that are not all ASCII go to ``lowered_in`` itself."""
        codes, uniques = self.codes_of(values)
        hits = ascii_lowered_in(uniques.tolist(), names, strip)
        if hits is None:
            hits = lowered_in(pd.Series(uniques, dtype=TEXT), names, strip).tolist()
        return np.array([*hits, False], dtype=bool)[codes]  # code -1, a missing value: False

    @cached_property
    def known_user(self) -> np.ndarray:
        """True where the baseline knows the user."""
        return self.user >= 0

    def item_values(self, kind: str) -> pd.Series:
        """The events' values of a pair kind (``device``, ``ip``, ``network``, ``asn``, ``city``,
        ``country``, ``resource``), converted to text once per kind."""
        key = ("items", kind)
        if key not in self.shared:
            self.shared[key] = self._item_values(kind)
        return self.shared[key]

    def _item_values(self, kind: str) -> pd.Series:
        if kind == "network":
            return self.network
        if kind == "asn":
            return asn_text(self.events, self.column("asn") if "asn" in self.column_names else None)
        if kind == "country":
            return as_text(self.coords["country_code"])
        column = {"device": "device_id", "ip": "ip_address", "city": "location", "resource": "resource"}[kind]
        return self.text(column)

    def lookup(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Each event's item code in the baseline (-1 if never seen) and the user's days with it."""
        key = ("lookup", kind)
        if key not in self.shared:
            pairs = self.state.pairs[kind]
            items = _positions_of_codes(pairs.items, *self.codes_of(self.item_values(kind)))
            self.shared[key] = items, pairs.get("days", pairs.find(self.user, items))
        return self.shared[key]

    def org_users(self, kind: str) -> np.ndarray:
        """Users of the organisation who used each event's item in the window."""
        items, _ = self.lookup(kind)
        values = self.state.derived(
            ("org_users", kind), lambda: self.state.org_items[kind]["users"].to_numpy("float64")
        )
        if len(values) == 0:
            return np.zeros(self.n)
        return np.where(items >= 0, values[np.maximum(items, 0)], 0.0)

    def dominant_today(self, kind: str) -> np.ndarray:
        """True where the event's item carries more than half of its user's events today.

        For a user without history, the city and network that carry most of their own day
        are their home, not a novelty; an intruder on a new account is the minority.
        """
        key = ("dominant", kind)
        if key not in self.shared:
            codes, _ = self.codes_of(self.item_values(kind))
            present = codes >= 0
            width = int(codes.max()) + 1 if present.any() else 1
            pairs = self.day_user * width + np.where(present, codes, 0)
            _, pair_of, pair_counts = np.unique(pairs[present], return_inverse=True, return_counts=True)
            counts = np.zeros(self.n)
            counts[present] = pair_counts[pair_of]
            total = np.bincount(self.day_user, weights=present, minlength=int(self.day_user.max(initial=-1)) + 1)
            self.shared[key] = present & (counts > 0.5 * total[self.day_user])
        return self.shared[key]

    @cached_property
    def network(self) -> pd.Series:
        """Each event's network (IPv4 /16, IPv6 /32)."""
        return network_prefix(self.column("ip_address"))

    @cached_property
    def known_network(self) -> np.ndarray:
        """The event comes from one of the user's or the organisation's regular networks:
        an IP, network, autonomous system or city seen for the user on several days, or an IP,
        autonomous system or city used by many users (VPN egress, office). Always False when
        known-network allowances are off."""
        if not self.settings.known_networks:
            return np.zeros(self.n, dtype=bool)
        s = self.settings
        return (
            (self.lookup("ip")[1] >= s.known_user_days)
            | (self.lookup("network")[1] >= s.known_user_days)
            | (self.lookup("asn")[1] >= s.known_user_days)
            | (self.lookup("city")[1] >= s.known_user_days)
            | (self.org_users("ip") >= s.known_org_users)
            | (self.org_users("asn") >= s.known_org_users)
            | (self.org_users("city") >= s.known_org_users)
        )

    def user_text(self, column: str) -> np.ndarray:
        """A text per-user baseline column for each event (None for new users)."""
        if self.state.n_users == 0:
            return np.full(self.n, None, dtype=object)
        values = self.state.derived(("user_text", column), lambda: _user_text(self.state, column))
        return np.where(self.known_user, values[np.maximum(self.user, 0)], None)

    def user_categorical(self, column: str) -> pd.Categorical:
        """``categorical(self.user_text(column))``, read off the users' codes among the
        column's sorted values, coded once per state."""
        codes, values = self.state.derived(("user_codes", column), lambda: _user_codes(self.state, column))
        return used_categorical(codes[self.user], values)

    def user_column(self, column: str, default: float = 0.0) -> np.ndarray:
        """A numeric per-user baseline column for each event (``default`` for new users)."""
        values = self.state.derived(("user_column", column), lambda: _user_numbers(self.state, column))
        if len(values) == 0:
            return np.full(self.n, default, dtype="float64")
        return np.where(self.known_user, values[np.maximum(self.user, 0)], default)

    @cached_property
    def history_events(self) -> np.ndarray:
        """The user's events in the baseline window."""
        return self.user_column("events")

    @cached_property
    def active_days(self) -> np.ndarray:
        """Days the user was active in the baseline window."""
        return self.user_column("active_days")

    @cached_property
    def history_days(self) -> np.ndarray:
        """Days since the user was first seen in the window (0 for a new user)."""
        first = self.user_column("first_day", default=np.nan)
        return nan_to_zero(self.state.day.toordinal() - first)

    @cached_property
    def maturity(self) -> np.ndarray:
        """How far the user's own history can be trusted: 0 (new) to 1 (mature).

        The square of the smaller of (days since first seen / ``min_history_days``) and
        (events / ``min_history_events``): trust grows slowly at first, because a new
        employee's first days bring new devices, addresses and resources every day, and
        reaches 1 at the end of the learning period. Without cold-start handling every user
        counts as mature.
        """
        if not self.settings.cold_start:
            return np.ones(self.n)
        s = self.settings
        progress = np.minimum(self.history_days / s.min_history_days, self.history_events / s.min_history_events)
        return np.clip(progress, 0.0, 1.0) ** 2

    @cached_property
    def peer_size(self) -> np.ndarray:
        """Known users in the event's peer group (0 when judged against the organisation)."""
        sizes = self.state.peer_sizes
        if len(sizes) == 0:
            return np.zeros(self.n)
        return np.where(self.peer >= 0, sizes[np.maximum(self.peer, 0)], 0).astype("float64")

    def user_sorted_previous(self, rows: np.ndarray) -> np.ndarray:
        """For rows already in user-time order, the previous row of the same user (-1 if none)."""
        previous = np.full(len(rows), -1, dtype="int64")
        if len(rows) > 1:
            same = self.day_user[rows[1:]] == self.day_user[rows[:-1]]
            previous[1:] = np.where(same, rows[:-1], -1)
        return previous


def _positions_of_codes(index: pd.Index, codes: np.ndarray, uniques: np.ndarray) -> np.ndarray:
    """What :func:`ztad.behaviour.baselines.arrays.codes_in` gives for the values of
    ``codes`` and ``uniques``: each value's position in ``index``, -1 when absent or null."""
    if len(index) == 0 or len(uniques) == 0:
        return np.full(len(codes), -1, dtype="int64")
    return np.append(positions_in(index, uniques), -1)[codes].astype("int64")


#: The dtype ``astype("string")`` gives: text columns of canonical events have it already.
TEXT = pd.StringDtype()


def present_in(values: pd.Series) -> np.ndarray:
    """``values.notna().to_numpy()``, read off the column's array: the Series that ``notna``
    builds costs more than the test itself for a few rows."""
    return ~np.asarray(values.array.isna(), dtype=bool)


def as_text(values: pd.Series) -> pd.Series:
    """``values`` as ``string`` dtype: the column itself when it is text already (no copy)."""
    return values if values.dtype == TEXT else values.astype("string")


def _user_text(state: BaselineState, column: str) -> np.ndarray:
    """A text per-user column as Python objects (None where missing), converted once per state."""
    return state.users[column].astype("string").to_numpy(dtype=object)


def _user_codes(state: BaselineState, column: str) -> tuple[np.ndarray, np.ndarray]:
    """A text per-user column coded in sorted order (:func:`sorted_codes`)."""
    return sorted_codes(_user_text(state, column) if state.n_users else np.array([], dtype=object))


def _user_numbers(state: BaselineState, column: str) -> np.ndarray:
    """A numeric per-user column as float64, converted once per state (empty without users)."""
    return state.users[column].to_numpy("float64") if state.n_users else np.array([])


def _check(events: pd.DataFrame) -> None:
    names = set(events.columns)  # a set, not the frame's index: that hashes its names on first use
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise FeatureInputError(
            f"events lack column(s) {missing}; pass canonical events (ztad.schema.conform)"
        )


def _check_filled(column: str, values: pd.Series) -> None:
    nulls = np.asarray(values.array.isna())
    if nulls.any():
        row = int(np.flatnonzero(nulls)[0])
        raise FeatureInputError(
            f"row {row}: field {column} is empty; validate events (ztad.ingest.validation) first"
        )


def _positional(events: pd.DataFrame) -> pd.DataFrame:
    """The events on the index 0..n-1: as they are when they have it already (no copy)."""
    index = events.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return events
    return events.reset_index(drop=True)


def build_context(
    events: pd.DataFrame,
    state: BaselineState,
    config: DetectionConfig,
    settings: FeatureSettings,
) -> EventContext:
    """Index the day's events once: codes, times, peer groups and the user-time order."""
    _check(events)
    events = _positional(events)
    user_ids, timestamps = events["user_id"], events["timestamp"]
    _check_filled("user_id", user_ids)
    _check_filled("timestamp", timestamps)
    micros = timestamp_micros(timestamps)
    user_texts = as_text(user_ids)
    user_codes = text_codes(user_texts)
    day_user = user_codes[0]
    user = state.user_codes(user_texts)
    peer = state.peer_codes_for(events, user)
    return EventContext(
        events=events,
        state=state,
        config=config,
        settings=settings,
        micros=micros,
        day_user=day_user,
        user=user,
        peer=peer,
        by_user_time=np.lexsort((micros, day_user)),
        shared={
            ("column", "user_id"): user_ids,
            ("column", "timestamp"): timestamps,
            ("text", "user_id"): user_texts,
            ("codes", id(user_texts)): (user_texts, user_codes),  # what codes_of keeps
        },
    )
