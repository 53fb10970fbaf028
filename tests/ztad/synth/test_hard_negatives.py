import numpy as np
import pytest

from tests.ztad.synth.conftest import SETTINGS
from ztad.synth.hard_negatives import MIN_TRIP_KM, NEVER, build_hard_negatives
from ztad.synth.organisation import LAPTOP, build_organisation
from ztad.synth.places import distance_matrix, flight_seconds


@pytest.fixture(scope="module")
def hn(gen_world):
    return gen_world.hard_negatives


def test_vpn_users_new_employees_and_laptop_swaps_are_different_people(hn):
    vpn = set(np.flatnonzero(hn.vpn_egress >= 0))
    joiners = set(np.flatnonzero(hn.joined_mid_period))
    swappers = set(np.flatnonzero(hn.new_laptop >= 0))
    assert vpn and joiners and swappers
    assert not (vpn & joiners) and not (vpn & swappers) and not (joiners & swappers)
    assert not set(hn.trips.user) & (vpn | joiners | swappers)


def test_new_employees_join_during_the_period_and_others_before_it(hn):
    first = SETTINGS.first_day
    joined = hn.start_day[hn.joined_mid_period]
    assert (joined > first).all() and (joined < first + SETTINGS.days).all()
    assert (hn.start_day[~hn.joined_mid_period] < first).all()


def test_trips_take_the_flight_time_and_last_a_few_days(gen_world, hn):
    trips = hn.trips
    assert len(trips) > 0
    home = gen_world.org.home[trips.user]
    flight = flight_seconds(home, trips.destination)
    assert (trips.arrive - trips.leave == flight).all()
    assert (trips.back - trips.leave_back == flight).all()
    assert (trips.leave_back > trips.arrive).all()
    nights = trips.return_day - trips.depart_day
    assert ((nights >= 2) & (nights <= 5)).all()
    assert (distance_matrix()[home, trips.destination] >= MIN_TRIP_KM).all()


def test_trips_of_one_person_never_overlap():
    org = build_organisation(300, np.random.default_rng(2))
    hn = build_hard_negatives(org, np.random.default_rng(2), first_day=739000, days=90, clean_days=14)
    order = np.lexsort((hn.trips.depart_day, hn.trips.user))
    user, depart, back = hn.trips.user[order], hn.trips.depart_day[order], hn.trips.return_day[order]
    same = user[1:] == user[:-1]
    assert same.any()
    assert (depart[1:][same] > back[:-1][same] + 2).all()
    for day in range(739000, 739090, 7):
        touching = hn.trips.on_day(day, org.size)
        assert (hn.trips.user[touching[touching >= 0]] == np.flatnonzero(touching >= 0)).all()


def test_vpn_egress_is_a_far_away_hosting_city(gen_world, hn):
    vpn = np.flatnonzero(hn.vpn_egress >= 0)
    assert (distance_matrix()[gen_world.org.home[vpn], hn.vpn_egress[vpn]] > MIN_TRIP_KM).all()


def test_a_new_laptop_replaces_the_old_one_from_its_day(gen_world, hn):
    swapper = int(np.flatnonzero(hn.new_laptop >= 0)[0])
    day = int(hn.laptop_switch_day[swapper])
    old = gen_world.org.device[swapper, LAPTOP]
    assert hn.laptop_on(gen_world.org, day - 1)[swapper] == old
    assert hn.laptop_on(gen_world.org, day)[swapper] == hn.new_laptop[swapper] != old
    assert gen_world.device_names[hn.new_laptop[swapper]].startswith("LT-")
    others = hn.new_laptop < 0
    assert (hn.laptop_switch_day[others] == NEVER).all()
