"""Time as the behaviour layer counts it: int64 microseconds since the epoch, hours of the week.

Baselines and features work on µs timestamps in numpy arrays rather than on pandas
timestamps; the units and the one calendar fact they need (the weekday of the epoch) are
written here once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MICROS_PER_MINUTE = 60_000_000
MICROS_PER_HOUR = 60 * MICROS_PER_MINUTE
MICROS_PER_DAY = 24 * MICROS_PER_HOUR
HOURS_PER_WEEK = 168
#: The small hours, the night of a day worker, run from midnight to this local hour.
SMALL_HOURS_END = 5
#: 1970-01-01 was a Thursday: the weekday (Monday = 0) of epoch day n is (n + 3) % 7.
EPOCH_WEEKDAY = 3


class TimezoneError(ValueError):
    """Timestamps without a time zone, where UTC instants are needed."""


def timestamp_micros(timestamps: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the epoch (vectorised).

    Zone-aware times are read off their array directly: the ``.dt`` accessors build a Series
    at each step, most of the cost for the few events of a scoring request.
    """
    values = timestamps if isinstance(timestamps, pd.Series) else pd.Series(timestamps)
    if isinstance(values.dtype, pd.DatetimeTZDtype):  # held as UTC instants whatever the zone
        return np.asarray(values.array.as_unit("us").asi8, dtype="int64")
    if values.dt.tz is None:
        raise TimezoneError("timestamp must be timezone-aware UTC (use ztad.schema.conform)")
    return np.asarray(values.dt.tz_convert("UTC").dt.as_unit("us").array.asi8, dtype="int64")


def hour_of_week(micros: np.ndarray) -> np.ndarray:
    """Hour of the week of µs timestamps, 0 = Monday 00:00-01:00, 167 = Sunday 23:00-24:00.

    Pass UTC µs for the UTC hour, or µs shifted by the local offset for the local hour.
    """
    days = np.floor_divide(micros, MICROS_PER_DAY)
    hours = np.floor_divide(micros - days * MICROS_PER_DAY, MICROS_PER_HOUR)
    return (((days + EPOCH_WEEKDAY) % 7) * 24 + hours).astype("int16")
