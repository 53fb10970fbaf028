"""A small generated world shared by the generator tests (built once per session)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ztad.synth.world import GeneratorSettings, World, build_world, concat_frames, iter_day_frames

#: Long enough after the clean history for every attack kind to show up in a small world.
SETTINGS = GeneratorSettings(start=date(2026, 3, 2), days=20, users=50, seed=11, clean_days=6)


@pytest.fixture(scope="session")
def gen_world() -> World:
    """The world of :data:`SETTINGS`."""
    return build_world(SETTINGS)


@pytest.fixture(scope="session")
def gen_events(gen_world) -> pd.DataFrame:
    """All events of :data:`SETTINGS`, in time order, with ``ts`` as Unix seconds."""
    events = concat_frames([frame for _, frame in iter_day_frames(gen_world)])
    return events.assign(ts=events["timestamp"].astype("int64") // 1_000_000)
