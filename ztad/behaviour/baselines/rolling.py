"""The window's combined user x item pairs, kept from night to night and rolled forward.

Combining the window's pair tables (user x device, IP, network, ASN, city, resource) means
reading and coding every day's table, a cost that grows with the window. Each night's
window is the previous one moved on by a day: its pairs are the kept pairs plus the rows of
the days that entered the window minus the rows of those that left it. The combined pairs are
kept under ``<state_dir>/window/`` with the days they were combined from and a token of each
day's saved aggregate (:func:`~ztad.behaviour.baselines.persist.saved_token`); they are rolled
only when that is exactly right (the new window starts and ends no earlier, shares days with
the kept one, and no shared or leaving day was saved again or newly appeared), else the
pairs are combined from every day. Every leaving day is older than every kept day, so the
latest day of a pair that remains is the latest of its kept and entering rows. The window's
trusted hours are kept beside the pairs and rolled when they are
(:mod:`~ztad.behaviour.baselines.rolling_hours`).

Layout::

    window/current.json          {"folder": name}: the kept window, replaced atomically
    window/<name>/window.json    day, window, tokens of the days, times rolled, dtypes
    window/<name>/user_index.parquet, window/<name>/<kind>/  (items, keys, values)
    window/<name>/hours/         the trusted hours (:mod:`~ztad.behaviour.baselines.rolling_hours`)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ztad.behaviour.baselines.arrays import reduce_groups
from ztad.behaviour.baselines.daily import DailyAggregate
from ztad.behaviour.baselines.event_columns import PAIR_COLUMNS
from ztad.behaviour.baselines.pairs import PairStats
from ztad.behaviour.baselines.persist import saved_daily_aggregate, saved_token
from ztad.behaviour.baselines.rolling_hours import (
    HOURS_FOLDER,
    kept_user_codes,
    read_hours,
    roll_hours,
    write_hours,
)
from ztad.behaviour.baselines.state import BaselineState, WindowHours, combine_aggregates
from ztad.behaviour.baselines.state_files import read_index, read_pairs, write_index, write_pairs
from ztad.behaviour.baselines.window import WindowTable, read_window_table

log = logging.getLogger(__name__)

#: Times in a row the pairs may be rolled before they are combined again from every day (a
#: night rolls them once, a first night that also builds the baselines of past days once a day).
#: Rolling adds and subtracts the log-bytes sums in another order than combining does, so
#: a rolled sum differs from the combined one by rounding (well under 1e-12 relative), a little
#: more each time; a full combine now and then keeps that from building up.
MAX_ROLLS = 30

WINDOW_FOLDER = "window"
#: Bumped when the layout of a kept window changes; one of another layout is not rolled.
WINDOW_FORMAT = 2
_POINTER = "current.json"
_META = "window.json"
#: Rolled log-bytes sums below this are rounding left by subtracted days, and are zero: a
#: transfer adds 0 (no bytes) or at least log1p(1 byte) = 0.69 to ``lb_sum``.
_ROUNDING = 1e-6
_LOG_BYTES_SUMS = ("lb_sum", "lb_sumsq")
_KEPT_ERRORS = (OSError, ValueError, KeyError, TypeError, pa.ArrowException)


@dataclass
class KeptWindow:
    """A window's combined pairs as kept: ``folder``, the window (``day``, ``window_days``),
    the token of each day it was combined from, the times rolled since combined whole and
    the kinds of pairs rolled when it was kept (the others were combined from every day)."""

    folder: Path
    day: date
    window_days: int
    tokens: dict[date, str]
    rolls: int
    rolled_kinds: list[str]
    dtypes: dict
    _users: pd.Index | None = field(default=None, repr=False)

    @property
    def start(self) -> date:
        return self.day - timedelta(days=self.window_days)

    def user_index(self) -> pd.Index:
        """The user index the kept pairs are coded against (read once)."""
        if self._users is None:
            self._users = read_index(self.folder / "user_index.parquet", self.dtypes["user_index"])
        return self._users

    def pairs(self, kind: str) -> PairStats:
        """The kept pairs of one kind."""
        return read_pairs(self.folder / kind, self.dtypes["items"][kind])

    def hours(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept trusted hours: their nonzero cells and night rows."""
        return read_hours(self.folder / HOURS_FOLDER)


