"""A generated world, and its events day by day, without any I/O.

:func:`build_world` draws everything that spans the period once: the organisation, the hard
negatives and the attack schedule. The events of a UTC day are then a pure function of the
world and the day: the normal activity of the local dates that overlap it (the day before,
the day itself and the day after, since staff live in many time zones), cut to the day, plus
the day's attacks. Every local date and every day draws from its own random stream derived
from the seed, so a day comes out the same whether it is generated alone or within a range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterator

import numpy as np
import pandas as pd

from ztad.synth.activity import normal_events
from ztad.synth.attack_plan import AttackPlan, plan_attacks
from ztad.synth.attackers import DayContext
from ztad.synth.attacks import attacks_of_day
from ztad.synth.daily_negatives import Rotation, daily_negatives, pick_rotation
from ztad.synth.events import EventArrays
from ztad.synth.hard_negatives import HardNegatives, build_hard_negatives
from ztad.synth.organisation import PHONE, Organisation, build_organisation
from ztad.synth.places import DAY_SECONDS, day_start_seconds
from ztad.synth.table import to_frame

# Random streams, kept apart so that adding draws to one never shifts another.
_ORGANISATION, _HARD_NEGATIVES, _PLAN, _ACTIVITY, _ATTACKS, _DAILY_NEGATIVES = range(1, 7)
#: Local dates whose events can fall on a UTC day: its eve, itself and its morrow.
LOCAL_DATES_AROUND = (-1, 0, 1)
MIN_USERS = 10


class GeneratorSettingsError(ValueError):
    """A generation setting is out of range; the message names it and says what is allowed."""


@dataclass(frozen=True)
class GeneratorSettings:
    """What to generate.

    Parameters
    ----------
    start
        First UTC day.
    days
        Number of days.
    users
        Number of staff; the new employees among them only appear during the period.
    seed
        Seed of every random draw: one seed, one data set.
    attack_rate
        Share of attack events among all events of the scored days.
    clean_days
        Days at the start without any attack (the clean history baselines learn from).
    """

    start: date
    days: int
    users: int
    seed: int = 7
    attack_rate: float = 0.01
    clean_days: int = 14

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime):  # a day is meant; keep its date
            object.__setattr__(self, "start", self.start.date())
        if not isinstance(self.start, date):
            raise GeneratorSettingsError(f"start must be a date, got {self.start!r}")
        if self.days < 1:
            raise GeneratorSettingsError(f"days must be at least 1, got {self.days}")
        if self.users < MIN_USERS:
            raise GeneratorSettingsError(
                f"users must be at least {MIN_USERS} (a password spray needs accounts to spray), got {self.users}"
            )
        if self.seed < 0:
            raise GeneratorSettingsError(f"seed must be a non-negative integer, got {self.seed}")
        if not 0.0 <= self.attack_rate < 0.5:
            raise GeneratorSettingsError(f"attack_rate must be in [0, 0.5), got {self.attack_rate}")
        if self.clean_days < 0:
            raise GeneratorSettingsError(f"clean_days must be 0 or more, got {self.clean_days}")

    @property
    def first_day(self) -> int:
        """Ordinal of the first day."""
        return self.start.toordinal()

    @property
    def dates(self) -> list[date]:
        """Every day of the period."""
        return [self.start + timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class World:
    """Everything that spans the period; days are built from it.

    ``device_names`` holds the staff's devices (new laptops included), ``phones`` flags
    which of them are phones and ``rotation`` is the period's password rotation.
    """

    settings: GeneratorSettings
    org: Organisation
    hard_negatives: HardNegatives
    plan: AttackPlan
    device_names: np.ndarray
    phones: np.ndarray
    rotation: Rotation | None = None

    def rng(self, stream: int, day: int = 0) -> np.random.Generator:
        """The random stream ``stream`` of day ordinal ``day``, derived from the seed."""
        return np.random.default_rng([self.settings.seed, stream, day])


def build_world(settings: GeneratorSettings) -> World:
    """Draw the organisation, the hard negatives and the attack schedule of ``settings``."""
    seed = settings.seed
    org = build_organisation(settings.users, np.random.default_rng([seed, _ORGANISATION]))
    hn = build_hard_negatives(
        org, np.random.default_rng([seed, _HARD_NEGATIVES]),
        first_day=settings.first_day, days=settings.days, clean_days=settings.clean_days,
    )
    plan = plan_attacks(
        org, hn, np.random.default_rng([seed, _PLAN]), first_day=settings.first_day,
        days=settings.days, clean_days=settings.clean_days, attack_rate=settings.attack_rate,
    )
    names = np.concatenate([org.device_names, hn.device_names])
    phones = np.zeros(len(names), bool)
    phones[org.device[:, PHONE][org.device[:, PHONE] >= 0]] = True
    rotation = pick_rotation(org, settings.first_day, settings.days, settings.clean_days)
    return World(settings=settings, org=org, hard_negatives=hn, plan=plan, device_names=names, phones=phones,
                 rotation=rotation)


def local_date_events(world: World, local_day: int) -> EventArrays:
    """Normal events of one local calendar date (ordinal), for every user: ordinary work and
    the date's innocent oddities (:mod:`ztad.synth.daily_negatives`)."""
    ordinary = normal_events(world.org, world.hard_negatives, local_day, world.rng(_ACTIVITY, local_day))
    return daily_negatives(world.org, world.hard_negatives, ordinary, local_day, world.rotation,
                           world.rng(_DAILY_NEGATIVES, local_day))


