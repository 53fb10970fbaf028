"""When attacks happen and how big they are: the campaign schedule of a generated period.

Attacks start after the clean history. Every scored day gets an attack budget of
``attack_rate / (1 - attack_rate)`` times the normal events expected that day, so that
attacks make up ``attack_rate`` of all events. Campaigns are taken in turn from a
repeating, shuffled cycle that visits every kind (the small single-category attacks and one
combined attack first, then brute force and password spray, then the other combined attacks),
and a campaign starts on the day the running budget reaches it. Small worlds thus still see
every category, and large ones the right mix and volume. The schedule is fixed before any event is drawn, so every day can be built on
its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from ztad.synth import activity
from ztad.synth import catalogue as cat
from ztad.synth.events import ATTACK_CATEGORIES, COMBINED_ATTACKS, label_code
from ztad.synth.hard_negatives import HardNegatives
from ztad.synth.organisation import Organisation

#: Kinds of campaign; ``multiple_failed_logins+new_device`` is not one of them: it is what a
#: brute force that succeeds does next.
CAMPAIGN_KINDS: tuple[str, ...] = ATTACK_CATEGORIES + COMBINED_ATTACKS[:-1]
_SMALL = ("impossible_travel", "off_hours_login", "large_data_transfer",
          "unusual_resource_access", "new_device")
_VOLUME = ("multiple_failed_logins", "password_spray")

#: Events per session campaign: (fewest, most).
SESSION_SIZES: dict[str, tuple[int, int]] = {
    "impossible_travel": (1, 3), "off_hours_login": (1, 4), "large_data_transfer": (1, 3),
    "unusual_resource_access": (1, 4), "new_device": (2, 6),
}
COMBINED_SIZE = (2, 5)
#: Brute force: failures per campaign, chance that it ends in a login, events after that login.
BRUTE_FORCE_FAILURES = (8, 20)
BRUTE_FORCE_SUCCESS = 0.35
BRUTE_FORCE_FOLLOW_UPS = (0, 3)
#: Password spray: share of the staff tried (bounded), second tries, chance of one hit.
SPRAY_SHARE = (0.05, 0.25)
SPRAY_TARGETS = (8, 60)
SPRAY_SECOND_TRY = 0.3
SPRAY_SUCCESS = 0.25


@dataclass(frozen=True)
class AttackPlan:
    """One row per campaign: day ordinal, kind (position in :data:`CAMPAIGN_KINDS`), number of
    events, ``primary`` (failures of a brute force, accounts tried by a spray) and whether the
    brute force or spray gets in."""

    day: np.ndarray
    kind: np.ndarray
    size: np.ndarray
    primary: np.ndarray
    success: np.ndarray

    def __len__(self) -> int:
        return len(self.day)

    def on_day(self, day: int) -> np.ndarray:
        """Positions of the campaigns of ``day``."""
        return np.flatnonzero(self.day == day)


def kind_code(kind: str) -> int:
    """Position of a campaign kind in :data:`CAMPAIGN_KINDS`."""
    return CAMPAIGN_KINDS.index(kind)


def expected_normal_events(org: Organisation, hn: HardNegatives, day: int) -> float:
    """Mean number of normal events on ``day``, from the same rates the activity draws with."""
    weekday = date.fromordinal(day).weekday()
    employed = hn.start_day <= day
    nominal = org.workdays[:, weekday] & employed
    working = (nominal * org.daily_rate).sum() * cat.WEEKDAY_SEASONALITY[weekday] * (1 - activity.ABSENCE_CHANCE)
    days_off = ((employed & ~nominal) * org.offday_chance).sum() * 2.0
    failures = activity.TYPO_CHANCE * (1 + activity.SECOND_TYPO_CHANCE) + activity.FORGOTTEN_CHANCE * 4
    return float((working + days_off) * (1 + failures))


def _cycle(rng: np.random.Generator, cycles: int) -> np.ndarray:
    """Campaign kinds for ``cycles`` rounds, each round every kind once.

    A round opens with the small single-category attacks and one combined attack (shuffled),
    goes on with brute force and spray, and ends with the other combined attacks, so that even
    a small budget sees every category and a combination.
    """
    small = np.array([kind_code(k) for k in _SMALL])
    volume = np.array([kind_code(k) for k in _VOLUME])
    combined = np.array([kind_code(k) for k in CAMPAIGN_KINDS if "+" in k])
    combined = np.take_along_axis(
        np.broadcast_to(combined, (cycles, len(combined))),
        np.argsort(rng.random((cycles, len(combined))), axis=1), axis=1,
    )
    opening = np.concatenate([np.broadcast_to(small, (cycles, len(small))), combined[:, :1]], axis=1)
    rounds = [_shuffled_rows(opening, rng), _shuffled_rows(np.broadcast_to(volume, (cycles, len(volume))), rng),
              combined[:, 1:]]
    return np.concatenate(rounds, axis=1).ravel()


def _shuffled_rows(table: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each row of ``table`` in its own random order."""
    return np.take_along_axis(table, np.argsort(rng.random(table.shape), axis=1), axis=1)


