"""The attacks of one day, built from its campaign schedule and its normal events.

Attacks are meant to be found by behaviour, the way an analyst would find them: relative to
the victim's own history and to their peers, never by an odd device name or address range.
Session attacks (and their combinations) live in :mod:`ztad.synth.session_attacks`,
password guessing in :mod:`ztad.synth.password_attacks`, the attackers themselves in
:mod:`ztad.synth.attackers`.
"""

from __future__ import annotations

import numpy as np

from ztad.synth import events as ev
from ztad.synth.attack_plan import AttackPlan, kind_code
from ztad.synth.attackers import DayContext, NewDevices
from ztad.synth.organisation import device_names
from ztad.synth.password_attacks import brute_force, password_spray
from ztad.synth.places import DAY_SECONDS
from ztad.synth.session_attacks import session_attacks


def attacks_of_day(ctx: DayContext, plan: AttackPlan, known_devices: np.ndarray) -> tuple[ev.EventArrays, np.ndarray]:
    """All attack events of the day and the names of the attackers' new devices.

    Device codes of new devices continue after ``known_devices``; the returned names extend
    that table.
    """
    rows = plan.on_day(ctx.day)
    devices = NewDevices(first_code=len(known_devices), kinds=[])
    kind = plan.kind[rows]
    brute = kind == kind_code("multiple_failed_logins")
    spray = kind == kind_code("password_spray")
    parts = [
        session_attacks(ctx, plan, rows[~brute & ~spray], devices),
        brute_force(ctx, plan, rows[brute], devices),
        password_spray(ctx, plan, rows[spray], devices),
    ]
    events = ev.EventArrays.concat(parts)
    events.time = np.clip(events.time, ctx.start, ctx.start + DAY_SECONDS - 1)
    kinds = np.concatenate(devices.kinds) if devices.kinds else np.zeros(0, dtype=np.int64)
    names = device_names(kinds, ctx.rng, avoid=known_devices)
    return events, names
