"""Ordinary work: every user's normal events for one local calendar date.

A user works on their workdays (a few are missed: leave, sickness), at an intensity that
follows the weekday, inside their shift in their own time zone, with the occasional
late evening; on days off a few people check mail. Each working day is spent at the office or
at home; the laptop and the desktop connect through the office egress or the home line (or
the VPN, for VPN users at home), the phone through the mobile carrier. Some logins start with
a mistyped password, and now and then someone forgets theirs and fails several times.
Travellers follow their trip: never seen while flying, at the destination in between.

Everything is drawn for all users at once; there is no loop over users or events.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from ztad.synth import catalogue as cat
from ztad.synth import events as ev
from ztad.synth.hard_negatives import NEW_EMPLOYEE_DAYS, NEW_LAPTOP_DAYS, HardNegatives
from ztad.synth.networks import CORPORATE, HOSTING, MOBILE, RESIDENTIAL, address, mix
from ztad.synth.organisation import DESKTOP, LAPTOP, PHONE, Organisation
from ztad.synth.places import OFFICES, day_start_seconds, utc_offsets
from ztad.synth.sampling import choose_per_row

ABSENCE_CHANCE = 0.04
OVERTIME_CHANCE = 0.05
#: A mistyped password before a login, and a second one after the first.
TYPO_CHANCE = 0.015
SECOND_TYPO_CHANCE = 0.15
#: A forgotten password: three to five failures before the login that finally works.
FORGOTTEN_CHANCE = 0.0005
#: What people do on their phones: mostly mail and chat.
PHONE_EMAIL_SHARE, PHONE_CHAT_SHARE = 0.55, 0.20
#: New staff spend part of their first days on the HR portal and the wiki.
ONBOARDING_DAYS, ONBOARDING_SHARE = 3, 0.25
#: Events on a renewed home line are marked ``new_home_ip`` for this many days.
NEW_HOME_IP_DAYS = 2
#: Typical size of a failed login exchange, in bytes.
FAILURE_MEDIAN_BYTES = 1200.0

#: Keys that keep the hashed addresses of different purposes apart.
HOME_LINE_KEY, MOBILE_DAY_KEY, VPN_DAY_KEY, HOTEL_DAY_KEY = 11, 12, 13, 14


def failure_bytes(rng: np.random.Generator, count: int) -> np.ndarray:
    """Bytes of failed login exchanges: small, and the same for users and attackers."""
    return np.maximum(rng.lognormal(np.log(FAILURE_MEDIAN_BYTES), 0.35, count), 200).astype(np.int64)


def transfer_bytes(org: Organisation, users, resources, rng: np.random.Generator, scale=1.0) -> np.ndarray:
    """Bytes of successful accesses: log-normal around the resource's median, per user."""
    median = cat.RESOURCE_MEDIAN_BYTES[resources] * org.bytes_factor[users] * scale
    noise = rng.standard_normal(len(resources)) * cat.RESOURCE_SIGMA[resources]
    return np.maximum(median * np.exp(noise), 64).astype(np.int64)


def home_line_spread(org: Organisation, users: np.ndarray, day: int) -> np.ndarray:
    """Hash that picks each user's home broadband address, renewed every few weeks."""
    epoch = (day + org.home_ip_phase[users]) // org.home_ip_period[users]
    return mix(users, epoch, HOME_LINE_KEY)


def _event_counts(org, hn, day, rng):
    weekday = date.fromordinal(day).weekday()
    employed = hn.start_day <= day
    nominal = org.workdays[:, weekday] & employed
    working = nominal & (rng.random(org.size) >= ABSENCE_CHANCE)
    checking_in = employed & ~nominal & (rng.random(org.size) < org.offday_chance)
    count = rng.poisson(np.where(working, org.daily_rate * cat.WEEKDAY_SEASONALITY[weekday], 0.0))
    count = np.where(checking_in, 1 + rng.poisson(1.0, org.size), count)
    return working, count


def _local_hours(org, working, user, rng):
    """Hour of each event in local time (may exceed 24 for shifts that run past midnight)."""
    m = len(user)
    start, length = org.shift_start[user], org.shift_hours[user]
    hour = start + length * rng.beta(1.6, 1.6, m)
    late = rng.random(m) < OVERTIME_CHANCE
    hour = np.where(late, start + length + np.minimum(rng.exponential(1.0, m), 4.0), hour)
    return np.where(working[user], hour, rng.uniform(9.0, 22.0, m))


