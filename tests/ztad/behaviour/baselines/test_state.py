"""The combined baseline state: maturity, home place, last login and (user, item) pairs."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from tests.ztad.behaviour.features.sequences import DAY, frame, login, state_from, working_days
from ztad.behaviour.baselines import combine_aggregates, daily_aggregate


def test_autonomous_systems_are_paired_with_users_and_counted_across_the_organisation():
    history = (working_days("alice", DAY - timedelta(days=3), 3, ip="192.0.2.1", asn=64500)
               + working_days("bob", DAY - timedelta(days=1), 1, ip="198.51.100.1", asn=64500)
               + working_days("carol", DAY - timedelta(days=1), 1, ip="198.51.100.2"))
    state = state_from(history)
    pairs = state.pairs["asn"]
    assert list(pairs.items) == ["64500"]
    alice, bob = state.user_codes(pd.Series(["alice", "bob"], dtype="string"))
    item = pairs.item_codes(pd.Series(["64500"], dtype="string"))
    assert pairs.get("days", pairs.find([alice, bob], np.repeat(item, 2))).tolist() == [3.0, 1.0]
    assert state.org_items["asn"]["users"].tolist() == [2.0]  # carol's address has no known system


def test_combined_state_knows_maturity_home_and_pairs():
    history = working_days("alice", DAY - timedelta(days=6), 6, location="Madrid, Spain")
    history += [login("alice", f"{DAY - timedelta(days=1)} 18:00", "Lagos, Nigeria", ip="198.51.100.7")]
    state = state_from(history)
    alice = state.users.iloc[state.user_codes(pd.Series(["alice"]))[0]]
    assert alice["active_days"] == 6 and alice["events"] == 19
    assert alice["home_location"] == "Madrid, Spain" and alice["home_tz"] == "Europe/Madrid"
    assert alice["last_location"] == "Lagos, Nigeria"
    city = state.pairs["city"]
    rows = city.find(state.user_codes(pd.Series(["alice", "alice", "bob"])),
                     city.item_codes(pd.Series(["Madrid, Spain", "Paris, France", "Madrid, Spain"])))
    assert city.values["days"].to_numpy()[rows[0]] == 6
    assert rows[1] == -1 and rows[2] == -1
    assert set(state.pairs["country"].items) == {"ES", "NG"}


def test_nights_alerted_for_their_hour_alone_count_as_nights_but_never_teach_the_hours():
    # bob's two nights (02:30 UTC, 03:30 local) were alerted by the off-hours rule alone.
    office = working_days("bob", DAY - timedelta(days=6), 6)
    nights = [DAY - timedelta(days=d) for d in (2, 4)]
    events = frame(office + [login("bob", f"{night} 02:30") for night in nights])
    at_night = events["timestamp"].dt.hour == 2
    by_day = events.groupby(events["timestamp"].dt.date)
    aggregates = [(d, daily_aggregate(part[~at_night[part.index]], part[at_night[part.index]]))
                  for d, part in by_day]
    state = combine_aggregates(aggregates, DAY, 30)
    trusted_only = state_from(office)
    bob = state.user_codes(pd.Series(["bob"]))[0]
    assert state.users["night_days"].tolist()[bob] == 2
    assert trusted_only.users["night_days"].tolist()[bob] == 0
    # The alerted hours stay out of the hour-of-week profile and the event counts.
    assert np.array_equal(state.hour_counts, trusted_only.hour_counts)
    assert state.users["events"].tolist() == trusted_only.users["events"].tolist()


def test_an_aggregate_saved_without_alerted_hours_still_combines():
    aggregate = daily_aggregate(frame(working_days("alice", DAY - timedelta(days=1), 1)))
    del aggregate.tables["user_alerted_hour"]
    state = combine_aggregates([(DAY - timedelta(days=1), aggregate)], DAY, 30)
    assert state.users["night_days"].tolist() == [0]


def test_a_user_with_another_alert_in_the_window_earns_no_nights_from_alerts():
    # bob's two nights were alerted for their hour alone, but a model alert fell on another day.
    office = working_days("bob", DAY - timedelta(days=6), 6)
    nights = [DAY - timedelta(days=d) for d in (2, 4)]
    events = frame(office + [login("bob", f"{night} 02:30") for night in nights])
    at_night = (events["timestamp"].dt.hour == 2).to_numpy()
    odd = (events["timestamp"].dt.date == DAY - timedelta(days=5)).to_numpy() & (events["timestamp"].dt.hour == 9).to_numpy()
    aggregates = []
    for d, part in events.groupby(events["timestamp"].dt.date):
        rows = part.index.to_numpy()
        aggregates.append((d, daily_aggregate(part[~at_night[rows]], part[at_night[rows]], part[odd[rows]])))
    state = combine_aggregates(aggregates, DAY, 30)
    assert state.users["night_days"].tolist() == [0]
    # Once that alert has left the window, the alerted nights count again.
    assert combine_aggregates(aggregates[2:], DAY, 30).users["night_days"].tolist() == [2]


def test_aggregates_read_when_asked_for_combine_into_the_state_of_those_held_in_memory(small_logs, tmp_path):
    from dataclasses import fields
    from datetime import date

    from tests.ztad.behaviour.baselines.test_state_files import assert_same_value
    from ztad.behaviour.baselines import (
        BaselineState,
        combine_aggregates,
        load_daily_aggregate,
        window_days_before,
    )
    from ztad.behaviour.baselines.persist import saved_daily_aggregate
    from ztad.config import JobConfig, SourceConfig
    from ztad.pipeline.history import baseline_before

    day = date(2026, 3, 18)
    config = JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path)
    baseline_before(config, day)  # saves the window's aggregates
    window = [d for d in window_days_before(day, 30) if load_daily_aggregate(config.state_dir, d)]
    assert len(window) > 2
    held = combine_aggregates([(d, load_daily_aggregate(config.state_dir, d)) for d in window], day, 30)
    read = combine_aggregates([(d, saved_daily_aggregate(config.state_dir, d)) for d in window], day, 30)
    assert held.days_with_data == len(window)
    for field in fields(BaselineState):
        assert_same_value(getattr(read, field.name), getattr(held, field.name), field.name)


def test_each_users_active_days_span_from_their_first_day_to_their_last():
    history = (working_days("alice", DAY - timedelta(days=9), 3)
               + working_days("alice", DAY - timedelta(days=2), 1)
               + working_days("bob", DAY - timedelta(days=5), 4)
               + working_days("carol", DAY - timedelta(days=1), 1))
    state = state_from(history)
    users = state.users.iloc[state.user_codes(pd.Series(["alice", "bob", "carol"]))]
    ordinal = [(DAY - timedelta(days=k)).toordinal() for k in range(10)]
    assert users["active_days"].tolist() == [4, 4, 1]
    assert users["first_day"].tolist() == [ordinal[9], ordinal[5], ordinal[1]]
    assert users["last_day"].tolist() == [ordinal[2], ordinal[2], ordinal[1]]
    assert all(users[column].dtype == "int64" for column in ("active_days", "first_day", "last_day"))
