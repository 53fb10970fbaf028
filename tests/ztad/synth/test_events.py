"""Generated events as parallel arrays: sorting in place gives the order of a sorted copy."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from tests.ztad.synth.conftest import SETTINGS
from ztad.synth.world import local_date_events


def test_sorting_in_place_gives_the_sorted_copy(gen_world):
    events = local_date_events(gen_world, SETTINGS.start.toordinal() + 2)
    copy = events.sorted_by_time()
    assert len(events) > 100 and not np.array_equal(events.time, copy.time)
    events.sort_by_time()
    for f in fields(events):
        assert np.array_equal(getattr(events, f.name), getattr(copy, f.name)), f.name
    assert (np.diff(events.time) >= 0).all()
