from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from tests.ztad.synth.conftest import SETTINGS
from ztad.synth import ATTACK_CATEGORIES, SCENARIOS, generate_events
from ztad.synth.places import FLIGHT_SPEED_KMH, city_index, distance_matrix
from ztad.synth.world import (
    GeneratorSettings,
    GeneratorSettingsError,
    build_world,
    day_frame,
    iter_day_chunks,
)

TINY = {"start": date(2026, 3, 2), "days": 4, "users": 20, "clean_days": 1}


def test_one_seed_gives_one_data_set_and_another_seed_another():
    first = generate_events(seed=5, **TINY)
    again = generate_events(seed=5, **TINY)
    other = generate_events(seed=6, **TINY)
    pd.testing.assert_frame_equal(first, again)
    assert len(first) != len(other) or not first.equals(other)


def test_a_day_alone_is_the_same_day_as_within_the_range(gen_world, gen_events):
    day = SETTINGS.start + timedelta(days=9)
    alone = day_frame(gen_world, day)
    within = gen_events[gen_events["timestamp"].dt.date == day].drop(columns="ts").reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.astype(str), within.astype(str))


def test_every_day_holds_only_its_own_utc_events(gen_events):
    days = gen_events["timestamp"].dt.date
    assert sorted(days.unique()) == SETTINGS.dates
    assert gen_events["timestamp"].is_monotonic_increasing


def test_attacks_start_only_after_the_clean_history(gen_events):
    attacks = gen_events[gen_events["event_label"] != "normal"]
    first_scored = SETTINGS.start + timedelta(days=SETTINGS.clean_days)
    assert len(attacks) > 0
    assert attacks["timestamp"].dt.date.min() >= first_scored


def test_attacks_are_about_one_percent_of_scored_events():
    events = generate_events(start=date(2026, 3, 2), days=24, users=200, seed=4, clean_days=10)
    scored = events[events["timestamp"].dt.date >= date(2026, 3, 12)]
    share = (scored["event_label"] != "normal").mean()
    assert 0.006 < share < 0.015


def test_every_attack_category_and_some_combinations_occur(gen_events):
    labels = set(gen_events["event_label"].astype(str)) - {"normal"}
    parts = {part for label in labels for part in label.split("+")}
    assert parts == set(ATTACK_CATEGORIES)
    assert any("+" in label for label in labels)


def test_hard_negatives_occur_and_stay_normal(gen_events):
    expected = set(SCENARIOS) - {""}  # month_end: 2 March is the first weekday of a month
    marked = gen_events[gen_events["scenario"] != ""]
    assert set(marked["scenario"]) == expected
    assert (marked["event_label"] == "normal").all()
    scored = marked[marked["timestamp"].dt.date >= SETTINGS.start + timedelta(days=SETTINGS.clean_days)]
    assert set(scored["scenario"]) == expected - {"month_end"}


def test_travellers_are_seen_at_the_destination_only_after_the_flight(gen_world, gen_events):
    trips = gen_world.hard_negatives.trips
    assert len(trips) > 0
    for i in range(len(trips)):
        user = gen_world.org.user_ids[trips.user[i]]
        own = gen_events[gen_events["user_id"] == user]
        there = own["location"].astype(str).map(city_index) == trips.destination[i]
        before = own[~there & (own["ts"] < trips.arrive[i])]
        seen_there = own[there]
        if len(seen_there) and len(before):
            km = distance_matrix()[city_index(before["location"].iloc[-1]), trips.destination[i]]
            gap_hours = (seen_there["ts"].min() - before["ts"].max()) / 3600
            assert gap_hours >= km / FLIGHT_SPEED_KMH
        assert (seen_there["ts"] >= trips.arrive[i]).all()
        assert (seen_there["ts"] < trips.leave_back[i]).all()


def test_ordinary_staff_never_move_faster_than_a_plane(gen_events):
    quiet = gen_events[(gen_events["event_label"] == "normal") & (gen_events["scenario"] != "vpn")]
    quiet = quiet.sort_values(["user_id", "ts"], kind="stable")
    city = quiet["location"].astype(str).map(city_index).to_numpy()
    user = quiet["user_id"].astype(str).to_numpy()
    ts = quiet["ts"].to_numpy()
    same = user[1:] == user[:-1]
    km = distance_matrix()[city[:-1], city[1:]]
    hours = np.maximum((ts[1:] - ts[:-1]) / 3600, 1 / 3600)
    assert not (same & (km > 50) & (km / hours > FLIGHT_SPEED_KMH)).any()


