"""Innocent events that look suspicious: the schedule of hard negatives over the period.

Four kinds, all labelled ``normal`` and marked in ``scenario`` so that evaluation can count
the false alarms they cause:

``business_travel``
    A trip to another city: the traveller leaves at a local morning hour, is seen at the
    destination only after the flight (distance at 800 km/h plus airport time), works there in
    local time for a few days and flies back the same way.
``vpn``
    Staff who work from home through a VPN whose egress is a hosting centre in another city
    (always the same one); on their home days laptop traffic comes from there while their
    phone still comes from home, which looks like instant travel.
``new_employee``
    People who join during the period, with no history at all; their first weeks are marked.
``new_laptop``
    A replacement laptop: a device never seen before, from the usual places and addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ztad.synth import catalogue as cat
from ztad.synth.organisation import LAPTOP, Organisation, device_names
from ztad.synth.places import (
    TRAVEL_DESTINATIONS,
    VPN_EGRESS,
    day_start_seconds,
    distance_matrix,
    flight_seconds,
    offsets_at,
)
from ztad.synth.sampling import choose_per_row, cumulative

VPN_SHARE = 0.05
NEW_EMPLOYEE_SHARE = 0.04
NEW_LAPTOP_SHARE = 0.04
#: Days after joining (or after a laptop swap) during which events are marked.
NEW_EMPLOYEE_DAYS = 14
NEW_LAPTOP_DAYS = 7
#: Trips are drawn per window of this many days: at most one trip per person per window.
TRIP_WINDOW_DAYS = 21
#: Chance of a trip per window, by department (sales and executives travel most).
TRIP_CHANCE: dict[str, float] = {
    "sales": 0.45, "executive": 0.55, "legal": 0.15, "marketing": 0.15, "finance": 0.08,
    "engineering": 0.07, "it": 0.06, "hr": 0.06, "support": 0.03,
}
#: Nobody flies to a place closer than this; they would take the train.
MIN_TRIP_KM = 500.0
NEVER = np.iinfo(np.int64).max // 4
#: Existing staff joined long before the period (so that they are at work on its eve too).
EMPLOYED_LONG_BEFORE = 3650


@dataclass(frozen=True)
class Trips:
    """Business trips, one row each; days are ordinals and times Unix seconds (UTC)."""

    user: np.ndarray
    depart_day: np.ndarray
    return_day: np.ndarray
    destination: np.ndarray
    leave: np.ndarray
    arrive: np.ndarray
    leave_back: np.ndarray
    back: np.ndarray

    def __len__(self) -> int:
        return len(self.user)

    def on_day(self, day: int, users: int) -> np.ndarray:
        """Per user, the trip that touches ``day`` (from the eve of departure to the day after
        return), or -1. Trips of one person never overlap, so there is at most one."""
        index = np.full(users, -1, dtype=np.int64)
        touching = np.flatnonzero((self.depart_day - 1 <= day) & (day <= self.return_day + 1))
        index[self.user[touching]] = touching
        return index


@dataclass(frozen=True)
class HardNegatives:
    """Who is a hard negative, and when. Days are ordinals.

    ``start_day`` is when each user joins (long before the period for existing staff);
    ``vpn_egress`` is the VPN city of VPN users (-1 for others); ``new_laptop`` is the device
    code of a replacement laptop used from ``laptop_switch_day`` on (-1 / far future if none).
    """

    start_day: np.ndarray
    joined_mid_period: np.ndarray
    vpn_egress: np.ndarray
    new_laptop: np.ndarray
    laptop_switch_day: np.ndarray
    trips: Trips
    device_names: np.ndarray

    def laptop_on(self, org: Organisation, day: int) -> np.ndarray:
        """Each user's laptop device code on ``day`` (the replacement once it has arrived)."""
        return np.where(day >= self.laptop_switch_day, self.new_laptop, org.device[:, LAPTOP])


