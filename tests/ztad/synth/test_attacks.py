import numpy as np

from tests.ztad.synth.conftest import SETTINGS
from ztad.synth.attack_plan import kind_code
from ztad.synth.attackers import DayContext
from ztad.synth.attacks import attacks_of_day
from ztad.synth.places import day_start_seconds
from ztad.synth.world import day_arrays


def test_attackers_devices_and_places_look_like_everybody_elses(gen_events):
    attacks = gen_events[gen_events["event_label"] != "normal"]
    assert attacks["device_id"].astype(str).str.fullmatch(r"(LT|MB|DT)-[0-9A-F]{10}").all()
    assert not attacks["ip_address"].astype(str).str.startswith(("203.0.113.", "198.51.100.", "10.")).any()
    assert (attacks["scenario"] == "").all()


def test_a_days_attacks_stay_in_the_day_and_bring_their_own_devices(gen_world):
    plan = gen_world.plan
    day = int(plan.day[plan.kind == kind_code("password_spray")][0])
    events, _ = day_arrays(gen_world, day)
    normal = events.take(events.label == 0)
    ctx = DayContext(gen_world.org, gen_world.hard_negatives, day, normal, np.random.default_rng(0), gen_world.phones)
    attacks, names = attacks_of_day(ctx, plan, gen_world.device_names)
    start = day_start_seconds(day)
    assert len(attacks) > 0
    assert ((attacks.time >= start) & (attacks.time < start + 86400)).all()
    new = attacks.device >= len(gen_world.device_names)
    assert new.any()
    assert attacks.device[new].max() < len(gen_world.device_names) + len(names)
    assert not set(names) & set(gen_world.device_names)


def test_no_attacks_on_a_clean_day(gen_world):
    day = SETTINGS.first_day + 1
    events, names = day_arrays(gen_world, day)
    assert (events.label == 0).all()
    assert len(names) == len(gen_world.device_names)