def _sizes(kind: np.ndarray, staff: int, rng: np.random.Generator):
    n = len(kind)
    low = np.full(n, COMBINED_SIZE[0])
    high = np.full(n, COMBINED_SIZE[1])
    for name, (a, b) in SESSION_SIZES.items():
        low[kind == kind_code(name)], high[kind == kind_code(name)] = a, b
    size = rng.integers(low, high + 1)
    primary = np.zeros(n, dtype=np.int64)
    success = np.zeros(n, bool)

    brute = kind == kind_code("multiple_failed_logins")
    failures = rng.integers(BRUTE_FORCE_FAILURES[0], BRUTE_FORCE_FAILURES[1] + 1, n)
    gets_in = rng.random(n) < BRUTE_FORCE_SUCCESS
    after = rng.integers(BRUTE_FORCE_FOLLOW_UPS[0], BRUTE_FORCE_FOLLOW_UPS[1] + 1, n)
    primary[brute] = failures[brute]
    success[brute] = gets_in[brute]
    size[brute] = (failures + gets_in * (1 + after))[brute]

    spray = kind == kind_code("password_spray")
    targets = np.clip(np.round(staff * rng.uniform(*SPRAY_SHARE, n)), *SPRAY_TARGETS)
    targets = np.minimum(targets, staff).astype(np.int64)
    primary[spray] = targets[spray]
    success[spray] = rng.random(n)[spray] < SPRAY_SUCCESS
    size[spray] = (targets + rng.binomial(targets, SPRAY_SECOND_TRY))[spray]
    return size.astype(np.int64), primary, success


def plan_attacks(
    org: Organisation,
    hn: HardNegatives,
    rng: np.random.Generator,
    *,
    first_day: int,
    days: int,
    clean_days: int,
    attack_rate: float,
) -> AttackPlan:
    """Schedule the campaigns of the period (none during the first ``clean_days`` days)."""
    scored = np.arange(first_day + clean_days, first_day + days)
    share = attack_rate / (1.0 - attack_rate)
    budget = np.cumsum([share * expected_normal_events(org, hn, int(d)) for d in scored])
    empty = AttackPlan(*(np.zeros(0, dtype=np.int64) for _ in range(4)), success=np.zeros(0, bool))
    if len(scored) == 0 or budget[-1] <= 0:
        return empty
    kinds = _cycle(rng, cycles=1)
    while True:  # draw rounds until the whole budget is covered (doubling: a few passes)
        size, primary, success = _sizes(kinds, org.size, rng)
        spent_before = np.cumsum(size) - size
        if spent_before[-1] >= budget[-1]:
            break
        kinds = np.concatenate([kinds, _cycle(rng, cycles=max(1, len(kinds) // 13))])
    starts = np.searchsorted(budget, spent_before, side="right")
    keep = starts < len(scored)
    return AttackPlan(day=scored[starts[keep]], kind=kinds[keep], size=size[keep],
                      primary=primary[keep], success=success[keep])


def campaign_label(kind: int) -> int:
    """The ``event_label`` code a campaign kind writes."""
    return label_code(CAMPAIGN_KINDS[kind])