def _trip_today(hn: HardNegatives, org: Organisation, day: int):
    """Per user: the trip touching ``day`` (or -1), whether they are away all day, and the
    city whose clock they keep (the destination while away)."""
    trip = hn.trips.on_day(day, org.size)
    safe = np.maximum(trip, 0)
    away = (trip >= 0) & (day > hn.trips.depart_day[safe]) & (day <= hn.trips.return_day[safe])
    return trip, away, np.where(away, hn.trips.destination[safe], org.home)


def _devices_used(org, hn, day, user, office_here, rng):
    """Device slot and device code of each event; the desktop stays at the office."""
    slot = choose_per_row(org.device_cum, user, rng.random(len(user)))
    slot = np.where((slot == DESKTOP) & ~office_here, LAPTOP, slot)
    laptop = hn.laptop_on(org, day)[user]
    return slot, np.where(slot == LAPTOP, laptop, org.device[user, slot]), laptop


def _resources_used(org, hn, day, user, slot, rng):
    """Application of each event: the user's own mix, mail and chat on phones, onboarding."""
    m = len(user)
    resource = choose_per_row(org.resource_cum, user, rng.random(m))
    on_phone = np.where(slot == PHONE, rng.random(m), 1.0)
    resource = np.where(on_phone < PHONE_EMAIL_SHARE, cat.resource_index("email"), resource)
    chat = (on_phone >= PHONE_EMAIL_SHARE) & (on_phone < PHONE_EMAIL_SHARE + PHONE_CHAT_SHARE)
    resource = np.where(chat, cat.resource_index("chat"), resource)
    onboarding = hn.joined_mid_period[user] & (day - hn.start_day[user] < ONBOARDING_DAYS)
    onboarding &= rng.random(m) < ONBOARDING_SHARE
    welcome = np.array([cat.resource_index("hr-portal"), cat.resource_index("wiki")])
    return np.where(onboarding, welcome[rng.integers(0, 2, m)], resource)


def _networks_used(org, hn, day, user, slot, office_here, rng):
    """City, network kind and address pick of each event.

    Phones use the mobile carrier; computers the office egress at the office, and the home
    line (or the VPN, for VPN users) elsewhere.
    """
    vpn = (hn.vpn_egress[user] >= 0) & ~office_here & (slot != PHONE)
    city = np.where(vpn, hn.vpn_egress[user], np.where(office_here, org.office[user], org.home[user]))
    kind = np.where(slot == PHONE, MOBILE, np.where(office_here, CORPORATE, RESIDENTIAL))
    kind = np.where(vpn, HOSTING, kind)
    spread = np.select(
        [kind == RESIDENTIAL, kind == MOBILE, kind == HOSTING],
        [home_line_spread(org, user, day), mix(user, day, MOBILE_DAY_KEY), mix(user, day, VPN_DAY_KEY)],
        rng.integers(0, 1 << 62, len(user)).astype(np.uint64),
    )
    return city, kind, spread


def _base_events(org: Organisation, hn: HardNegatives, day: int, rng) -> dict[str, np.ndarray]:
    """Successful events with their time, device, resource, bytes and planned network."""
    trip, away, clock_city = _trip_today(hn, org, day)
    working, count = _event_counts(org, hn, day, rng)
    at_office = working & ~org.remote & ~away & (rng.random(org.size) >= org.home_share)
    user = np.repeat(np.arange(org.size), count)
    seconds = (_local_hours(org, working, user, rng) * 3600.0).astype(np.int64)
    time = day_start_seconds(day) + seconds - utc_offsets(day)[clock_city[user]]
    office_here = at_office[user]
    slot, device, laptop = _devices_used(org, hn, day, user, office_here, rng)
    resource = _resources_used(org, hn, day, user, slot, rng)
    city, kind, spread = _networks_used(org, hn, day, user, slot, office_here, rng)
    return {
        "user": user, "time": time, "device": device, "slot": slot, "resource": resource,
        "bytes": transfer_bytes(org, user, resource, rng), "success": np.ones(len(user), bool),
        "city": city, "kind": kind, "spread": spread, "trip": trip[user],
        "home_day": ~office_here, "laptop": laptop,
    }