def test_vpn_users_seem_to_jump_between_home_and_their_vpn_city(gen_events):
    vpn = gen_events[gen_events["scenario"] == "vpn"]
    assert vpn.groupby("user_id", observed=True)["location"].nunique().max() >= 2


def test_staff_log_in_five_to_twenty_times_on_a_working_day(gen_events):
    weekday = gen_events[gen_events["timestamp"].dt.day_of_week < 5]
    per_user_day = weekday.groupby(["user_id", weekday["timestamp"].dt.date], observed=True).size()
    assert 5 <= per_user_day.median() <= 20


@pytest.mark.parametrize(
    "change, message",
    [
        ({"users": 5}, "users"),
        ({"days": 0}, "days"),
        ({"attack_rate": 0.6}, "attack_rate"),
        ({"seed": -1}, "seed"),
        ({"clean_days": -1}, "clean_days"),
        ({"start": "2026-03-02"}, "start"),
    ],
)
def test_settings_out_of_range_are_refused_by_name(change, message):
    settings = {"start": date(2026, 3, 2), "days": 3, "users": 20} | change
    with pytest.raises(GeneratorSettingsError, match=message):
        GeneratorSettings(**settings)
    assert issubclass(GeneratorSettingsError, ValueError)


def test_a_world_without_scored_days_has_no_attacks():
    world = build_world(GeneratorSettings(start=date(2026, 3, 2), days=3, users=20, clean_days=5))
    assert len(world.plan) == 0


def test_every_attack_event_and_only_those_carry_the_id_of_their_attack(gen_events):
    attack = gen_events["event_label"] != "normal"
    assert gen_events.loc[attack, "attack_id"].notna().all()
    assert gen_events.loc[~attack, "attack_id"].isna().all()
    per_attack = gen_events[attack].groupby("attack_id")
    # An attack is one campaign: one day; one kind (a brute force that gets in adds its
    # takeover label); one victim, except a spray, which is one source against many.
    assert (per_attack["timestamp"].agg(lambda t: t.dt.date.nunique()) == 1).all()
    kinds = per_attack["event_label"].agg(lambda s: frozenset(s.str.replace("+new_device", "", regex=False)
                                                              if "multiple_failed_logins" in s.iloc[0] else s))
    assert (kinds.map(len) == 1).all()
    users = per_attack["user_id"].nunique()
    spray = per_attack["event_label"].first() == "password_spray"
    assert (users[~spray] == 1).all() and (users[spray] > 1).all()
    assert (per_attack["ip_address"].nunique()[spray] == 1).all()
    assert per_attack.ngroups >= len(ATTACK_CATEGORIES)


def test_a_start_given_as_datetime_means_its_day():
    from datetime import datetime

    settings = GeneratorSettings(start=datetime(2026, 3, 2, 17, 30), days=2, users=20)
    assert settings.start == date(2026, 3, 2)
    assert settings.dates == [date(2026, 3, 2), date(2026, 3, 3)]


def test_a_whole_period_has_text_columns_as_strings(gen_events):
    text = ["user_id", "device_id", "ip_address", "location", "access_time", "resource_accessed",
            "event_label", "department", "scenario", "attack_id"]
    assert all(str(gen_events[c].dtype) == "string" for c in text)
    assert str(gen_events["timestamp"].dtype) == "datetime64[us, UTC]"


def test_the_chunks_of_a_day_stack_into_the_day(gen_world):
    days = {}
    for day, chunk in iter_day_chunks(gen_world, 50):
        assert len(chunk) <= 50
        days.setdefault(day, []).append(chunk)
    assert sorted(days) == SETTINGS.dates
    for day in (SETTINGS.start, SETTINGS.start + timedelta(days=9)):
        stacked = pd.concat([c.astype(str) for c in days[day]], ignore_index=True)
        assert len(days[day]) > 1
        pd.testing.assert_frame_equal(stacked, day_frame(gen_world, day).astype(str))
