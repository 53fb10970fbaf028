from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.synth import catalogue as cat
from ztad.synth import events as ev
from ztad.synth.activity import normal_events
from ztad.synth.organisation import PHONE
from ztad.synth.places import utc_offsets


@pytest.fixture(scope="module")
def monday(gen_world):
    day = date(2026, 3, 16).toordinal()
    events = normal_events(gen_world.org, gen_world.hard_negatives, day, np.random.default_rng(0))
    return day, events


def test_nobody_works_before_joining(gen_world):
    hn = gen_world.hard_negatives
    joiner = int(np.flatnonzero(hn.joined_mid_period)[0])
    before = normal_events(gen_world.org, hn, int(hn.start_day[joiner]) - 1, np.random.default_rng(0))
    assert joiner not in set(before.user)
    assert len(before) > 0


def test_normal_events_are_labelled_normal(monday):
    _, events = monday
    assert (events.label == ev.NORMAL).all()


def test_every_failure_is_followed_by_the_same_users_success_within_minutes(monday):
    _, events = monday
    frame = pd.DataFrame({"user": events.user, "time": events.time, "ok": events.success})
    frame = frame.sort_values(["user", "time"], kind="stable")
    failures = frame[~frame["ok"]]
    assert 0 < len(failures) < 0.05 * len(frame)
    for _, failure in failures.iterrows():
        later = frame[(frame["user"] == failure["user"]) & (frame["time"] > failure["time"])
                      & (frame["time"] <= failure["time"] + 600)]
        assert later["ok"].any(), failure


def test_workday_events_fall_in_the_local_shift(gen_world, monday):
    day, events = monday
    org = gen_world.org
    on_trip = gen_world.hard_negatives.trips.on_day(day, org.size) >= 0
    keep = ~on_trip[events.user] & events.success
    user = events.user[keep]
    local = (events.time[keep] + utc_offsets(day)[org.home[user]]) % 86400 / 3600
    start = org.shift_start[user]
    within = ((local - start) % 24) <= org.shift_hours[user] + 1.0
    assert within.mean() > 0.93


def test_weekdays_are_busier_than_weekends(gen_world):
    count = {
        d: len(normal_events(gen_world.org, gen_world.hard_negatives, date(2026, 3, d).toordinal(),
                             np.random.default_rng(d)))
        for d in (10, 14)  # a Tuesday and a Saturday
    }
    assert count[10] > 3 * count[14] > 0


def test_phones_connect_through_the_mobile_carrier_of_the_day_city(gen_world, monday):
    from ztad.synth.networks import MOBILE, block_bases

    _, events = monday
    phones = np.isin(events.device, gen_world.org.device[:, PHONE])
    assert phones.any()
    assert ((events.ip[phones] >> 16) == (block_bases()[events.city[phones], MOBILE] >> 16)).all()


def test_bytes_follow_the_applications_typical_size(monday):
    _, events = monday
    ok = events.success
    email = np.median(events.bytes[ok & (events.resource == cat.resource_index("email"))])
    files = np.median(events.bytes[ok & (events.resource == cat.resource_index("file-share"))])
    assert 10 < files / email < 100
    assert np.median(events.bytes[~ok]) < 5000
