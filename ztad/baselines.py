"""Point-in-time behavioural baselines built from additive daily aggregates.

Each day's (unflagged) events are summarised once into small tables of counts and sums, per
user and per user × device / IP / city / resource, and saved under
``<state_dir>/baselines/day=YYYY-MM-DD/``. The baseline as of day D is the combination of the
aggregates of days ``[D - window, D)``: sums are summed, first and last days are the minimum and
maximum, the latest value wins for the last login. This gives, at once:

- point in time: nothing from D or later can leak into the judgement of D, so a backfill of a
  past day reproduces the nightly run exactly;
- incremental work: each night adds one small aggregate and never re-reads raw history;
- a bounded window: days older than the window simply stop being combined (expiry);
- state persisted per day, so the baseline as of any recent day can be rebuilt.

From the combined tables the state derives what features compare against: each user's maturity
(events, active days), home place and time zone, last successful located login, local
hour-of-week counts, bytes statistics, the peer group (department, or clusters of users who
touch the same resources) and peer / organisation-wide counts of users per city, network, IP
and resource.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.ingest import gazetteer

log = logging.getLogger(__name__)

#: Bumped when the layout of saved aggregates changes; older ones are rebuilt.
AGGREGATE_VERSION = 4

#: Pair tables: name -> the canonical event column paired with ``user_id`` (``network`` is
#: derived from ``ip_address``, see :func:`network_prefix`; ``asn`` is the address's autonomous
#: system, see :func:`asn_text`). A day saved before a pair kind existed simply has no pairs
#: of that kind.
PAIR_COLUMNS: dict[str, str] = {
    "device": "device_id",
    "ip": "ip_address",
    "network": "network",
    "asn": "asn",
    "city": "location",
    "resource": "resource",
}

#: Columns :func:`daily_aggregate` reads.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "timestamp", "user_id", "device_id", "ip_address", "location", "latitude", "longitude",
    "department", "login_success", "resource", "bytes_transferred",
)

HOURS_PER_WEEK = 168
_MICROS_PER_HOUR = 3_600_000_000
_MICROS_PER_DAY = 24 * _MICROS_PER_HOUR
# 1970-01-01 was a Thursday: day-of-week (Monday = 0) of epoch day n is (n + 3) % 7.
_EPOCH_WEEKDAY = 3

_USER_SUMS = ("events", "failures", "events_sq", "lb_count", "lb_sum", "lb_sumsq")
_LAST_LOGIN = ("last_time", "last_lat", "last_lon", "last_location", "last_ip")


class BaselineError(ValueError):
    """Events or saved state cannot be turned into a baseline; the message says why."""


# --------------------------------------------------------------------------- small tools


def timestamp_micros(timestamps: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the epoch (vectorised)."""
    values = pd.Series(timestamps)
    if values.dt.tz is None:
        raise BaselineError("timestamp must be timezone-aware UTC (use ztad.schema.conform)")
    return np.asarray(values.dt.tz_convert("UTC").dt.as_unit("us").array.asi8, dtype="int64")


def hour_of_week(micros: np.ndarray) -> np.ndarray:
    """Hour of the week of µs timestamps, 0 = Monday 00:00-01:00, 167 = Sunday 23:00-24:00.

    Pass UTC µs for the UTC hour, or µs shifted by the local offset for the local hour.
    """
    days = np.floor_divide(micros, _MICROS_PER_DAY)
    hours = np.floor_divide(micros - days * _MICROS_PER_DAY, _MICROS_PER_HOUR)
    return (((days + _EPOCH_WEEKDAY) % 7) * 24 + hours).astype("int16")