def kept_window(state_dir: Path | str) -> KeptWindow | None:
    """The window kept under ``state_dir``; ``None`` when none is, or it cannot be read."""
    root = Path(state_dir) / WINDOW_FOLDER
    try:
        folder = root / json.loads((root / _POINTER).read_text())["folder"]
        meta = json.loads((folder / _META).read_text())
        if meta.get("format") != WINDOW_FORMAT:
            return None
        return KeptWindow(
            folder=folder,
            day=date.fromisoformat(meta["day"]),
            window_days=int(meta["window_days"]),
            tokens={date.fromisoformat(d): str(t) for d, t in meta["tokens"].items()},
            rolls=int(meta["rolls"]),
            rolled_kinds=list(meta["rolled_kinds"]),
            dtypes={"user_index": meta["user_index"], "items": meta["items"]},
        )
    except FileNotFoundError:
        return None
    except _KEPT_ERRORS as error:
        log.warning("the kept window under %s cannot be read (%s): combining every day", root, error)
        return None


def keep_window(
    state_dir: Path | str, state: BaselineState, hours: WindowHours, tokens: dict[date, str], rolls: int,
    rolled_kinds: list[str],
) -> Path | None:
    """Keep ``state``'s user x item pairs (those of ``PAIR_COLUMNS``), the window's trusted
    ``hours`` and the ``tokens`` of the days they were combined from, for the next night to
    roll; return the folder. A fresh
    folder is written and then named by the pointer, replaced atomically, so a reader sees the
    old window or the new one whole; older folders are removed. Failing to keep the window
    only costs the next night a full combine, so an error is logged, not raised."""
    root = Path(state_dir) / WINDOW_FOLDER
    name = f"{state.day.isoformat()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging = root / f"{name}.tmp"
    try:
        staging.mkdir(parents=True)
        meta = {
            "format": WINDOW_FORMAT,
            "day": state.day.isoformat(),
            "window_days": state.window_days,
            "tokens": {d.isoformat(): t for d, t in sorted(tokens.items())},
            "rolls": rolls,
            "rolled_kinds": rolled_kinds,
            "user_index": write_index(state.user_index, staging / "user_index.parquet"),
            "items": {kind: write_pairs(state.pairs[kind], staging / kind) for kind in PAIR_COLUMNS},
        }
        write_hours(hours, staging / HOURS_FOLDER)
        (staging / _META).write_text(json.dumps(meta, indent=2))
        staging.rename(root / name)
        pointer = root / f"{_POINTER}.{name}.tmp"
        pointer.write_text(json.dumps({"folder": name}))
        os.replace(pointer, root / _POINTER)
    except OSError as error:
        log.warning("the window's pairs could not be kept under %s: %s", root, error)
        shutil.rmtree(staging, ignore_errors=True)
        return None
    for old in root.iterdir():
        if old.is_dir() and old.name != name and not old.name.endswith(".tmp"):
            shutil.rmtree(old, ignore_errors=True)
    return root / name


@dataclass
class WindowRoll:
    """How this night's window follows from the kept one: the days that entered it and those
    that left it (``(day, aggregate)``, oldest first)."""

    kept: KeptWindow
    entering: list[tuple[date, DailyAggregate]]
    leaving: list[tuple[date, DailyAggregate]]

    @property
    def unchanged(self) -> bool:
        """Whether the window is the kept one (the same day run again)."""
        return not self.entering and not self.leaving

    def pairs(self, kind: str, user_index: pd.Index) -> PairStats | None:
        """The window's pairs of one kind, coded against ``user_index``, rolled from the kept
        ones; ``None`` when they cannot be read or do not add up (combine every day then)."""
        try:
            kept, kept_users = self.kept.pairs(kind), self.kept.user_index()
            if self.unchanged and kept_users.equals(user_index):
                return kept
            rolled = roll_pairs(kept, kept_users, user_index, self._rows(kind, self.entering),
                                self._rows(kind, self.leaving), PAIR_COLUMNS[kind])
        except _KEPT_ERRORS as error:
            log.warning("the kept %s pairs cannot be read (%s): combining every day", kind, error)
            return None
        if rolled is None:
            log.warning("the kept %s pairs do not add up with the days that moved: combining every day", kind)
        return rolled

    def hours(self, user_index: pd.Index, start: date) -> WindowHours | None:
        """The trusted hours of the window starting on ``start``, coded against
        ``user_index``, rolled from the kept ones; ``None`` when they cannot be read or do not
        add up (combine every day then)."""
        try:
            cells, nights = self.kept.hours()
            rolled = roll_hours(cells, nights, self.kept.user_index(), user_index,
                                self._table("user_hour", self.entering, ("user_id",)),
                                self._table("user_hour", self.leaving, ("user_id",)), start)
        except _KEPT_ERRORS as error:
            log.warning("the kept hours cannot be read (%s): combining every day", error)
            return None
        if rolled is None:
            log.warning("the kept hours do not add up with the days that moved: combining every day")
        return rolled

    @staticmethod
    def _rows(kind: str, dated: list[tuple[date, DailyAggregate]]) -> WindowTable:
        return WindowRoll._table(f"user_{kind}", dated, ("user_id", PAIR_COLUMNS[kind]))

    @staticmethod
    def _table(name: str, dated: list[tuple[date, DailyAggregate]], texts: tuple[str, ...]) -> WindowTable:
        return read_window_table(dated, name, DailyAggregate.empty().tables[name], texts)


