"""Generated events as a DataFrame in the origin input format (plus department, scenario and
attack id).

String columns are pandas categoricals built from the code arrays (one string per distinct
value, not per event), which keeps a day of a million events cheap to build and to write.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ztad.synth import catalogue as cat
from ztad.synth.events import LABELS, SCENARIOS, EventArrays
from ztad.synth.networks import format_ipv4
from ztad.synth.organisation import Organisation
from ztad.synth.places import CITY_NAMES

#: Columns of generated logs, in order: the origin data set's, then department, scenario and the
#: attack id (one per attack, empty on normal events).
OUTPUT_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "user_id",
    "device_id",
    "ip_address",
    "location",
    "login_success",
    "access_time",
    "resource_accessed",
    "bytes_transferred",
    "event_label",
    "department",
    "scenario",
    "attack_id",
)


@lru_cache(maxsize=1)
def clock_strings() -> np.ndarray:
    """``HH:MM:SS`` for every second of a day."""
    second = np.arange(86400)
    parts = [pd.Series(v).astype(str).str.zfill(2) for v in (second // 3600, second // 60 % 60, second % 60)]
    return (parts[0] + ":" + parts[1] + ":" + parts[2]).to_numpy(dtype=object)


def _categorical(codes: np.ndarray, names) -> pd.Categorical:
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=pd.Index(names, dtype=object))


def clock_categorical(seconds_of_day: np.ndarray) -> pd.Categorical:
    """``HH:MM:SS`` of each second of the day, with only the seconds that occur as categories
    (a small day then costs as little as its events, not a whole day's clock)."""
    used, codes = np.unique(np.asarray(seconds_of_day, dtype=np.int64), return_inverse=True)
    return _categorical(codes, clock_strings()[used])


def attack_ids(attack: np.ndarray) -> pd.Categorical:
    """``attack-NNNNN`` of each attack event (its campaign in the period's plan), missing on
    normal events."""
    attack = np.asarray(attack, dtype=np.int64)
    used = np.unique(attack[attack >= 0])
    codes = np.where(attack >= 0, np.searchsorted(used, attack), -1)
    return _categorical(codes, [f"attack-{a:05d}" for a in used])


def to_frame(events: EventArrays, org: Organisation, device_names: np.ndarray) -> pd.DataFrame:
    """The events as a DataFrame with :data:`OUTPUT_COLUMNS`.

    ``timestamp`` is ``datetime64[us, UTC]``, ``login_success`` is 0/1 (``int8``),
    ``access_time`` is the UTC time of day ``HH:MM:SS`` and ``bytes_transferred`` is ``int64``;
    the other columns are categorical strings, ``scenario`` is ``""`` for ordinary events and
    ``attack_id`` is missing on normal events.
    """
    ip_codes, ip_strings = format_ipv4(events.ip)
    return pd.DataFrame({
        "timestamp": pd.to_datetime(events.time, unit="s", utc=True).astype("datetime64[us, UTC]"),
        "user_id": _categorical(events.user, org.user_ids),
        "device_id": _categorical(events.device, device_names),
        "ip_address": _categorical(ip_codes, ip_strings),
        "location": _categorical(events.city, CITY_NAMES),
        "login_success": events.success.astype(np.int8),
        "access_time": clock_categorical(events.time % 86400),
        "resource_accessed": _categorical(events.resource, cat.RESOURCES),
        "bytes_transferred": events.bytes.astype(np.int64),
        "event_label": _categorical(events.label, LABELS),
        "department": _categorical(org.department[events.user], cat.DEPARTMENT_NAMES),
        "scenario": _categorical(events.scenario, SCENARIOS),
        "attack_id": attack_ids(events.attack),
    }, columns=list(OUTPUT_COLUMNS))
