"""The innocent oddities of a day: on-call nights, month-end reports, a password rotation,
evening work and café Wi-Fi, shaped as the detectors will meet them."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.synth import catalogue as cat
from ztad.synth.daily_negatives import (
    MONTH_END_FACTOR,
    PRODUCTION_RESOURCES,
    ROTATION_SHARE,
    closing_days,
    office_egress,
    on_call_staff,
)
from ztad.synth.networks import format_ipv4
from ztad.synth.places import utc_offsets
from ztad.synth.world import GeneratorSettings, build_world, concat_frames, iter_day_frames

#: Twelve days over the end of March, so that finance closes the books.
SETTINGS = GeneratorSettings(start=date(2026, 3, 23), days=12, users=80, seed=4, clean_days=2)


@pytest.fixture(scope="module")
def world():
    return build_world(SETTINGS)


@pytest.fixture(scope="module")
def events(world):
    frame = concat_frames([f for _, f in iter_day_frames(world)])
    position = {u: i for i, u in enumerate(world.org.user_ids)}
    user = frame["user_id"].map(position).to_numpy()
    seconds = frame["timestamp"].astype("int64").to_numpy() // 1_000_000
    offsets = np.array([utc_offsets(d.toordinal())[world.org.home[u]]
                        for d, u in zip(frame["timestamp"].dt.date, user)])
    return frame.assign(user=user, local_hour=(seconds + offsets) % 86400 / 3600)


def test_closing_days_are_the_last_two_weekdays_of_a_month_and_the_first_of_the_next():
    closing = [d for d in pd.date_range("2026-03-25", "2026-04-06").date if closing_days(d.toordinal())]
    assert closing == [date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1)]
    assert [d for d in pd.date_range("2026-05-27", "2026-06-02").date if closing_days(d.toordinal())] == [
        date(2026, 5, 28), date(2026, 5, 29), date(2026, 6, 1)]


def test_on_call_engineers_work_incidents_after_midnight_on_production(world, events):
    night = events[events["scenario"] == "on_call"]
    assert len(night) > 0
    assert on_call_staff(world.org)[night["user"]].all()
    # Between midnight and 05:30, give or take the hour of a daylight-saving night.
    assert ((night["local_hour"] + 1) % 24 < 6.5).all()
    assert set(night["resource_accessed"]) <= set(PRODUCTION_RESOURCES)
    assert set(night["department"]) <= {"engineering", "it"}
    assert night["user_id"].nunique() >= 2  # peers share the pattern


def test_month_end_reports_are_finance_moving_many_times_their_usual_bytes(world, events):
    reports = events[events["scenario"] == "month_end"]
    assert len(reports) > 0 and set(reports["department"]) == {"finance"}
    assert set(reports["timestamp"].dt.date) <= {date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1)}
    usual = (cat.RESOURCE_MEDIAN_BYTES[reports["resource_accessed"].map(cat.resource_index).to_numpy()]
             * world.org.bytes_factor[reports["user"].to_numpy()])
    ratio = reports["bytes_transferred"].to_numpy() / usual
    assert np.median(ratio) > MONTH_END_FACTOR[0] and np.median(ratio) < 3 * MONTH_END_FACTOR[1]


def test_a_password_rotation_fails_once_per_user_from_one_office_address_then_succeeds(world, events):
    rotation = events[events["scenario"] == "password_rotation"]
    failures, logins = rotation[rotation["login_success"] == 0], rotation[rotation["login_success"] == 1]
    _, nat = format_ipv4(office_egress(world.rotation.office)[:1])
    assert set(rotation["ip_address"]) == {nat[0]}
    assert failures["user_id"].is_unique and set(failures["user_id"]) == set(logins["user_id"])
    at_office = world.org.office[failures["user"].to_numpy()] == world.rotation.office
    assert at_office.all() and len(failures) >= 5
    login_time = logins.set_index("user_id")["timestamp"]
    wait = (login_time.reindex(failures["user_id"]).to_numpy() - failures["timestamp"].to_numpy())
    assert (wait > pd.Timedelta(0)).all() and (wait < pd.Timedelta(minutes=2)).all()
    assert 0 < ROTATION_SHARE < 1


def test_evening_work_and_cafe_wifi_are_day_workers_at_home_in_town(world, events):
    evening = events[events["scenario"] == "evening_work"]
    assert len(evening) > 0 and ((evening["local_hour"] >= 19) & (evening["local_hour"] < 23)).all()
    cafe = events[events["scenario"] == "cafe_wifi"]
    assert len(cafe) > 0
    assert (world.org.profile[cafe["user"].to_numpy()] == cat.DAY).all()
    others = events[(events["scenario"] != "cafe_wifi") & (events["event_label"] == "normal")]
    assert not set(cafe["ip_address"]) & set(others["ip_address"])  # an address nobody else uses
    assert (cafe["event_label"] == "normal").all() and (evening["event_label"] == "normal").all()
