import numpy as np

from tests.ztad.synth.conftest import SETTINGS
from ztad.synth import events as ev
from ztad.synth.attackers import (
    FAR_KM,
    DayContext,
    NewDevices,
    abroad_city,
    anchors,
    attacker_network,
    domestic_city,
    far_city,
    session_offsets,
)
from ztad.synth.networks import HOSTING, RESIDENTIAL
from ztad.synth.places import CITY_COUNTRIES, city_index, distance_matrix
from ztad.synth.world import day_arrays

RNG = np.random.default_rng(0)
CITIES = np.arange(len(CITY_COUNTRIES)).repeat(20)


def test_far_origins_are_far():
    assert (distance_matrix()[CITIES, far_city(CITIES, RNG)] >= FAR_KM).all()


def test_abroad_origins_are_in_another_country():
    assert (CITY_COUNTRIES[abroad_city(CITIES, RNG)] != CITY_COUNTRIES[CITIES]).all()


def test_domestic_origins_are_another_city_of_the_country_where_there_is_one():
    madrid = np.full(50, city_index("Madrid, Spain"))
    picked = domestic_city(madrid, RNG)
    assert (CITY_COUNTRIES[picked] == "ES").all() and (picked != madrid).all()
    singapore = np.full(5, city_index("Singapore, Singapore"))
    assert (CITY_COUNTRIES[domestic_city(singapore, RNG)] != "SG").all()


def test_attacker_networks_mix_hosting_and_home_lines():
    kind, spread = attacker_network(1000, 0.6, RNG)
    assert set(kind) == {HOSTING, RESIDENTIAL}
    assert 0.5 < (kind == HOSTING).mean() < 0.7
    assert len(np.unique(spread)) == 1000


def test_session_offsets_start_at_zero_and_grow_within_each_campaign():
    campaign, delay = session_offsets(np.array([3, 1, 2]), (10, 20), RNG)
    assert campaign.tolist() == [0, 0, 0, 1, 2, 2]
    assert delay[[0, 3, 4]].tolist() == [0, 0, 0]
    assert 10 <= delay[1] <= 20 and 20 <= delay[2] <= 40 and 10 <= delay[5] <= 20


def test_victims_are_picked_through_ordinary_logins_on_a_computer(gen_world):
    day = SETTINGS.first_day + 8
    events, _ = day_arrays(gen_world, day)
    normal = events.take(events.label == ev.NORMAL)
    ctx = DayContext(gen_world.org, gen_world.hard_negatives, day, normal, np.random.default_rng(1), gen_world.phones)
    picked = anchors(ctx, 200)
    assert normal.success[picked].all()
    assert (normal.scenario[picked] == ev.NO_SCENARIO).all()
    assert not gen_world.phones[normal.device[picked]].any()
    assert len(anchors(ctx, 0)) == 0


def test_new_devices_get_consecutive_codes_after_the_known_ones():
    devices = NewDevices(first_code=100, kinds=[])
    assert devices.add(2, RNG).tolist() == [100, 101]
    assert devices.add(3, RNG).tolist() == [102, 103, 104]
    assert sum(len(k) for k in devices.kinds) == 5
