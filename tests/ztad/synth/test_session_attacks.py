import numpy as np
import pytest

from tests.ztad.synth.labels import user_position, with_part
from ztad.synth import catalogue as cat
from ztad.synth.places import city_index, distance_matrix, utc_offsets


@pytest.fixture(scope="module")
def normal(gen_events):
    return gen_events[gen_events["event_label"] == "normal"]


def test_impossible_travel_is_thousands_of_km_from_the_victims_login_shortly_before_or_after(gen_events, normal):
    travel = with_part(gen_events, "impossible_travel")
    assert len(travel) > 0
    distance = distance_matrix()
    for _, event in travel.iterrows():
        own = normal[(normal["user_id"] == event["user_id"]) & ((normal["ts"] - event["ts"]).abs() <= 3 * 3600)]
        km = np.array([distance[city_index(event["location"]), city_index(p)] for p in own["location"]])
        hours = np.maximum((own["ts"] - event["ts"]).abs().to_numpy() / 3600, 1 / 60)
        assert (km / hours > 800).any(), event


def test_off_hours_logins_are_in_the_small_hours_for_day_workers_and_far_from_any_shift(gen_world, gen_events):
    org = gen_world.org
    late = with_part(gen_events, "off_hours_login")
    assert len(late) > 0
    user = late["user_id"].map(user_position).to_numpy()
    day = late["timestamp"].dt.date.map(lambda d: d.toordinal()).to_numpy()
    offset = np.array([utc_offsets(int(d))[org.home[u]] for d, u in zip(day, user)])
    local = (late["ts"].to_numpy() + offset) % 86400 / 3600
    day_worker = org.profile[user] == cat.DAY
    assert day_worker.any()
    # A session starts between 01:00 and 04:30 and lasts minutes.
    assert ((local[day_worker] >= 1.0) & (local[day_worker] < 5.5)).all()
    middle = org.shift_start[user] + org.shift_hours[user] / 2
    away = np.abs((local - middle + 12) % 24 - 12)
    assert (away[~day_worker] >= 9.5).all() and (away >= 6).all()


def test_large_transfers_dwarf_the_victims_usual_volume(gen_events, normal):
    large = with_part(gen_events, "large_data_transfer")
    assert len(large) > 0
    usual = normal[normal["login_success"] == 1].groupby("user_id", observed=True)["bytes_transferred"].max()
    assert (large["bytes_transferred"].to_numpy() > 3 * usual.reindex(large["user_id"]).to_numpy()).mean() > 0.8
    assert (large["bytes_transferred"] <= 8e9).all()


def test_unusual_resources_are_outside_the_victims_and_their_departments_habits(gen_world, gen_events):
    org = gen_world.org
    unusual = with_part(gen_events, "unusual_resource_access")
    assert len(unusual) > 0
    user = unusual["user_id"].map(user_position).to_numpy()
    resource = unusual["resource_accessed"].map(cat.resource_index).to_numpy()
    assert (org.resource_weights[user, resource] == 0).all()
    colleagues = org.department[None, :] == org.department[user][:, None]
    used_by_department = (colleagues & (org.resource_weights[:, resource].T > 0)).any(axis=1)
    assert not used_by_department.any()
    # Not only the sensitive applications: nothing tells the detector which those are.
    assert not set(unusual["resource_accessed"]) <= set(cat.SENSITIVE_RESOURCES)


def test_account_takeover_uses_a_device_the_victim_never_used(gen_events, normal):
    takeover = with_part(gen_events, "new_device")
    assert len(takeover) > 0
    own = set(zip(normal["user_id"].astype(str), normal["device_id"].astype(str)))
    pairs = zip(takeover["user_id"].astype(str), takeover["device_id"].astype(str))
    assert not any(pair in own for pair in pairs)
