"""Who the attackers are and whom they pick: their places, networks and machines, and victims.

Attackers use the same kinds of devices and the same address ranges as everybody else, so that
no name or prefix gives them away; they come from abroad (often from places nobody in the
organisation is ever seen at), from elsewhere in the victim's country, or through a proxy in
the victim's own city. Victims are picked through an ordinary login of theirs on the day
(an "anchor"), which also ties attacks such as impossible travel to the victim's real movements.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ztad.synth import catalogue as cat
from ztad.synth import events as ev
from ztad.synth.hard_negatives import HardNegatives
from ztad.synth.networks import HOSTING, RESIDENTIAL
from ztad.synth.organisation import DESKTOP, LAPTOP, Organisation
from ztad.synth.places import ATTACK_ORIGINS, CITY_COUNTRIES, day_start_seconds, distance_matrix
from ztad.synth.sampling import choose_per_row, cumulative

#: An impossible-travel login is at least this far from the victim's place.
FAR_KM = 3000.0
#: An attacker inside an account moves this many times the victim's usual volume.
ELEVATED_FACTOR = (1.5, 6.0)
#: Share of new attacker machines that are laptops (the rest are desktops).
ATTACKER_LAPTOP_SHARE = 0.8


@dataclass(frozen=True)
class DayContext:
    """What the builders of one day share; ``phones`` flags the device codes of phones."""

    org: Organisation
    hn: HardNegatives
    day: int
    normal: ev.EventArrays
    rng: np.random.Generator
    phones: np.ndarray

    @property
    def start(self) -> int:
        """Unix seconds at the start of the day."""
        return day_start_seconds(self.day)


@dataclass
class NewDevices:
    """Attackers' machines of the day: their kinds, named at the end in one go."""

    first_code: int
    kinds: list

    def add(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Codes for ``count`` new machines (mostly laptops, some desktops)."""
        kinds = np.where(rng.random(count) < ATTACKER_LAPTOP_SHARE, LAPTOP, DESKTOP)
        codes = self.first_code + sum(len(k) for k in self.kinds) + np.arange(count)
        self.kinds.append(kinds)
        return codes


@lru_cache(maxsize=1)
def _origin_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per city: where an attacker far away, abroad or in the same country may come from."""
    origins = ATTACK_ORIGINS
    distance = distance_matrix()
    far = cumulative((distance[:, origins] >= FAR_KM).astype(float))
    abroad = cumulative((CITY_COUNTRIES[:, None] != CITY_COUNTRIES[origins][None, :]).astype(float))
    same_country = (CITY_COUNTRIES[:, None] == CITY_COUNTRIES[None, :]) & (distance > 50.0)
    return far, abroad, cumulative(same_country.astype(float)), same_country.any(axis=1)


def far_city(near: np.ndarray, rng) -> np.ndarray:
    """An attack origin at least :data:`FAR_KM` from each city of ``near``."""
    far, _, _, _ = _origin_tables()
    return ATTACK_ORIGINS[choose_per_row(far, near, rng.random(len(near)))]


def abroad_city(home: np.ndarray, rng) -> np.ndarray:
    """An attack origin in another country than each city of ``home``."""
    _, abroad, _, _ = _origin_tables()
    return ATTACK_ORIGINS[choose_per_row(abroad, home, rng.random(len(home)))]


def domestic_city(home: np.ndarray, rng) -> np.ndarray:
    """Another city of the same country, or a city abroad where the country has no other."""
    _, _, domestic, has_domestic = _origin_tables()
    other = choose_per_row(domestic, home, rng.random(len(home)))
    return np.where(has_domestic[home], other, abroad_city(home, rng))


def attacker_network(count: int, hosting_share: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Network kind (hosting or home broadband behind a proxy) and a fresh address pick."""
    kind = np.where(rng.random(count) < hosting_share, HOSTING, RESIDENTIAL)
    return kind, rng.integers(0, 1 << 62, count).astype(np.uint64)


def anchors(ctx: DayContext, count: int) -> np.ndarray:
    """Ordinary successful events of the day on a computer, to hang attacks on (their user is
    the victim)."""
    normal = ctx.normal
    on_computer = ~ctx.phones[normal.device]
    eligible = np.flatnonzero(normal.success & on_computer & (normal.scenario == ev.NO_SCENARIO)
                              & (normal.label == ev.NORMAL))
    if len(eligible) == 0 or count == 0:
        return np.zeros(0, dtype=np.int64)
    return ctx.rng.choice(eligible, size=count, replace=count > len(eligible))


def session_offsets(sizes: np.ndarray, gap: tuple[int, int], rng) -> tuple[np.ndarray, np.ndarray]:
    """Per event: its campaign and its delay after the campaign's first event."""
    campaign = np.repeat(np.arange(len(sizes)), sizes)
    first = np.cumsum(sizes) - sizes
    step = rng.integers(gap[0], gap[1] + 1, len(campaign))
    step[first] = 0
    total = np.cumsum(step)
    return campaign, total - total[first][campaign]


def login_portals(count: int, rng: np.random.Generator) -> np.ndarray:
    """A login portal (mail or VPN) per password-guessing campaign."""
    portals = np.array([cat.resource_index(r) for r in cat.LOGIN_PORTALS])
    return portals[rng.integers(0, len(portals), count)]
