"""The staff of the synthetic organisation and their habits, drawn once per seed.

Every user gets a department, an office and a home town (most live where their office is;
some work remotely from another city of the same country), a work profile in local time (day
shift, night shift or a week that includes the weekend), a typical number of logins per
working day, a share of days worked from home, a personal mix of applications (their
department's, with individual emphasis) and one to three devices (always a laptop, often a
phone, sometimes an office desktop). All of it is built with array operations, so that an
organisation of a hundred thousand people takes well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ztad.synth import catalogue as cat
from ztad.synth.places import HEADQUARTERS, OFFICE_WEIGHTS, OFFICES, remote_home_cities
from ztad.synth.sampling import cumulative

#: Device slots of every user: a laptop always, a phone and an office desktop sometimes.
DEVICE_KINDS: tuple[str, ...] = ("laptop", "phone", "desktop")
LAPTOP, PHONE, DESKTOP = range(len(DEVICE_KINDS))
DEVICE_PREFIXES: dict[str, str] = {"laptop": "LT", "phone": "MB", "desktop": "DT"}
PHONE_SHARE = 0.6
DESKTOP_SHARE = 0.35
#: Relative use of each device on a day where all are at hand.
DEVICE_USE = np.array([1.0, 0.35, 1.2])
REMOTE_SHARE = 0.12
#: Typical number of events of a user on a working day (bounded to 5..20).
DAILY_LOGINS_MEDIAN = 13.0


@dataclass(frozen=True)
class Organisation:
    """Per-user attributes, as arrays indexed by user position.

    Hours are local to the user's home town. ``device`` holds the user's device codes per
    slot (laptop, phone, desktop; -1 when the user has none) into ``device_names``.
    """

    user_ids: np.ndarray
    department: np.ndarray
    office: np.ndarray
    home: np.ndarray
    remote: np.ndarray
    profile: np.ndarray
    shift_start: np.ndarray
    shift_hours: np.ndarray
    workdays: np.ndarray
    daily_rate: np.ndarray
    offday_chance: np.ndarray
    home_share: np.ndarray
    bytes_factor: np.ndarray
    resource_weights: np.ndarray
    resource_cum: np.ndarray
    device: np.ndarray
    device_cum: np.ndarray
    device_names: np.ndarray
    home_ip_period: np.ndarray
    home_ip_phase: np.ndarray

    @property
    def size(self) -> int:
        """Number of users."""
        return len(self.user_ids)


def user_ids(count: int) -> np.ndarray:
    """Account names ``u00001``, ``u00002`` ... (zero-padded so that they sort naturally)."""
    width = max(5, len(str(count)))
    return np.char.mod(f"u%0{width}d", np.arange(1, count + 1)).astype(object)


def device_names(kinds: np.ndarray, rng: np.random.Generator, avoid: np.ndarray | None = None) -> np.ndarray:
    """Fresh, distinct device identifiers such as ``LT-3F9A2C01B7`` for device kinds ``kinds``.

    Every device, a user's own or an attacker's, is named the same way, so the name itself
    never gives an attacker away. Names in ``avoid`` are never produced.
    """
    avoid_index = pd.Index([] if avoid is None else avoid, dtype=object)
    prefixes = np.array([DEVICE_PREFIXES[k] + "-" for k in DEVICE_KINDS], dtype=object)
    kinds = np.asarray(kinds, dtype=np.int64)
    names = pd.Series(np.empty(len(kinds), dtype=object), dtype=object)
    todo = np.arange(len(kinds))
    while len(todo):  # a 40-bit serial clashes so rarely that this runs once in practice
        serials = np.char.mod("%010X", rng.integers(0, 1 << 40, size=len(todo))).astype(object)
        names.iloc[todo] = prefixes[kinds[todo]] + serials
        clash = names.duplicated(keep="first").to_numpy() | names.isin(avoid_index).to_numpy()
        todo = np.flatnonzero(clash)
    return names.to_numpy(dtype=object)


def _profiles(department: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    shares = np.array([
        cat.NIGHT_AND_WEEKEND_SHARES.get(name, cat.DEFAULT_NIGHT_AND_WEEKEND)
        for name in cat.DEPARTMENT_NAMES
    ])
    night, weekend = shares[department, 0], shares[department, 1]
    draw = rng.random(len(department))
    return np.where(draw < night, cat.NIGHT, np.where(draw < night + weekend, cat.WEEKEND, cat.DAY))


def _offices(department: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    office = rng.choice(OFFICES, size=len(department), p=OFFICE_WEIGHTS)
    executive = department == cat.DEPARTMENT_NAMES.index("executive")
    at_headquarters = executive & (rng.random(len(department)) < 0.7)
    return np.where(at_headquarters, HEADQUARTERS, office).astype(np.int64)


def _homes(office: np.ndarray, remote: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    home = office.copy()
    for city in np.unique(office[remote]):
        who = np.flatnonzero(remote & (office == city))
        home[who] = rng.choice(remote_home_cities(int(city)), size=len(who))
    return home


def _shifts(profile: np.ndarray, executive: np.ndarray, rng: np.random.Generator):
    n = len(profile)
    start = np.clip(rng.normal(8.6, 0.8, n), 6.5, 11.0)
    start = np.where(executive, np.clip(rng.normal(7.8, 0.5, n), 6.5, 9.0), start)
    start = np.where(profile == cat.NIGHT, np.clip(rng.normal(21.5, 0.6, n), 20.0, 23.5), start)
    start = np.where(profile == cat.WEEKEND, np.clip(rng.normal(9.0, 1.0, n), 7.0, 12.0), start)
    hours = np.clip(rng.normal(8.5, 0.7, n), 6.5, 11.0)
    hours = np.where(executive, np.clip(rng.normal(10.5, 0.8, n), 9.0, 12.5), hours)
    return start, hours


def _workdays(profile: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Weekdays worked (Monday first): Monday to Friday, or five days that span the weekend."""
    n = len(profile)
    first_day = np.where(profile == cat.WEEKEND, rng.choice([2, 3], size=n), 0)
    offset = (np.arange(7)[None, :] - first_day[:, None]) % 7
    return offset < 5


