"""One day's events summarised into small additive tables: per user, and per user x device /
IP / network / ASN / city / resource."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import (
    latest_rows,
    latest_value,
    reduce_groups,
    take,
    text_at,
)
from ztad.behaviour.baselines.event_columns import (
    PAIR_COLUMNS,
    REQUIRED_COLUMNS,
    asn_text,
    event_coordinates,
    log_bytes,
    network_prefix,
)
from ztad.behaviour.clock import HOURS_PER_WEEK, hour_of_week, timestamp_micros
from ztad.ingest import gazetteer

USER_SUMS = ("events", "failures", "events_sq", "lb_count", "lb_sum", "lb_sumsq")


LAST_LOGIN = ("last_time", "last_lat", "last_lon", "last_location", "last_ip")

#: The event columns a day's aggregate reads (``asn`` when the source has it): a day
#: aggregated from a file need not read the others.
AGGREGATE_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, "asn")


class BaselineError(ValueError):
    """Events or saved state cannot be turned into a baseline; the message says why."""


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
    user_alerted_hour
        Per user × local hour of the week, like ``user_hour``: events that were alerted, but
        only by the off-hours rule, for their hour and nothing else. They never enter the
        user's hour profile; they only tell which nights the user was seen working, so that
        on-call nights become a habit even when the first of them were alerted.
    user_other_alert
        Per user: events alerted for anything else (the model, another rule) or confirmed as
        an attack. A user with any in the window earns no nights from ``user_alerted_hour``.
    """

    tables: Mapping[str, pd.DataFrame]

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
    table["department"] = latest_value(events["department"], user_codes, micros, n_users)
    located = ~np.isnan(coords["lat"].to_numpy("float64")) & ~failed
    last = latest_rows(user_codes, np.where(located, micros.astype("float64"), np.nan), n_users)
    # The last successful located login, kept so that travel can be judged across midnight.
    table["last_time"] = take(micros.astype("float64"), last, np.nan)
    table["last_lat"] = take(coords["lat"].to_numpy("float64"), last, np.nan)
    table["last_lon"] = take(coords["lon"].to_numpy("float64"), last, np.nan)
    for column, source in (("last_location", "location"), ("last_ip", "ip_address")):
        table[column] = text_at(events[source], last)
    return table


def _pair_table(users, user_codes, items: pd.Series, item_name: str, lb: np.ndarray | None) -> pd.DataFrame:
    """Per user × item of one day: events (and log-bytes sums for resources), a user's rows in
    the order of their items' values, so that a day aggregated in parts of users gives the
    same rows in the same order (:func:`aggregate_of_parts`)."""
    item_codes, item_values = pd.factorize(items, use_na_sentinel=True, sort=True)
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
            "user_id": text_at(users, unique_keys // n_items),
            item_name: text_at(item_values, unique_keys % n_items),
        }
    )
    for name in sums:
        table[name] = reduced[name]
    return table


def _hour_table(user_codes: np.ndarray, users, micros: np.ndarray, timezones: pd.Series) -> pd.DataFrame:
    """Per user × local hour of the week: events."""
    local = micros + gazetteer.utc_offsets(micros, timezones)
    how_keys, how = reduce_groups(user_codes * HOURS_PER_WEEK + hour_of_week(local))
    return pd.DataFrame(
        {
            "user_id": text_at(users, how_keys // HOURS_PER_WEEK),
            "how": (how_keys % HOURS_PER_WEEK).astype("int16"),
            "count": how["rows"].astype("int64"),
        }
    )


def _alerted_hour_table(alerted: pd.DataFrame) -> pd.DataFrame:
    """``user_alerted_hour`` of the events alerted by the off-hours rule alone."""
    _check_events(alerted)
    alerted = alerted.reset_index(drop=True)
    user_codes, users = pd.factorize(alerted["user_id"].astype("string"))
    micros = timestamp_micros(alerted["timestamp"])
    return _hour_table(user_codes.astype("int64"), users, micros, event_coordinates(alerted)["timezone"])


def _user_counts(events: pd.DataFrame) -> pd.DataFrame:
    """Per user: events."""
    counts = events["user_id"].astype("string").value_counts(dropna=True)
    return pd.DataFrame({"user_id": pd.array(counts.index.to_numpy(dtype=object), dtype="string"),
                         "count": counts.to_numpy("int64")})


def daily_aggregate(events: pd.DataFrame, alerted_hours: pd.DataFrame | None = None,
                    other_alerts: pd.DataFrame | None = None) -> DailyAggregate:
    """Summarise one day's events into additive tables (see :class:`DailyAggregate`).

    Pass the events the baseline should learn from: the pipeline leaves out those it flagged,
    so that an attack never teaches the baseline that it is normal. ``alerted_hours`` are the
    day's events alerted by the off-hours rule alone (``user_alerted_hour``), ``other_alerts``
    those alerted for anything else or confirmed (``user_other_alert``); none by default.

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
    tables["user_hour"] = _hour_table(user_codes, users, micros, coords["timezone"])
    tables["user_alerted_hour"] = _alerted_hour_table(events.iloc[:0] if alerted_hours is None else alerted_hours)
    tables["user_other_alert"] = _user_counts(events.iloc[:0] if other_alerts is None else other_alerts)
    events = events.assign(network=network_prefix(events["ip_address"]), asn=asn_text(events))
    for kind, column in PAIR_COLUMNS.items():
        tables[f"user_{kind}"] = _pair_table(
            users, user_codes, events[column].astype("string"), column,
            lb if kind == "resource" else None,
        )
    return DailyAggregate(tables)


def aggregate_of_parts(parts: Iterable[pd.DataFrame]) -> DailyAggregate:
    """:func:`daily_aggregate` of a day given as parts that share no user (each part holds
    every event of its users), aggregated one part at a time: only one part's events and
    working arrays are held, not the whole day's.

    Every table is keyed by user (``users`` per user, every other table per user and item or
    hour), and everything in a user's rows comes from that user's events alone (the sums, the
    latest department, the last located login), so the parts' tables, put one after another,
    hold exactly the rows of the whole day's tables, in the same order when the parts are cut
    in the day's order of first appearance of users
    (:func:`ztad.behaviour.features.user_parts.part_order`): the users come in that order, and
    a user's rows of a user x item or user x hour table in the order of the items or hours.
    """
    pieces: dict[str, list[pd.DataFrame]] = {}
    for part in parts:
        for name, table in daily_aggregate(part).tables.items():
            pieces.setdefault(name, []).append(table)
    if not pieces:
        return DailyAggregate.empty()
    return DailyAggregate({name: _concat_tables(tables) for name, tables in pieces.items()})


def _concat_tables(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The parts' tables of one kind one after another; the empty ones only give the columns."""
    filled = [table for table in tables if not table.empty]
    if not filled:
        return tables[0]
    return filled[0] if len(filled) == 1 else pd.concat(filled, ignore_index=True)
