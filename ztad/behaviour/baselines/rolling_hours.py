"""The window's trusted hours, kept beside its pairs and rolled forward from night to night.

Combining the hours reads every day's user x hour-of-week table, millions of rows over a
month's window. Like the pairs (:mod:`~ztad.behaviour.baselines.rolling`), the window's events
per user x hour of the week are the kept ones plus the entering days' rows minus the leaving
days' rows, and its dated rows in the small hours are the kept ones of the days still in the
window plus the entering days' own. Both are integer counts, so rolling gives exactly what
combining gives, whatever the order of the sums.

Kept as integer arrays (one row per nonzero cell or per night row, int32 when they fit), coded
against the kept window's user index::

    hours/cells.npy     user code, hour of the week, events
    hours/nights.npy    user code, day ordinal, hour of the week
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import positions_in
from ztad.behaviour.baselines.state import WindowHours, night_rows
from ztad.behaviour.baselines.window import WindowTable
from ztad.behaviour.clock import HOURS_PER_WEEK

HOURS_FOLDER = "hours"
_CELLS = "cells.npy"
_NIGHTS = "nights.npy"


def write_hours(hours: WindowHours, folder: Path) -> None:
    """Keep ``hours`` in the new ``folder``: the nonzero cells of the counts and the night rows."""
    folder.mkdir(parents=True)
    counts = hours.counts.ravel()
    flat = np.flatnonzero(counts)
    cells = np.empty((len(flat), 3), dtype=_integers(max(len(hours.counts), counts.max(initial=0))))
    cells[:, 0], cells[:, 1] = np.divmod(flat, HOURS_PER_WEEK)
    cells[:, 2] = counts[flat]
    np.save(folder / _CELLS, cells, allow_pickle=False)
    nights = hours.nights
    np.save(folder / _NIGHTS, nights.astype(_integers(nights.max(initial=0))), allow_pickle=False)


def read_hours(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The cells and night rows :func:`write_hours` kept (each ``(rows, 3)`` int64)."""
    kept = []
    for name in (_CELLS, _NIGHTS):
        array = np.load(folder / name, allow_pickle=False)
        if array.ndim != 2 or array.shape[1] != 3 or array.dtype.kind != "i":
            raise ValueError(f"kept hours of shape {array.shape} and dtype {array.dtype}")
        kept.append(array.astype("int64"))
    return kept[0], kept[1]


def _integers(largest) -> str:
    """int32 for nonnegative integers up to ``largest`` when they fit (half the bytes to write
    and read), else int64."""
    return "int32" if largest <= np.iinfo("int32").max else "int64"


def roll_hours(
    cells: np.ndarray, nights: np.ndarray, kept_users: pd.Index, user_index: pd.Index,
    entering: WindowTable, leaving: WindowTable, start: date,
) -> WindowHours | None:
    """The kept ``cells`` and ``nights`` (coded against ``kept_users``) rolled into the window
    starting on ``start``, coded against ``user_index``: the cells plus the ``entering`` days'
    rows minus the ``leaving`` days' rows, the night rows of the days still in the window plus
    the entering days' own. ``None`` when they do not add up (a negative count, events left to
    a user gone, an entering or remaining row of a user outside ``user_index``)."""
    n = len(user_index)
    gone = n  # the code of users no longer in the window
    user_map = kept_user_codes(kept_users, user_index, gone)
    enter_user = entering.codes_in(user_index, "user_id")
    leave_user = leaving.codes_in(user_index, "user_id")
    if (enter_user < 0).any() or not _coded(cells, 1, len(kept_users)) or not _coded(nights, 2, len(kept_users)):
        return None
    enter_hour, leave_hour = entering.numbers("how", "int64"), leaving.numbers("how", "int64")
    flat = np.concatenate([
        user_map[cells[:, 0]] * HOURS_PER_WEEK + cells[:, 1],
        enter_user * HOURS_PER_WEEK + enter_hour,
        np.where(leave_user >= 0, leave_user, gone) * HOURS_PER_WEEK + leave_hour,
    ])
    weights = np.concatenate([cells[:, 2].astype("float64"), entering.numbers("count", "float64"),
                              -leaving.numbers("count", "float64")])
    counts = np.bincount(flat, weights=weights, minlength=(n + 1) * HOURS_PER_WEEK).reshape(n + 1, HOURS_PER_WEEK)
    if (counts < 0).any() or counts[gone].any():
        return None
    remaining = nights[nights[:, 1] >= start.toordinal()]
    remaining = np.stack([user_map[remaining[:, 0]], remaining[:, 1], remaining[:, 2]], axis=1)
    if (remaining[:, 0] == gone).any():
        return None
    entered = night_rows(enter_user, entering.days, enter_hour)
    return WindowHours(counts[:n], np.concatenate([remaining, entered]).astype("int64", copy=False))


def kept_user_codes(kept_users: pd.Index, user_index: pd.Index, gone: int) -> np.ndarray:
    """The code in ``user_index`` of each of ``kept_users`` (``gone`` for those not in it)."""
    if not len(kept_users):
        return np.array([], dtype="int64")
    at = positions_in(user_index, kept_users.to_numpy(dtype=object))
    return np.where(at >= 0, at, gone).astype("int64")


def _coded(rows: np.ndarray, hour_column: int, n_users: int) -> bool:
    """Whether kept rows name users of the kept index and hours of the week."""
    users, hours = rows[:, 0], rows[:, hour_column]
    return bool(((users >= 0) & (users < n_users) & (hours >= 0) & (hours < HOURS_PER_WEEK)).all())