def _with_failed_attempts(events: dict[str, np.ndarray], rng) -> dict[str, np.ndarray]:
    """Add mistyped and forgotten passwords: failures shortly before some logins."""
    m = len(events["time"])
    typo = np.flatnonzero(rng.random(m) < TYPO_CHANCE)
    second = typo[rng.random(len(typo)) < SECOND_TYPO_CHANCE]
    forgotten = np.flatnonzero(rng.random(m) < FORGOTTEN_CHANCE)
    repeats = rng.integers(3, 6, len(forgotten))
    rank = np.arange(repeats.sum()) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    source = np.concatenate([typo, second, np.repeat(forgotten, repeats)])
    before = np.concatenate([
        rng.integers(4, 46, len(typo)),
        rng.integers(50, 121, len(second)),
        (rank + 1) * rng.integers(20, 61, len(rank)),
    ])
    failures = {k: v[source] for k, v in events.items()}
    failures["time"] = failures["time"] - before
    failures["success"] = np.zeros(len(source), bool)
    failures["bytes"] = failure_bytes(rng, len(source))
    return {k: np.concatenate([events[k], failures[k]]) for k in events}


def _follow_trips(events: dict[str, np.ndarray], hn: HardNegatives, day: int) -> dict[str, np.ndarray]:
    """Drop what would happen in flight; put what happens at the destination there."""
    trips = hn.trips
    trip = events["trip"]
    safe = np.maximum(trip, 0)
    t = events["time"]
    travelling = trip >= 0
    flying = travelling & (((t >= trips.leave[safe]) & (t < trips.arrive[safe]))
                           | ((t >= trips.leave_back[safe]) & (t < trips.back[safe])))
    there = travelling & (t >= trips.arrive[safe]) & (t < trips.leave_back[safe])
    destination = trips.destination[safe]
    dest_office = np.isin(destination, OFFICES)
    phone = events["slot"] == PHONE
    events = dict(events)
    events["device"] = np.where(there & (events["slot"] == DESKTOP), events["laptop"], events["device"])
    events["city"] = np.where(there, destination, events["city"])
    events["kind"] = np.where(there, np.where(phone, MOBILE, np.where(dest_office, CORPORATE, RESIDENTIAL)),
                              events["kind"])
    hotel = mix(events["user"], day, HOTEL_DAY_KEY)
    events["spread"] = np.where(there & ~phone, hotel, events["spread"])
    return {k: v[~flying] for k, v in events.items()}


def _scenarios(events: dict[str, np.ndarray], org: Organisation, hn: HardNegatives, day: int) -> np.ndarray:
    user = events["user"]
    scenario = np.full(len(user), ev.NO_SCENARIO, dtype=np.int64)
    # The first two days on a renewed home line (a new address from the provider).
    renewed = (day + org.home_ip_phase[user]) % org.home_ip_period[user] < NEW_HOME_IP_DAYS
    scenario[renewed & (events["kind"] == RESIDENTIAL) & events["home_day"] & (events["trip"] < 0)] = ev.NEW_HOME_IP
    fresh_laptop = (events["device"] == hn.new_laptop[user]) & (day - hn.laptop_switch_day[user] < NEW_LAPTOP_DAYS)
    scenario[fresh_laptop] = ev.NEW_LAPTOP
    joined = hn.joined_mid_period[user] & (day - hn.start_day[user] < NEW_EMPLOYEE_DAYS)
    scenario[joined] = ev.NEW_EMPLOYEE
    scenario[(hn.vpn_egress[user] >= 0) & events["home_day"]] = ev.VPN
    trip = events["trip"]
    scenario[(trip >= 0) & (day >= hn.trips.depart_day[np.maximum(trip, 0)])] = ev.BUSINESS_TRAVEL
    return scenario


def normal_events(org: Organisation, hn: HardNegatives, day: int, rng: np.random.Generator) -> ev.EventArrays:
    """All normal events of the local calendar date with ordinal ``day``, in no particular order.

    Times are UTC and may fall on the previous or next UTC day (time zones, night shifts).
    """
    events = _follow_trips(_with_failed_attempts(_base_events(org, hn, day, rng), rng), hn, day)
    return ev.EventArrays(
        user=events["user"],
        time=events["time"],
        device=events["device"],
        ip=address(events["city"], events["kind"], events["spread"]),
        city=events["city"],
        resource=events["resource"],
        bytes=events["bytes"],
        success=events["success"],
        label=np.full(len(events["user"]), ev.NORMAL, dtype=np.int64),
        scenario=_scenarios(events, org, hn, day),
        attack=np.full(len(events["user"]), ev.NO_ATTACK, dtype=np.int64),
    )