def _resource_weights(department, remote, rng) -> np.ndarray:
    base = cat.department_weights()[department]
    common = np.isin(np.array(cat.RESOURCES), list(cat.COMMON_RESOURCES))
    kept = common[None, :] | (rng.random(base.shape) < 0.85)
    weights = base * kept * rng.gamma(2.0, 0.5, size=base.shape)
    weights[:, cat.resource_index("vpn-gateway")] *= np.where(remote, 4.0, 1.0)
    return weights


def _devices(remote, rng, count):
    has_phone = rng.random(count) < PHONE_SHARE
    has_desktop = ~remote & (rng.random(count) < DESKTOP_SHARE)
    owned = np.column_stack([np.ones(count, bool), has_phone, has_desktop])
    kinds = np.broadcast_to(np.arange(3), owned.shape)[owned]
    codes = np.full(owned.shape, -1, dtype=np.int64)
    codes[owned] = np.arange(owned.sum())
    names = device_names(kinds, rng)
    return codes, cumulative(owned * DEVICE_USE[None, :]), names


def build_organisation(users: int, rng: np.random.Generator) -> Organisation:
    """Draw an organisation of ``users`` people.

    Parameters
    ----------
    users
        Number of staff (all of them exist for the whole period unless they are later made
        new employees).
    rng
        The generator every draw comes from, so that one seed gives one organisation.
    """
    department = rng.choice(len(cat.DEPARTMENT_NAMES), size=users, p=cat.DEPARTMENT_SHARES)
    executive = department == cat.DEPARTMENT_NAMES.index("executive")
    office = _offices(department, rng)
    profile = _profiles(department, rng)
    remote = (profile == cat.DAY) & ~executive & (rng.random(users) < REMOTE_SHARE)
    home = _homes(office, remote, rng)
    remote = remote & (home != office)
    start, hours = _shifts(profile, executive, rng)
    rate = np.clip(rng.lognormal(np.log(DAILY_LOGINS_MEDIAN), 0.35, users) * np.where(executive, 1.15, 1.0), 5.0, 20.0)
    offday = np.where(executive, 0.45, np.where(department == cat.DEPARTMENT_NAMES.index("it"), 0.2, 0.12))
    home_share = np.where(profile == cat.DAY, rng.beta(2.0, 4.0, users), rng.beta(1.0, 8.0, users))
    weights = _resource_weights(department, remote, rng)
    device, device_cum, names = _devices(remote, rng, users)
    period = rng.integers(5, 41, size=users)
    return Organisation(
        user_ids=user_ids(users),
        department=department.astype(np.int64),
        office=office,
        home=home.astype(np.int64),
        remote=remote,
        profile=profile.astype(np.int64),
        shift_start=start,
        shift_hours=hours,
        workdays=_workdays(profile, rng),
        daily_rate=rate,
        offday_chance=offday,
        home_share=np.where(remote, 1.0, home_share),
        bytes_factor=rng.lognormal(0.0, 0.35, users),
        resource_weights=weights,
        resource_cum=cumulative(weights),
        device=device,
        device_cum=device_cum,
        device_names=names,
        home_ip_period=period,
        home_ip_phase=rng.integers(0, 1 << 20, size=users) % period,
    )