def _distinct_groups(users: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint sets of VPN users, new employees and laptop replacements (one of each at least)."""
    sizes = [max(1, round(share * users)) for share in (VPN_SHARE, NEW_EMPLOYEE_SHARE, NEW_LAPTOP_SHARE)]
    order = rng.permutation(users)
    bounds = np.cumsum([0] + sizes)
    return tuple(np.sort(order[bounds[i]:bounds[i + 1]]) for i in range(3))


def _day_in(rng, low: int, high: int, size: int) -> np.ndarray:
    """Day ordinals drawn uniformly in [low, high] (``high`` raised to ``low`` if below it)."""
    return rng.integers(low, max(low, high) + 1, size=size)


def _vpn_egress(org: Organisation, vpn_users: np.ndarray, rng) -> np.ndarray:
    egress = np.full(org.size, -1, dtype=np.int64)
    far_enough = distance_matrix()[org.home[vpn_users][:, None], VPN_EGRESS[None, :]] > MIN_TRIP_KM
    pick = choose_per_row(cumulative(far_enough.astype(float)), np.arange(len(vpn_users)),
                          rng.random(len(vpn_users)))
    egress[vpn_users] = VPN_EGRESS[pick]
    return egress


def _destination_table() -> np.ndarray:
    """``(cities, destinations)`` cumulative choice of trip destination by home city.

    Offices weigh twice as much as other destinations: most trips are to colleagues.
    """
    weights = np.ones(len(TRAVEL_DESTINATIONS))
    weights[:10] = 2.0
    far = distance_matrix()[:, TRAVEL_DESTINATIONS] >= MIN_TRIP_KM
    return cumulative(far * weights[None, :])


def _trips(org: Organisation, eligible: np.ndarray, first_day: int, days: int, rng) -> Trips:
    chance = np.array([TRIP_CHANCE[d] for d in cat.DEPARTMENT_NAMES])[org.department]
    windows = np.arange(first_day, first_day + days, TRIP_WINDOW_DAYS)
    travels = (rng.random((org.size, len(windows))) < chance[:, None]) & eligible[:, None]
    if not travels.any() and eligible.any():  # keep the scenario in even the smallest worlds
        travels[rng.choice(np.flatnonzero(eligible)), 0] = True
    user, window = np.nonzero(travels)
    nights = rng.integers(2, 6, size=len(user))
    depart = windows[window] + rng.integers(0, TRIP_WINDOW_DAYS - 7, size=len(user))
    back_day = depart + nights
    home = org.home[user]
    destination = TRAVEL_DESTINATIONS[choose_per_row(_destination_table(), home, rng.random(len(user)))]
    flight = flight_seconds(home, destination)
    leave = day_start_seconds(depart) + (rng.uniform(6.0, 15.0, len(user)) * 3600).astype(np.int64) - offsets_at(home, depart)
    arrive = leave + flight
    leave_back = day_start_seconds(back_day) + (rng.uniform(8.0, 17.0, len(user)) * 3600).astype(np.int64) \
        - offsets_at(destination, back_day)
    leave_back = np.maximum(leave_back, arrive + 86400)
    return Trips(user=user, depart_day=depart, return_day=back_day, destination=destination,
                 leave=leave, arrive=arrive, leave_back=leave_back, back=leave_back + flight)


def build_hard_negatives(
    org: Organisation, rng: np.random.Generator, *, first_day: int, days: int, clean_days: int
) -> HardNegatives:
    """Schedule the hard negatives of a period of ``days`` days starting at ordinal ``first_day``.

    Joining days and laptop swaps fall from the middle of the clean history onwards, so that
    most of them land in the days that get scored while some are already part of the history.
    """
    last_day = first_day + days - 1
    vpn_users, joiners, swappers = _distinct_groups(org.size, rng)
    start_day = np.full(org.size, first_day - EMPLOYED_LONG_BEFORE, dtype=np.int64)
    start_day[joiners] = _day_in(rng, first_day + max(2, clean_days // 2), last_day - 2, len(joiners))
    switch_day = np.full(org.size, NEVER, dtype=np.int64)
    switch_day[swappers] = _day_in(rng, first_day + max(3, clean_days // 2), last_day - 1, len(swappers))
    names = device_names(np.zeros(len(swappers), dtype=np.int64), rng, avoid=org.device_names)
    new_laptop = np.full(org.size, -1, dtype=np.int64)
    new_laptop[swappers] = len(org.device_names) + np.arange(len(swappers))
    travellers = np.ones(org.size, bool)
    travellers[np.concatenate([vpn_users, joiners, swappers])] = False
    return HardNegatives(
        start_day=start_day,
        joined_mid_period=start_day > first_day,
        vpn_egress=_vpn_egress(org, vpn_users, rng),
        new_laptop=new_laptop,
        laptop_switch_day=switch_day,
        trips=_trips(org, travellers, first_day, days, rng),
        device_names=names,
    )