def day_arrays(world: World, day: int, local: dict[int, EventArrays] | None = None) -> tuple[EventArrays, np.ndarray]:
    """Events of the UTC day with ordinal ``day``, in time order, and the day's device names.

    ``local`` caches the events of local dates, so that a run over consecutive days draws
    each local date once; it is filled as needed.
    """
    local = {} if local is None else local
    normal = _normal_of_day(world, day, local)
    ctx = DayContext(world.org, world.hard_negatives, day, normal, world.rng(_ATTACKS, day), world.phones)
    attacks, attacker_devices = attacks_of_day(ctx, world.plan, world.device_names)
    events = EventArrays.concat([normal, attacks])
    del ctx, normal, attacks  # a large day is held once more at most while it is sorted
    events.sort_by_time()
    return events, np.concatenate([world.device_names, attacker_devices])


def _normal_of_day(world: World, day: int, local: dict[int, EventArrays]) -> EventArrays:
    """The normal events of the local dates around ``day`` that fall on it (``local`` caches
    the local dates' events)."""
    start = day_start_seconds(day)
    parts = []
    for offset in LOCAL_DATES_AROUND:
        if day + offset not in local:
            local[day + offset] = local_date_events(world, day + offset)
        events = local[day + offset]
        parts.append(events.take((events.time >= start) & (events.time < start + DAY_SECONDS)))
    return EventArrays.concat(parts)


def day_frame(world: World, day: date, local: dict[int, EventArrays] | None = None) -> pd.DataFrame:
    """Events of one UTC day as a DataFrame (see :func:`ztad.synth.table.to_frame`)."""
    events, names = day_arrays(world, day.toordinal(), local)
    return to_frame(events, world.org, names)


def iter_day_frames(world: World) -> Iterator[tuple[date, pd.DataFrame]]:
    """Each day of the period with its events, drawing every local date only once."""
    local: dict[int, EventArrays] = {}
    for day in world.settings.dates:
        ordinal = day.toordinal()
        yield day, day_frame(world, day, local)
        for stale in [d for d in local if d < ordinal]:
            del local[stale]


def iter_day_chunks(world: World, chunk_rows: int) -> Iterator[tuple[date, pd.DataFrame]]:
    """Each day of the period as consecutive frames of at most ``chunk_rows`` events (at least
    one frame a day, empty for a day without events).

    A day's events are drawn whole, as integer codes (:func:`day_arrays`, tens of bytes an
    event); only their text form (:func:`ztad.synth.table.to_frame`), many times larger, is
    built a chunk at a time. The chunks of a day, stacked, are :func:`day_frame` of that day.
    """
    if chunk_rows < 1:
        raise GeneratorSettingsError(f"chunk_rows must be at least 1, got {chunk_rows}")
    return _day_chunks(world, chunk_rows)


def _day_chunks(world: World, chunk_rows: int) -> Iterator[tuple[date, pd.DataFrame]]:
    local: dict[int, EventArrays] = {}
    for day in world.settings.dates:
        ordinal = day.toordinal()
        events, names = day_arrays(world, ordinal, local)
        for stale in [d for d in local if d < ordinal]:
            del local[stale]
        for first in range(0, max(len(events), 1), chunk_rows):
            yield day, to_frame(events.take(slice(first, first + chunk_rows)), world.org, names)


def generate_events(
    *, start: date, days: int, users: int, seed: int = 7, attack_rate: float = 0.01, clean_days: int = 14
) -> pd.DataFrame:
    """All events of a generated period as one DataFrame, in time order (no I/O).

    Days have different device and address tables, so text columns are pandas ``string``
    columns here rather than the categoricals of :func:`day_frame`.
    """
    world = build_world(GeneratorSettings(start, days, users, seed, attack_rate, clean_days))
    frames = [frame for _, frame in iter_day_frames(world)]
    return concat_frames(frames)


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack day frames, with every categorical column as a pandas ``string`` column."""
    if not frames:
        raise GeneratorSettingsError("no days to stack")
    stacked = pd.concat(frames, ignore_index=True)
    text = [c for c in stacked.columns if isinstance(stacked[c].dtype, pd.CategoricalDtype) or stacked[c].dtype == object]
    return stacked.astype({c: "string" for c in text})