def window_roll(
    state_dir: Path | str, dated: list[tuple[date, DailyAggregate]], day: date, window_days: int,
    tokens: dict[date, str | None],
) -> WindowRoll | None:
    """How the window ``[day - window_days, day)`` of the saved aggregates ``dated`` (their
    ``tokens``) follows from the kept one; ``None`` when its pairs cannot be rolled from it:
    none kept, rolled too many times, a window that starts or ends earlier or shares no day,
    a shared day saved again, added or gone, or a leaving day no longer as it was."""
    kept = kept_window(state_dir)
    start = day - timedelta(days=window_days)
    why = _not_rollable(kept, start, day, tokens)
    if why is None:
        leaving = _leaving_days(state_dir, kept, start)
        why = "a day that left the window was saved again or is gone" if leaving is None else None
    if why is not None:
        log.info("the window's pairs as of %s are combined from every day: %s", day, why)
        return None
    return WindowRoll(kept, [(d, a) for d, a in dated if d >= kept.day], leaving)


def _not_rollable(kept: KeptWindow | None, start: date, day: date, tokens: dict[date, str | None]) -> str | None:
    """Why the window ``[start, day)`` of the days with ``tokens`` cannot be rolled from
    ``kept`` (``None`` when it can, as far as the days it shares with it tell)."""
    if kept is None:
        return "no window kept"
    if kept.rolls >= MAX_ROLLS:
        return f"rolled {kept.rolls} times in a row"
    if None in tokens.values():
        return "a day's aggregate is not saved"
    if not (kept.start <= start < kept.day <= day):
        return f"the kept window is [{kept.start}, {kept.day})"
    shared_kept = {d: t for d, t in kept.tokens.items() if d >= start}
    shared_now = {d: t for d, t in tokens.items() if d < kept.day}
    if shared_kept != shared_now:
        changed = sorted(set(shared_kept.items()) ^ set(shared_now.items()))
        return f"the aggregate of {changed[0][0]} was saved again, came late or is gone"
    return None


def _leaving_days(state_dir: Path | str, kept: KeptWindow, start: date) -> list | None:
    """The kept window's days before ``start``, as they were kept; ``None`` when one was saved
    again or is gone."""
    leaving = []
    for d, token in sorted(kept.tokens.items()):
        if d < start:
            agg = saved_daily_aggregate(state_dir, d)
            if agg is None or saved_token(state_dir, d) != token:
                return None
            leaving.append((d, agg))
    return leaving


def combine_rolling(
    state_dir: Path | str, aggregates: Iterable[tuple[date, DailyAggregate]], day: date, window_days: int,
    keep: bool = True,
) -> BaselineState:
    """:func:`~ztad.behaviour.baselines.state.combine_aggregates` of the saved aggregates of
    the window ``[day - window_days, day)``, the pairs rolled from the kept window when they
    can be; with ``keep``, the window's pairs are kept for the next night."""
    dated = list(aggregates)
    tokens = {d: saved_token(state_dir, d) for d, _ in dated}
    roll = window_roll(state_dir, dated, day, window_days, tokens)
    rolled: list[str] = []
    hours: list[WindowHours] = []

    def rolled_pairs(kind: str, user_index: pd.Index) -> PairStats | None:
        pairs = roll.pairs(kind, user_index)
        if pairs is not None:
            rolled.append(kind)
        return pairs

    def rolled_hours(user_index: pd.Index, combine) -> WindowHours:
        found = None if roll is None else roll.hours(user_index, day - timedelta(days=window_days))
        if found is not None:
            rolled.append(HOURS_FOLDER)
        hours.append(combine() if found is None else found)
        return hours[-1]

    state = combine_aggregates(dated, day, window_days, None if roll is None else rolled_pairs, rolled_hours)
    whole = len(rolled) == len(PAIR_COLUMNS) + 1  # every kind of pairs and the hours
    if keep and None not in tokens.values() and not (whole and roll.unchanged):
        rolled_kinds = [kind for kind in rolled if kind in PAIR_COLUMNS]
        keep_window(state_dir, state, hours[0], tokens, roll.kept.rolls + 1 if rolled_kinds else 0, rolled_kinds)
    return state