def codes_in(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in ``index`` (-1 when absent or null), hashing distinct values once."""
    codes, uniques = pd.factorize(pd.Series(values), use_na_sentinel=True)
    if len(index) == 0 or len(uniques) == 0:
        return np.full(len(codes), -1, dtype="int64")
    mapped = np.append(index.get_indexer(pd.Index(uniques)), -1)
    return mapped[codes].astype("int64")


def reduce_groups(
    keys: np.ndarray,
    sums: dict[str, np.ndarray] | None = None,
    maxes: dict[str, np.ndarray] | None = None,
    mins: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Group rows by an integer key: sorted distinct keys, row counts and reduced columns.

    The ``rows`` entry of the result is the number of rows per key, e.g. the number of days a
    pair was seen when each row is one day's record.
    """
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(keys) else np.array([], "int64")
    out: dict[str, np.ndarray] = {"rows": np.diff(np.r_[starts, len(keys)])}
    for name, values in (sums or {}).items():
        out[name] = np.add.reduceat(values[order], starts) if len(keys) else values[:0]
    for name, values in (maxes or {}).items():
        out[name] = np.maximum.reduceat(values[order], starts) if len(keys) else values[:0]
    for name, values in (mins or {}).items():
        out[name] = np.minimum.reduceat(values[order], starts) if len(keys) else values[:0]
    return ordered[starts] if len(keys) else keys[:0], out


def network_prefix(ips: pd.Series) -> pd.Series:
    """The network an address belongs to: its IPv4 /16 or IPv6 /32 (distinct values parsed once).

    Without ASN data a /16 stands in for the provider's network: a VPN pool, a mobile carrier
    or a home ISP hands out changing addresses inside one, an attacker's source is elsewhere.
    Anything that is not an IP address is kept as it is.
    """
    ips = pd.Series(ips, dtype="string")
    codes, uniques = pd.factorize(ips, use_na_sentinel=True)
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
    v4 = distinct.str.extract(r"^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$")
    v6 = distinct.str.contains(":", regex=False).fillna(False)
    halves = distinct.str.split(":").str[:2].str.join(":").str.rstrip(":")
    prefix = (v4[0] + "." + v4[1] + ".0.0/16").where(v4[0].notna(), (halves + "::/32").where(v6, distinct))
    values = np.append(prefix.to_numpy(dtype=object), None)
    return pd.Series(pd.array(values[codes], dtype="string"), index=ips.index)


def asn_text(events: pd.DataFrame) -> pd.Series:
    """Each event's autonomous system number as text (``"15169"``); null where unknown.

    Events without an ``asn`` column (no ASN data) have none. An autonomous system is the
    provider's whole network: the addresses a corporate VPN, a cloud host or a mobile carrier
    hands out all share it, wherever GeoIP places them.
    """
    if "asn" not in events.columns:
        return pd.Series(pd.NA, index=events.index, dtype="string")
    return pd.to_numeric(events["asn"], errors="coerce").astype("Int64").astype("string")


def log_bytes(events: pd.DataFrame) -> np.ndarray:
    """``log1p(bytes)`` of successful logins, NaN for failed ones.

    Transfers are compared as ratios, so their statistics are kept in logs. A failed login
    moves a few hundred bytes of handshake whatever the resource, so it says nothing about
    the user's usual volume and would only widen the spread.
    """
    raw = pd.to_numeric(events["bytes_transferred"], errors="coerce").to_numpy("float64", na_value=np.nan)
    succeeded = events["login_success"].astype(bool).to_numpy()
    return np.where(succeeded, np.log1p(np.clip(raw, 0.0, None)), np.nan)


def event_coordinates(events: pd.DataFrame) -> pd.DataFrame:
    """Where each event happened: its own latitude/longitude when present, else its place.

    Returns columns ``lat``, ``lon``, ``country_code``, ``timezone`` aligned with ``events``.
    """
    places = gazetteer.resolve_places(events["location"])
    own_lat = pd.to_numeric(events["latitude"], errors="coerce").to_numpy("float64", na_value=np.nan)
    own_lon = pd.to_numeric(events["longitude"], errors="coerce").to_numpy("float64", na_value=np.nan)
    has_own = ~np.isnan(own_lat) & ~np.isnan(own_lon)
    places["lat"] = np.where(has_own, own_lat, places["lat"].to_numpy())
    places["lon"] = np.where(has_own, own_lon, places["lon"].to_numpy())
    return places


# --------------------------------------------------------------------------- one day


@dataclass
class DailyAggregate:
    """Additive summary of one day's events: a few small tables, no raw events.

    Tables
    ------
    users
        Per user: events, failures, events² (for the spread of daily counts), log-bytes count /
        sum / sum of squares (successful logins only), department, and the last successful
        located login of the day.
    user_hour
        Per user × hour of the week in the local time of the login's place (UTC when the place
        is unknown): events. Local time keeps a traveller's working day a working day.
    user_device, user_ip, user_network, user_asn, user_city, user_resource
        Per user × item: events (the resource table also carries log-bytes sums). Events
        without the item (no device, no address, no known network) are not counted.
    """

    tables: dict[str, pd.DataFrame]

    @property
    def events(self) -> int:
        """How many events the day contributed."""
        users = self.tables.get("users")
        return 0 if users is None or users.empty else int(users["events"].sum())

    @classmethod
    def empty(cls) -> "DailyAggregate":
        """The aggregate of a day without events."""
        return daily_aggregate(_empty_frame())


def _empty_frame() -> pd.DataFrame:
    from ztad.schema import empty_events

    return empty_events()


def _check_events(events: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in events.columns]
    if missing:
        raise BaselineError(
            f"events lack column(s) {missing}; pass canonical events (ztad.schema.conform)"
        )
    null_users = events["user_id"].isna().to_numpy()
    if null_users.any():
        row = int(np.flatnonzero(null_users)[0])
        raise BaselineError(f"row {row}: field user_id is empty; validate events before baselines")


def _user_table(events, user_codes, users, micros, coords, lb) -> pd.DataFrame:
    """Per-user sums plus the department and the last successful located login of the day."""
    n_users = len(users)
    failed = (~events["login_success"].astype(bool)).to_numpy()
    has_bytes = ~np.isnan(lb)
    counts = np.bincount(user_codes, minlength=n_users).astype("int64")

    def per_user(weights: np.ndarray) -> np.ndarray:
        return np.bincount(user_codes, weights=weights, minlength=n_users)

    table = pd.DataFrame(
        {
            "user_id": pd.array(np.asarray(users, dtype=object), dtype="string"),
            "events": counts,
            "failures": per_user(failed.astype("float64")).astype("int64"),
            "events_sq": counts**2,
            "lb_count": per_user(has_bytes.astype("float64")),
            "lb_sum": per_user(np.where(has_bytes, lb, 0.0)),
            "lb_sumsq": per_user(np.where(has_bytes, lb * lb, 0.0)),
        }
    )
    table["department"] = _latest_value(events["department"], user_codes, micros, n_users)
    located = ~np.isnan(coords["lat"].to_numpy("float64")) & ~failed
    last = _latest_rows(user_codes, np.where(located, micros.astype("float64"), np.nan), n_users)
    # The last successful located login, kept so that travel can be judged across midnight.
    table["last_time"] = _take(micros.astype("float64"), last, np.nan)
    table["last_lat"] = _take(coords["lat"].to_numpy("float64"), last, np.nan)
    table["last_lon"] = _take(coords["lon"].to_numpy("float64"), last, np.nan)
    for column, source in (("last_location", "location"), ("last_ip", "ip_address")):
        values = events[source].astype("string").to_numpy()
        table[column] = pd.array(_take(values, last, None), dtype="string")
    return table


def _take(values: np.ndarray, rows: np.ndarray, fill) -> np.ndarray:
    """``values[rows]`` with ``fill`` where ``rows`` is -1."""
    if len(values) == 0:
        return np.full(len(rows), fill, dtype=object if fill is None else "float64")
    picked = values[np.maximum(rows, 0)]
    if fill is None:
        return np.where(rows >= 0, picked.astype(object), None)
    return np.where(rows >= 0, picked, fill)


def _latest_rows(codes: np.ndarray, order_by: np.ndarray, n: int) -> np.ndarray:
    """Per code, the row with the largest non-NaN ``order_by`` (-1 when none)."""
    out = np.full(n, -1, dtype="int64")
    rows = np.flatnonzero(~np.isnan(order_by))
    if len(rows):
        ordered = rows[np.lexsort((order_by[rows], codes[rows]))]
        ending = np.r_[codes[ordered][1:] != codes[ordered][:-1], True]
        out[codes[ordered][ending]] = ordered[ending]
    return out


def _latest_value(values: pd.Series, codes: np.ndarray, order_by: np.ndarray, n: int) -> pd.array:
    """The latest non-null value of a column per code (e.g. a user's department)."""
    values = values.astype("string")
    order = np.where(values.notna().to_numpy(), np.asarray(order_by, dtype="float64"), np.nan)
    return pd.array(_take(values.to_numpy(), _latest_rows(codes, order, n), None), dtype="string")


def _pair_table(users, user_codes, items: pd.Series, item_name: str, lb: np.ndarray | None) -> pd.DataFrame:
    """Per user × item of one day: events (and log-bytes sums for resources)."""
    item_codes, item_values = pd.factorize(items, use_na_sentinel=True)
    keep = item_codes >= 0
    n_items = max(len(item_values), 1)
    keys = user_codes[keep].astype("int64") * n_items + item_codes[keep]
    sums = {"count": np.ones(int(keep.sum()), dtype="int64")}
    if lb is not None:
        kept = lb[keep]
        has = ~np.isnan(kept)
        sums.update(
            lb_count=has.astype("float64"),
            lb_sum=np.where(has, kept, 0.0),
            lb_sumsq=np.where(has, kept * kept, 0.0),
        )
    unique_keys, reduced = reduce_groups(keys, sums=sums)
    table = pd.DataFrame(
        {
            "user_id": pd.array(np.asarray(users, dtype=object)[unique_keys // n_items], dtype="string"),
            item_name: pd.array(np.asarray(item_values, dtype=object)[unique_keys % n_items], dtype="string"),
        }
    )
    for name in sums:
        table[name] = reduced[name]
    return table


def daily_aggregate(events: pd.DataFrame) -> DailyAggregate:
    """Summarise one day's events into additive tables (see :class:`DailyAggregate`).

    Pass the events the baseline should learn from: the pipeline leaves out those it flagged,
    so that an attack never teaches the baseline that it is normal.

    Raises
    ------
    BaselineError
        When a canonical column is missing or a ``user_id`` is empty.
    """
    _check_events(events)
    events = events.reset_index(drop=True)
    user_codes, users = pd.factorize(events["user_id"].astype("string"))
    user_codes = user_codes.astype("int64")
    micros = timestamp_micros(events["timestamp"])
    coords = event_coordinates(events)
    lb = log_bytes(events)
    tables = {"users": _user_table(events, user_codes, users, micros, coords, lb)}
    local = micros + gazetteer.utc_offsets(micros, coords["timezone"])
    how_keys, how = reduce_groups(user_codes * HOURS_PER_WEEK + hour_of_week(local))
    tables["user_hour"] = pd.DataFrame(
        {
            "user_id": pd.array(np.asarray(users, dtype=object)[how_keys // HOURS_PER_WEEK], dtype="string"),
            "how": (how_keys % HOURS_PER_WEEK).astype("int16"),
            "count": how["rows"].astype("int64"),
        }
    )
    events = events.assign(network=network_prefix(events["ip_address"]), asn=asn_text(events))
    for kind, column in PAIR_COLUMNS.items():
        tables[f"user_{kind}"] = _pair_table(
            users, user_codes, events[column].astype("string"), column,
            lb if kind == "resource" else None,
        )
    return DailyAggregate(tables)


# --------------------------------------------------------------------------- persistence


def aggregate_dir(state_dir: Path | str, day: date) -> Path:
    """Folder of one day's saved aggregate."""
    return Path(state_dir) / "baselines" / f"day={day.isoformat()}"


def save_daily_aggregate(agg: DailyAggregate, state_dir: Path | str, day: date) -> Path:
    """Save (or replace) one day's aggregate; a crash never leaves a half-written day."""
    final = aggregate_dir(state_dir, day)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.with_name(final.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name, table in agg.tables.items():
        table.to_parquet(staging / f"{name}.parquet", index=False)
    meta = {"version": AGGREGATE_VERSION, "day": day.isoformat(), "events": agg.events,
            "tables": sorted(agg.tables)}
    (staging / "meta.json").write_text(json.dumps(meta, indent=2))
    retired = final.with_name(final.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if final.exists():
        final.rename(retired)
    staging.rename(final)
    shutil.rmtree(retired, ignore_errors=True)
    return final


def load_daily_aggregate(state_dir: Path | str, day: date) -> DailyAggregate | None:
    """Load one day's saved aggregate; ``None`` when absent or saved by an older layout."""
    folder = aggregate_dir(state_dir, day)
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("version") != AGGREGATE_VERSION:
        log.warning("%s was saved by layout %s, not %s: rebuilding it",
                    folder, meta.get("version"), AGGREGATE_VERSION)
        return None
    return DailyAggregate({name: pd.read_parquet(folder / f"{name}.parquet") for name in meta["tables"]})


# --------------------------------------------------------------------------- combined state


@dataclass(frozen=True)
class PairStats:
    """Counts per (owner, item) pair, e.g. user × IP, found by integer codes.

    ``owner`` is a user or a peer group (its code in the state), ``item`` a position in
    ``items``. ``values`` is row-aligned with the sorted composite ``keys``.
    """

    items: pd.Index
    keys: np.ndarray
    values: pd.DataFrame

    def item_codes(self, values: pd.Series) -> np.ndarray:
        """Code of each item value (-1 when the baseline never saw it)."""
        return codes_in(self.items, values)

    def find(self, owner_codes: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
        """Row of each (owner, item) pair in ``values``; -1 when the pair was never seen."""
        owner_codes = np.asarray(owner_codes, dtype="int64")
        item_codes = np.asarray(item_codes, dtype="int64")
        valid = (owner_codes >= 0) & (item_codes >= 0)
        wanted = np.where(valid, owner_codes * max(len(self.items), 1) + item_codes, -1)
        pos = np.searchsorted(self.keys, wanted)
        pos_clipped = np.minimum(pos, max(len(self.keys) - 1, 0))
        found = valid & (len(self.keys) > 0)
        if len(self.keys):
            found &= self.keys[pos_clipped] == wanted
        return np.where(found, pos_clipped, -1)

    def get(self, column: str, rows: np.ndarray, default: float = 0.0) -> np.ndarray:
        """Column values at ``rows`` from :meth:`find`, ``default`` where absent."""
        values = self.values[column].to_numpy("float64")
        if len(values) == 0:
            return np.full(len(rows), default, dtype="float64")
        return np.where(rows >= 0, values[np.maximum(rows, 0)], default)

    def owners(self) -> np.ndarray:
        """Owner code of each row."""
        return self.keys // max(len(self.items), 1)

    def item_of(self) -> np.ndarray:
        """Item code of each row."""
        return self.keys % max(len(self.items), 1)


def _pair_stats(
    owner_codes: np.ndarray,
    item_codes: np.ndarray,
    items: pd.Index,
    sums: dict[str, np.ndarray],
    maxes: dict[str, np.ndarray] | None = None,
    rows_as: str = "rows",
) -> PairStats:
    keep = (owner_codes >= 0) & (item_codes >= 0)
    keys = owner_codes[keep].astype("int64") * max(len(items), 1) + item_codes[keep]
    unique_keys, reduced = reduce_groups(
        keys,
        sums={k: v[keep] for k, v in sums.items()},
        maxes={k: v[keep] for k, v in (maxes or {}).items()},
    )
    reduced[rows_as] = reduced.pop("rows")
    return PairStats(items, unique_keys, pd.DataFrame(reduced))


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
            peers[known] = self.users["peer"].to_numpy("int64")[user_codes[known]]
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


def _combine_users(frames: list[pd.DataFrame], user_index: pd.Index) -> pd.DataFrame:
    """Sum the per-day user rows; the latest department and located login win."""
    all_days = pd.concat(frames, ignore_index=True)
    codes = codes_in(user_index, all_days["user_id"])
    n = len(user_index)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for column in _USER_SUMS:
        out[column] = np.bincount(codes, weights=all_days[column].to_numpy("float64"), minlength=n)
    day = all_days["day"].to_numpy("int64")
    keys, reduced = reduce_groups(codes, maxes={"last_day": day}, mins={"first_day": day})
    for column, values in (("active_days", reduced["rows"]), ("first_day", reduced["first_day"]),
                           ("last_day", reduced["last_day"])):
        out[column] = np.zeros(n, dtype="int64")
        out.loc[keys, column] = values
    out["department"] = _latest_value(all_days["department"], codes, day, n)
    last_time = all_days["last_time"].to_numpy("float64", na_value=np.nan)
    latest = _latest_rows(codes, last_time, n)
    out["last_time"] = _take(last_time, latest, np.nan)
    for column in ("last_lat", "last_lon"):
        out[column] = _take(all_days[column].to_numpy("float64", na_value=np.nan), latest, np.nan)
    for column in ("last_location", "last_ip"):
        values = all_days[column].astype("string").to_numpy()
        out[column] = pd.array(_take(values, latest, None), dtype="string")
    return out


def _combine_pairs(frames: list[pd.DataFrame], item_name: str, user_index: pd.Index) -> PairStats:
    """Sum per-day user × item rows into one :class:`PairStats` (``days`` = days seen)."""
    all_days = pd.concat(frames, ignore_index=True)
    items = pd.Index(np.sort(all_days[item_name].dropna().unique().to_numpy(dtype=object)), dtype="string")
    summed = ("count", "lb_count", "lb_sum", "lb_sumsq")
    sums = {c: all_days[c].to_numpy("float64") for c in all_days.columns if c in summed}
    return _pair_stats(
        codes_in(user_index, all_days["user_id"]),
        codes_in(items, all_days[item_name]),
        items,
        sums,
        maxes={"last_day": all_days["day"].to_numpy("int64")},
        rows_as="days",
    )


def _hour_counts(frames: list[pd.DataFrame], user_index: pd.Index) -> np.ndarray:
    all_days = pd.concat(frames, ignore_index=True)
    codes = codes_in(user_index, all_days["user_id"])
    flat = codes * HOURS_PER_WEEK + all_days["how"].to_numpy("int64")
    counts = np.bincount(flat, weights=all_days["count"].to_numpy("float64"),
                         minlength=len(user_index) * HOURS_PER_WEEK)
    return counts.reshape(len(user_index), HOURS_PER_WEEK)


def _country_pairs(city: PairStats) -> PairStats:
    """User × country, from user × city (a country's ``days`` counts city-days)."""
    countries = gazetteer.resolve_places(pd.Series(city.items, dtype="string"))["country_code"]
    country_index = pd.Index(np.sort(countries.dropna().unique().to_numpy(dtype=object)), dtype="string")
    item_country = codes_in(country_index, countries)
    return _pair_stats(
        city.owners(),
        item_country[city.item_of()] if len(city.keys) else np.array([], "int64"),
        country_index,
        {"count": city.values["count"].to_numpy("float64"), "days": city.values["days"].to_numpy("float64")},
        maxes={"last_day": city.values["last_day"].to_numpy("int64")},
        rows_as="places",
    )


def _home_places(users: pd.DataFrame, city: PairStats) -> pd.DataFrame:
    """Each user's home: the city seen on the most days (then with the most events)."""
    n = len(users)
    owners = city.owners()
    days = city.values["days"].to_numpy("float64")
    counts = city.values["count"].to_numpy("float64")
    home_item = np.full(n, -1, dtype="int64")
    if len(owners):
        order = np.lexsort((-counts, -days, owners))
        first = np.r_[True, owners[order][1:] != owners[order][:-1]]
        home_item[owners[order][first]] = city.item_of()[order][first]
    names = np.asarray(city.items, dtype=object)
    location = pd.Series(_take(names, home_item, None), dtype="string")
    places = gazetteer.resolve_places(location)
    return pd.DataFrame(
        {
            "home_location": location.to_numpy(),
            "home_lat": places["lat"].to_numpy(),
            "home_lon": places["lon"].to_numpy(),
            "home_tz": places["timezone"].to_numpy(),
        }
    ).astype({"home_location": "string", "home_tz": "string"})


def _learned_groups(resource: PairStats, users: np.ndarray, seed: int = 0):
    """Cluster users by the share of their events on each resource (deterministic k-means).

    Returns the group of each listed user and the centroids, so that a new user can later be
    placed in the nearest group.
    """
    owners = resource.owners()
    row_of = pd.Index(users).get_indexer(owners)
    keep = row_of >= 0
    matrix = np.zeros((len(users), len(resource.items)))
    counts = resource.values["count"].to_numpy("float64")
    np.add.at(matrix, (row_of[keep], resource.item_of()[keep]), counts[keep])
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    n_groups = int(np.clip(round(np.sqrt(len(users) / 10.0)), 1, 30))
    if n_groups <= 1 or len(resource.items) < 2:
        return np.zeros(len(users), dtype="int64"), matrix.mean(axis=0, keepdims=True)
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=n_groups, n_init=4, random_state=seed).fit(matrix)
    return model.labels_.astype("int64"), model.cluster_centers_


def _assign_peers(users: pd.DataFrame, resource: PairStats):
    """Peer groups: the department where known, otherwise learned from resource usage."""
    departments = users["department"]
    labels = sorted(departments.dropna().unique().tolist())
    peer = codes_in(pd.Index(labels, dtype="string"), departments)
    descriptions = list(labels)
    without = np.flatnonzero(peer < 0)
    centroids, centroid_peers = None, np.array([], dtype="int64")
    if len(without):
        groups, centroids = _learned_groups(resource, without)
        top = np.argsort(-centroids, axis=1)[:, :3]
        base = len(labels)
        for g in range(len(centroids)):
            labels.append(f"resource group {g + 1}")
            shown = ", ".join(str(resource.items[i]) for i in top[g] if centroids[g, i] > 0)
            descriptions.append(f"resource group {g + 1}" + (f" ({shown})" if shown else ""))
        peer[without] = base + groups
        centroid_peers = base + np.arange(len(centroids), dtype="int64")
    return peer, pd.Index(labels, dtype="string"), descriptions, centroids, centroid_peers


def _group_items(pairs: PairStats, owner_to_group: np.ndarray, extra: tuple[str, ...] = ()) -> PairStats:
    """Roll user × item up to group × item: distinct users and summed counts."""
    owners = pairs.owners()
    groups = owner_to_group[owners] if len(owners) else np.array([], "int64")
    sums = {"count": pairs.values["count"].to_numpy("float64")}
    sums.update({c: pairs.values[c].to_numpy("float64") for c in extra})
    return _pair_stats(groups, pairs.item_of(), pairs.items, sums, rows_as="users")


def _org_items(pairs: PairStats, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per item across the organisation: distinct users and summed counts, aligned with items."""
    items = pairs.item_of()
    n = len(pairs.items)
    out = pd.DataFrame({"users": np.bincount(items, minlength=n).astype("float64")})
    for column in ("count",) + extra:
        out[column] = np.bincount(items, weights=pairs.values[column].to_numpy("float64"), minlength=n)
    return out


def combine_aggregates(
    aggregates: Iterable[tuple[date, DailyAggregate]], day: date, window_days: int
) -> BaselineState:
    """Combine daily aggregates (all before ``day``) into the state as of ``day``."""
    dated = [(d, a) for d, a in aggregates]
    late = [d for d, _ in dated if d >= day]
    if late:
        raise BaselineError(f"aggregates of {late[0]} cannot be part of the baseline as of {day}")
    parts: dict[str, list[pd.DataFrame]] = {}
    for d, agg in dated:
        for name, table in agg.tables.items():
            parts.setdefault(name, []).append(table.assign(day=d.toordinal()))
    empty = DailyAggregate.empty().tables
    for name, table in empty.items():
        parts.setdefault(name, []).append(table.assign(day=pd.Series(dtype="int64")))
    user_ids = pd.concat(parts["users"], ignore_index=True)["user_id"].dropna().unique()
    user_index = pd.Index(np.sort(np.asarray(user_ids, dtype=object)), dtype="string")
    users = _combine_users(parts["users"], user_index)
    pairs = {
        kind: _combine_pairs(parts[f"user_{kind}"], column, user_index)
        for kind, column in PAIR_COLUMNS.items()
    }
    pairs["country"] = _country_pairs(pairs["city"])
    users = pd.concat([users, _home_places(users, pairs["city"])], axis=1)
    peer, labels, descriptions, centroids, centroid_peers = _assign_peers(users, pairs["resource"])
    users["peer"] = peer
    bytes_columns = ("lb_count", "lb_sum", "lb_sumsq")
    return BaselineState(
        day=day,
        window_days=window_days,
        days_with_data=sum(1 for _, a in dated if a.events > 0),
        user_index=user_index,
        users=users,
        hour_counts=_hour_counts(parts["user_hour"], user_index),
        pairs=pairs,
        peer_labels=labels,
        peer_descriptions=descriptions,
        peer_pairs={
            "city": _group_items(pairs["city"], peer),
            "country": _group_items(pairs["country"], peer),
            "network": _group_items(pairs["network"], peer),
            "resource": _group_items(pairs["resource"], peer, bytes_columns),
        },
        org_items={
            "ip": _org_items(pairs["ip"]),
            "network": _org_items(pairs["network"]),
            "asn": _org_items(pairs["asn"]),
            "city": _org_items(pairs["city"]),
            "country": _org_items(pairs["country"]),
            "resource": _org_items(pairs["resource"], bytes_columns),
        },
        centroids=centroids,
        centroid_resources=pairs["resource"].items,
        centroid_peers=centroid_peers,
    )


# --------------------------------------------------------------------------- as of a day


def window_days_before(day: date, window_days: int) -> list[date]:
    """The days ``[day - window_days, day)``, oldest first."""
    if window_days < 1:
        raise BaselineError(f"window_days must be at least 1, got {window_days}")
    return [day - timedelta(days=k) for k in range(window_days, 0, -1)]


def _build_missing(
    state_dir: Path, d: date, load_events: Callable[[date], pd.DataFrame]
) -> DailyAggregate | None:
    """Aggregate a past day from its raw events and save it; ``None`` when it has no data."""
    try:
        events = load_events(d)
    except FileNotFoundError:
        return None
    if events is None or len(events) == 0:
        return None
    agg = daily_aggregate(events)
    save_daily_aggregate(agg, state_dir, d)
    return agg


def baseline_as_of(
    state_dir: Path | str,
    day: date,
    window_days: int,
    load_events: Callable[[date], pd.DataFrame],
) -> BaselineState:
    """The baseline as it stood at the start of ``day``: days ``[day - window_days, day)``.

    Saved daily aggregates are reused; a day without one is aggregated from
    ``load_events(d)`` (all its events: it was never scored) and saved. A day with no data
    (``load_events`` returns nothing or raises ``FileNotFoundError``) is skipped and not saved,
    so late-arriving data is picked up later. Nothing from ``day`` or later is read.
    """
    state_dir = Path(state_dir)
    aggregates = []
    for d in window_days_before(day, window_days):
        agg = load_daily_aggregate(state_dir, d)
        if agg is None:
            agg = _build_missing(state_dir, d, load_events)
        if agg is not None:
            aggregates.append((d, agg))
    return combine_aggregates(aggregates, day, window_days)
