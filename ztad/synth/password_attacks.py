"""Password guessing: brute force on one account, and password spray across many.

* Brute force: one address guessing one account's password every few seconds for minutes;
  about a third get in and then use the account from the attacker's machine.
* Password spray: one address trying a password or two on many accounts within minutes;
  sometimes one guess is right.

Failed attempts look like everybody's mistyped passwords (same portals, same small
exchanges); it is their number and shape that gives them away.
"""

from __future__ import annotations

import numpy as np

from ztad.synth import events as ev
from ztad.synth.activity import failure_bytes, transfer_bytes
from ztad.synth.attack_plan import AttackPlan
from ztad.synth.attackers import (
    ELEVATED_FACTOR,
    DayContext,
    NewDevices,
    abroad_city,
    anchors,
    attacker_network,
    domestic_city,
    login_portals,
)
from ztad.synth.networks import address
from ztad.synth.places import ATTACK_ORIGINS, DAY_SECONDS
from ztad.synth.sampling import choose_per_row

#: Seconds between two guesses of a brute force, and between actions once inside.
BRUTE_FORCE_GAP = (2, 31)
INSIDE_GAP = (30, 301)
#: Share of brute forces run from abroad (the rest from elsewhere in the victim's country).
BRUTE_FORCE_ABROAD = 0.65
#: A spray's attempts spread over this many minutes.
SPRAY_WINDOW_MINUTES = (3, 12)


def _guess_timeline(sizes: np.ndarray, failures: np.ndarray, rng):
    """Per event: its campaign, its delay after the first guess, and whether it is inside the
    account (after the failures). Guesses come seconds apart; once in, the attacker takes
    minutes between actions."""
    campaign = np.repeat(np.arange(len(sizes)), sizes)
    first = np.cumsum(sizes) - sizes
    inside = np.arange(len(campaign)) - first[campaign] >= failures[campaign]
    step = np.where(inside, rng.integers(*INSIDE_GAP, len(campaign)), rng.integers(*BRUTE_FORCE_GAP, len(campaign)))
    step[first] = 0
    total = np.cumsum(step)
    return campaign, total - total[first][campaign], inside


def brute_force(ctx: DayContext, plan: AttackPlan, rows: np.ndarray, devices: NewDevices) -> ev.EventArrays:
    """One address guessing one account's password; a third of them get in and look around."""
    rng, org = ctx.rng, ctx.org
    anchor = anchors(ctx, len(rows))
    if len(anchor) == 0:
        return ev.EventArrays.empty()
    victim, n = ctx.normal.user[anchor], len(rows)
    sizes = plan.size[rows]
    campaign, delay, inside = _guess_timeline(sizes, plan.primary[rows], rng)
    span = delay[np.cumsum(sizes) - 1]
    start = ctx.start + (rng.random(n) * (DAY_SECONDS - 1 - span)).astype(np.int64)
    home = org.home[victim]
    city = np.where(rng.random(n) < BRUTE_FORCE_ABROAD, abroad_city(home, rng), domestic_city(home, rng))
    kind, spread = attacker_network(n, 0.6, rng)
    ip = address(city, kind, spread)
    device = devices.add(n, rng)
    who = victim[campaign]
    used = choose_per_row(org.resource_cum, who, rng.random(len(campaign)))
    resource = np.where(inside, used, login_portals(n, rng)[campaign])
    volume = transfer_bytes(org, who, resource, rng, scale=rng.uniform(*ELEVATED_FACTOR, len(campaign)))
    label = np.where(inside, ev.label_code("multiple_failed_logins+new_device"), ev.label_code("multiple_failed_logins"))
    return ev.EventArrays(
        user=who, time=start[campaign] + delay, device=device[campaign], ip=ip[campaign],
        city=city[campaign], resource=resource,
        bytes=np.where(inside, volume, failure_bytes(rng, len(campaign))),
        success=inside, label=label.astype(np.int64),
        scenario=np.full(len(campaign), ev.NO_SCENARIO, dtype=np.int64),
        attack=rows[campaign].astype(np.int64),
    )


def _spray_targets(staff: np.ndarray, targets: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Distinct accounts per spray: oversample, drop repeats within a spray, keep the first."""
    campaign = np.repeat(np.arange(len(targets)), targets * 3)
    user = staff[rng.integers(0, len(staff), len(campaign))]
    order = np.lexsort((rng.random(len(campaign)), campaign))
    campaign, user = campaign[order], user[order]
    _, first = np.unique(campaign * (user.max() + 1 if len(user) else 1) + user, return_index=True)
    first = np.sort(first)
    campaign, user = campaign[first], user[first]
    rank = np.arange(len(campaign)) - np.searchsorted(campaign, campaign, side="left")
    keep = rank < targets[campaign]
    return campaign[keep], user[keep]


def _spray_attempts(staff: np.ndarray, plan: AttackPlan, rows: np.ndarray, rng):
    """Campaign and account of every attempt: each account once, some a second time."""
    campaign, user = _spray_targets(staff, np.minimum(plan.primary[rows], len(staff)), rng)
    second_try = (plan.size[rows] / np.maximum(plan.primary[rows], 1) - 1)[campaign]
    again = np.flatnonzero(rng.random(len(campaign)) < second_try)
    return np.concatenate([campaign, campaign[again]]), np.concatenate([user, user[again]])


def _lucky_guesses(campaign: np.ndarray, lucky: np.ndarray) -> np.ndarray:
    """Marks one attempt (the last listed) of each spray whose guess is right."""
    success = np.zeros(len(campaign), bool)
    last = np.full(len(lucky), -1)
    last[campaign] = np.arange(len(campaign))
    success[last[lucky & (last >= 0)]] = True
    return success


def password_spray(ctx: DayContext, plan: AttackPlan, rows: np.ndarray, devices: NewDevices) -> ev.EventArrays:
    """One address trying a password or two on many accounts within minutes."""
    rng, n = ctx.rng, len(rows)
    staff = np.flatnonzero(ctx.hn.start_day <= ctx.day)
    if len(staff) < 2 or n == 0:
        return ev.EventArrays.empty()
    campaign, user = _spray_attempts(staff, plan, rows, rng)
    window = rng.integers(SPRAY_WINDOW_MINUTES[0] * 60, SPRAY_WINDOW_MINUTES[1] * 60 + 1, n)
    start = ctx.start + (rng.random(n) * (DAY_SECONDS - 1 - window)).astype(np.int64)
    time = start[campaign] + (rng.random(len(campaign)) * window[campaign]).astype(np.int64)
    city = ATTACK_ORIGINS[rng.integers(0, len(ATTACK_ORIGINS), n)]
    kind, spread = attacker_network(n, 0.7, rng)
    ip = address(city, kind, spread)
    device = devices.add(n, rng)
    resource = login_portals(n, rng)[campaign]
    success = _lucky_guesses(campaign, plan.success[rows])
    volume = transfer_bytes(ctx.org, user, resource, rng)
    return ev.EventArrays(
        user=user, time=time, device=device[campaign], ip=ip[campaign], city=city[campaign],
        resource=resource, bytes=np.where(success, volume, failure_bytes(rng, len(campaign))),
        success=success, label=np.full(len(campaign), ev.label_code("password_spray"), dtype=np.int64),
        scenario=np.full(len(campaign), ev.NO_SCENARIO, dtype=np.int64),
        attack=rows[campaign].astype(np.int64),
    )
