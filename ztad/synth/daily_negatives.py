"""Innocent oddities of one local date, beside the ordinary work of :mod:`ztad.synth.activity`.

They are the normal activity that detectors most often mistake for attacks, all labelled
``normal`` and marked in ``scenario``:

``on_call``
    Engineers and IT staff on an on-call rotation (one week in :data:`ON_CALL_ROTATION_WEEKS`)
    are paged on some nights: a short session between midnight and 05:00 local time, from
    their laptop at home, on production consoles. Their on-call peers do the same.
``month_end``
    Finance staff close the books on the last two workdays of a month and the first of the
    next: reports that move :data:`MONTH_END_FACTOR` times their usual bytes.
``password_rotation``
    A mandatory password change in one office on one morning: most of its staff at the office
    fail once from the office NAT, then log in a minute later on their own device.
``evening_work``
    A day worker finishing something at home between 19:00 and 23:00.
``cafe_wifi``
    A day worker on the laptop from a café or co-working space in their home town: an
    address never seen before, on a network nobody in the organisation uses.

Each draws from the date's own random stream (:func:`ztad.synth.world.local_date_events`), so
ordinary work is the same with or without them. Everything is vectorised over users.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ztad.synth import catalogue as cat
from ztad.synth import events as ev
from ztad.synth.activity import failure_bytes, home_line_spread, transfer_bytes
from ztad.synth.hard_negatives import HardNegatives
from ztad.synth.networks import CORPORATE, OFFICE_EGRESS_HOSTS, RESIDENTIAL, address, mix
from ztad.synth.organisation import Organisation
from ztad.synth.places import day_start_seconds, utc_offsets
from ztad.synth.sampling import choose_per_row

#: Share of engineering and IT day workers on the on-call rotation; on call one week in this many.
ON_CALL_SHARE = 0.3
ON_CALL_ROTATION_WEEKS = 3
#: Chance that an on-call engineer is paged on a night, and the session's events.
PAGED_CHANCE = 0.35
ON_CALL_EVENTS = (2, 7)
#: Production consoles an incident is worked on, with their weights.
PRODUCTION_RESOURCES: dict[str, float] = {
    "cloud-console": 0.45, "admin-console": 0.2, "siem": 0.15, "ci-runner": 0.1, "git.corp": 0.1,
}
ON_CALL_DEPARTMENTS = ("engineering", "it")
#: Month-end reports: chance per finance worker and closing day, events, times the usual bytes.
MONTH_END_CHANCE = 0.6
MONTH_END_EVENTS = (1, 4)
MONTH_END_FACTOR = (8.0, 40.0)
MONTH_END_RESOURCES = ("erp-finance", "treasury-portal", "file-share")
#: Password rotation: share of the office's staff at work that morning who fail once first.
ROTATION_SHARE = 0.8
ROTATION_MORNING_HOURS = (6.0, 12.5)
#: Evening work and café Wi-Fi: chance per day worker and workday, and events of the session.
EVENING_CHANCE = 0.03
EVENING_EVENTS = (1, 5)
CAFE_CHANCE = 0.02
CAFE_EVENTS = (1, 4)
#: Keys of the hashes that pick the on-call staff and café addresses.
ON_CALL_KEY, CAFE_KEY = 21, 22


@dataclass(frozen=True)
class Rotation:
    """The password rotation of a period: its local date (ordinal) and its office (city)."""

    day: int
    office: int


def on_call_staff(org: Organisation) -> np.ndarray:
    """Who is on the on-call rotation: a stable share of engineering and IT day workers."""
    departments = np.isin(np.array(cat.DEPARTMENT_NAMES)[org.department], ON_CALL_DEPARTMENTS)
    drawn = mix(np.arange(org.size), ON_CALL_KEY) % np.uint64(1000) < np.uint64(ON_CALL_SHARE * 1000)
    return departments & (org.profile == cat.DAY) & drawn


def on_call_on(org: Organisation, day: int) -> np.ndarray:
    """Who is on call on the night after local date ``day`` (a weekly rotation)."""
    week = day // 7
    return on_call_staff(org) & ((np.arange(org.size) + week) % ON_CALL_ROTATION_WEEKS == 0)


def closing_days(day: int) -> bool:
    """Whether local date ``day`` is one of the last two weekdays of its month or the first
    weekday of the next (when finance closes the books)."""
    today = date.fromordinal(day)
    if today.weekday() >= 5:
        return False
    weekdays_left, probe = 0, today + timedelta(days=1)
    while probe.month == today.month:
        weekdays_left += probe.weekday() < 5
        probe += timedelta(days=1)
    first_of_month = all((today - timedelta(days=k)).weekday() >= 5 for k in range(1, today.day))
    return weekdays_left < 2 or first_of_month


def pick_rotation(org: Organisation, first_day: int, days: int, clean_days: int) -> Rotation:
    """The rotation: in the busiest office, on the first Tuesday a week into the scored days
    (or the period's middle when it is short)."""
    offices, staff = np.unique(org.office, return_counts=True)
    day = first_day + min(clean_days + 7, days // 2)
    day += (1 - date.fromordinal(day).weekday()) % 7
    return Rotation(day=int(day), office=int(offices[np.argmax(staff)]))


def _session(users: np.ndarray, sizes: tuple[int, int], rng) -> tuple[np.ndarray, np.ndarray]:
    """Per event of the users' sessions: its user, and the position of that user in ``users``."""
    counts = rng.integers(sizes[0], sizes[1] + 1, len(users))
    return np.repeat(users, counts), np.repeat(np.arange(len(users)), counts)


def _utc(org: Organisation, day: int, users: np.ndarray, local_hours: np.ndarray) -> np.ndarray:
    return day_start_seconds(day) + (local_hours * 3600).astype(np.int64) - utc_offsets(day)[org.home[users]]


def _arrays(user, time, device, ip, city, resource, volume, success, scenario) -> ev.EventArrays:
    n = len(user)
    return ev.EventArrays(
        user=user, time=time, device=device, ip=ip, city=city, resource=resource,
        bytes=np.asarray(volume, dtype=np.int64), success=np.broadcast_to(success, n).copy(),
        label=np.full(n, ev.NORMAL, dtype=np.int64), scenario=np.full(n, scenario, dtype=np.int64),
        attack=np.full(n, ev.NO_ATTACK, dtype=np.int64),
    )


def _at_home(org, hn, day, users, local_hours, resource, rng, scenario, scale=1.0) -> ev.EventArrays:
    """Laptop events from the users' home line at local hours."""
    city = org.home[users]
    return _arrays(users, _utc(org, day, users, local_hours), hn.laptop_on(org, day)[users],
                   address(city, RESIDENTIAL, home_line_spread(org, users, day)), city, resource,
                   transfer_bytes(org, users, resource, rng, scale=scale), True, scenario)


def _free(hn: HardNegatives, org: Organisation, day: int) -> np.ndarray:
    """Staff in their own town on their own line today: employed, not on a trip, and not VPN
    users (whose home traffic is the ``vpn`` hard negative already)."""
    trip = hn.trips.on_day(day, org.size)
    return (hn.start_day <= day) & (trip < 0) & (hn.vpn_egress < 0)


def on_call_nights(org, hn, day, rng) -> ev.EventArrays:
    """Paged on-call engineers working an incident after midnight on production consoles."""
    paged = np.flatnonzero(on_call_on(org, day) & _free(hn, org, day) & (rng.random(org.size) < PAGED_CHANCE))
    user, session = _session(paged, ON_CALL_EVENTS, rng)
    hours = rng.uniform(0.0, 4.5, len(paged))[session] + rng.uniform(0.0, 0.5, len(user))
    names = list(PRODUCTION_RESOURCES)
    weights = np.array([PRODUCTION_RESOURCES[r] for r in names])
    resource = np.array([cat.resource_index(r) for r in names])[
        np.searchsorted(np.cumsum(weights) / weights.sum(), rng.random(len(user)))]
    return _at_home(org, hn, day, user, hours, resource, rng, ev.ON_CALL)


def month_end_reports(org, hn, day, rng) -> ev.EventArrays:
    """Finance closing the books: large exports within their shift."""
    if not closing_days(day):
        return ev.EventArrays.empty()
    finance = org.department == cat.DEPARTMENT_NAMES.index("finance")
    weekday = date.fromordinal(day).weekday()
    closing = np.flatnonzero(finance & org.workdays[:, weekday] & _free(hn, org, day)
                             & (rng.random(org.size) < MONTH_END_CHANCE))
    user, _ = _session(closing, MONTH_END_EVENTS, rng)
    hours = org.shift_start[user] + org.shift_hours[user] * rng.uniform(0.1, 0.9, len(user))
    choices = np.array([cat.resource_index(r) for r in MONTH_END_RESOURCES])
    resource = choices[rng.integers(0, len(choices), len(user))]
    scale = rng.uniform(*MONTH_END_FACTOR, len(user))
    return _at_home(org, hn, day, user, hours, resource, rng, ev.MONTH_END, scale=scale)


def evening_work(org, hn, day, rng) -> ev.EventArrays:
    """Day workers finishing something at home in the evening."""
    weekday = date.fromordinal(day).weekday()
    who = np.flatnonzero((org.profile == cat.DAY) & org.workdays[:, weekday] & _free(hn, org, day)
                         & (rng.random(org.size) < EVENING_CHANCE))
    user, _ = _session(who, EVENING_EVENTS, rng)
    hours = rng.uniform(19.0, 23.0, len(user))
    resource = choose_per_row(org.resource_cum, user, rng.random(len(user)))
    return _at_home(org, hn, day, user, hours, resource, rng, ev.EVENING_WORK)


def cafe_wifi(org, hn, day, rng) -> ev.EventArrays:
    """Day workers on the laptop from a café or co-working space in their home town."""
    weekday = date.fromordinal(day).weekday()
    who = np.flatnonzero((org.profile == cat.DAY) & org.workdays[:, weekday] & _free(hn, org, day)
                         & (rng.random(org.size) < CAFE_CHANCE))
    place = mix(who, day, CAFE_KEY)  # one café per person and day
    user, session = _session(who, CAFE_EVENTS, rng)
    spread = place[session]
    hours = org.shift_start[user] + org.shift_hours[user] * rng.uniform(0.2, 0.8, len(user))
    resource = choose_per_row(org.resource_cum, user, rng.random(len(user)))
    city = org.home[user]
    return _arrays(user, _utc(org, day, user, hours), hn.laptop_on(org, day)[user],
                   address(city, RESIDENTIAL, spread), city, resource,
                   transfer_bytes(org, user, resource, rng), True, ev.CAFE_WIFI)


def office_egress(office: int) -> np.ndarray:
    """The NAT addresses of an office."""
    hosts = np.arange(OFFICE_EGRESS_HOSTS, dtype=np.uint64)
    return address(np.full(len(hosts), office), np.full(len(hosts), CORPORATE), hosts)


def password_rotation(org: Organisation, normal: ev.EventArrays, day: int, rotation: Rotation | None,
                      rng) -> tuple[ev.EventArrays, np.ndarray]:
    """The office's staff failing once from the office NAT on the rotation morning.

    Returns the failures and, among ``normal``, the logins that follow them (to be marked);
    those logins leave by one NAT address, as the failures do.
    """
    none = (ev.EventArrays.empty(), np.zeros(0, dtype=np.int64))
    if rotation is None or day != rotation.day or len(normal) == 0:
        return none
    local = (normal.time - day_start_seconds(day) + utc_offsets(day)[org.home[normal.user]]) / 3600.0
    morning = (local >= ROTATION_MORNING_HOURS[0]) & (local < ROTATION_MORNING_HOURS[1])
    candidates = np.flatnonzero(np.isin(normal.ip, office_egress(rotation.office)) & normal.success & morning)
    if len(candidates) == 0:
        return none
    order = candidates[np.lexsort((normal.time[candidates], normal.user[candidates]))]
    _, first = np.unique(normal.user[order], return_index=True)
    login = order[first]
    login = login[rng.random(len(login)) < ROTATION_SHARE]
    normal.ip[login] = office_egress(rotation.office)[0]  # the morning's traffic leaves by one NAT address
    failures = normal.take(login)
    failures.time = failures.time - rng.integers(20, 120, len(login))
    failures.success = np.zeros(len(login), bool)
    failures.bytes = failure_bytes(rng, len(login))
    failures.scenario = np.full(len(login), ev.PASSWORD_ROTATION, dtype=np.int64)
    return failures, login


def daily_negatives(org: Organisation, hn: HardNegatives, normal: ev.EventArrays, day: int,
                    rotation: Rotation | None, rng: np.random.Generator) -> ev.EventArrays:
    """``normal`` with the date's innocent oddities added (and the rotation's logins marked)."""
    failures, logins = password_rotation(org, normal, day, rotation, rng)
    normal.scenario[logins] = ev.PASSWORD_ROTATION
    return ev.EventArrays.concat([
        normal, failures,
        on_call_nights(org, hn, day, rng),
        month_end_reports(org, hn, day, rng),
        evening_work(org, hn, day, rng),
        cafe_wifi(org, hn, day, rng),
    ])