def roll_pairs(
    kept: PairStats, kept_users: pd.Index, user_index: pd.Index,
    entering: WindowTable, leaving: WindowTable, column: str,
) -> PairStats | None:
    """The ``kept`` pairs (coded against ``kept_users``) plus the ``entering`` days' rows and
    minus the ``leaving`` days' rows, coded against ``user_index``: what combining the new
    window's days gives, items sorted like Arrow sorts text and only those still used. ``None``
    when they do not add up (a leaving row without its kept pair, a pair left with a negative
    count, an entering row of a user outside ``user_index``)."""
    union, kept_item, enter_item, leave_item = _item_codes(kept.items, entering, leaving, column)
    if leave_item is None:
        return None
    gone = len(user_index)  # the code of users no longer in the window
    user_map = kept_user_codes(kept_users, user_index, gone)
    n_kept_items = max(len(kept.items), 1)
    enter_user = entering.codes_in(user_index, "user_id")
    if (enter_user < 0).any():
        return None
    leave_user = leaving.codes_in(user_index, "user_id")
    owners = np.concatenate([user_map[kept.keys // n_kept_items], enter_user, np.where(leave_user >= 0, leave_user, gone)])
    items = np.concatenate([kept_item[kept.keys % n_kept_items], enter_item, leave_item])
    sums = {c: np.concatenate([kept.values[c].to_numpy("float64"), entering.numbers(c, "float64"),
                               -leaving.numbers(c, "float64")])
            for c in kept.values.columns if c not in ("days", "last_day")}
    sums["days"] = np.concatenate([kept.values["days"].to_numpy("int64"), np.ones(len(entering), "int64"),
                                   np.full(len(leaving), -1, "int64")])
    last_day = np.concatenate([kept.values["last_day"].to_numpy("int64"), entering.days,
                               np.zeros(len(leaving), "int64")])
    present = items >= 0
    n_union = max(len(union), 1)
    keys, reduced = reduce_groups(owners[present] * n_union + items[present],
                                  sums={k: v[present] for k, v in sums.items()},
                                  maxes={"last_day": last_day[present]})
    return _remaining(keys, reduced, union, gone, list(kept.values.columns))


def _item_codes(kept_items: pd.Index, entering: WindowTable, leaving: WindowTable, column: str):
    """The kept items and those the entering rows add, sorted like Arrow sorts text, and the
    code in them of each kept item and of each entering and leaving row (-1 for a row without
    an item). The leaving rows' codes are ``None`` when some leaving item was not kept."""
    kept = pa.array(kept_items.array).cast(pa.large_string())
    enter_codes, enter_values = entering.codes(column)
    leave_codes, leave_values = leaving.codes(column)
    at_kept = _positions(enter_values, kept)
    new = at_kept < 0
    union = pa.concat_arrays([kept, enter_values.cast(pa.large_string()).filter(pa.array(new))])
    rank = np.arange(len(union), dtype="int64")
    if new.any():
        order = pc.array_sort_indices(union).to_numpy()
        rank[order] = np.arange(len(union))
        union = union.take(pa.array(order))
    enter_position = np.where(new, len(kept) + np.cumsum(new) - 1, at_kept)
    enter_item = np.append(rank[enter_position], -1)[enter_codes]
    at_leaving = _positions(leave_values, kept)
    if (at_leaving < 0).any():
        return union, rank[: len(kept)], enter_item, None
    return union, rank[: len(kept)], enter_item, np.append(rank[at_leaving], -1)[leave_codes]


def _positions(values: pa.Array, index: pa.Array) -> np.ndarray:
    """Position of each of ``values`` in ``index`` (-1 when absent)."""
    if len(values) == 0:
        return np.array([], dtype="int64")
    found = pc.index_in(values.cast(pa.large_string()), value_set=index)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype("int64")


def _remaining(keys: np.ndarray, reduced: dict, union: pa.Array, gone: int, columns: list[str]) -> PairStats | None:
    """The reduced pairs still seen on some day of the window, their items only those still
    used and coded again in the same order (so the keys stay sorted); ``None`` when a pair is
    left with a negative count or days, a count without days, or days of a user gone."""
    days, count = reduced["days"], reduced["count"]
    n_union = max(len(union), 1)
    owners = keys // n_union
    if (days < 0).any() or (count < 0).any() or (count[days == 0] != 0).any() or (days[owners == gone] != 0).any():
        return None
    keep = days > 0
    owners, item_of = owners[keep], keys[keep] % n_union
    used = np.zeros(len(union), dtype=bool)
    used[item_of] = True
    recoded = np.cumsum(used) - 1
    items = union.filter(pa.array(used))
    values = {}
    for column in columns:
        values[column] = reduced[column][keep]
        if column in _LOG_BYTES_SUMS:
            values[column][np.abs(values[column]) < _ROUNDING] = 0.0
    return PairStats(
        pd.Index(items.to_numpy(zero_copy_only=False), dtype="string"),
        owners * max(len(items), 1) + recoded[item_of],
        pd.DataFrame(values),
    )
