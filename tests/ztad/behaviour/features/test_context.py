"""Maturity of a user's history and the peer group events are judged against."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tests.ztad.behaviour.features.sequences import DAY, features_of, frame, login, state_from, working_days
from ztad.behaviour.features import FeatureSettings
from ztad.behaviour.features.categories import categorical
from ztad.behaviour.features.context import build_context
from ztad.config import DetectionConfig


def test_maturity_grows_with_days_and_events_and_is_one_without_cold_start():
    history = (working_days("old", DAY - timedelta(days=14), 14)
               + working_days("half", DAY - timedelta(days=7), 7)
               + working_days("thin", DAY - timedelta(days=2), 2))
    today = [login(user, f"{DAY} 09:00") for user in ("old", "half", "thin", "new")]
    out = features_of(history, today)
    # (min(days / 14, events / 20)) ** 2: 14 days -> 1; 7 days, 21 events -> 0.25;
    # 2 days, 6 events -> (2/14) ** 2.
    assert out["ctx_maturity"].tolist() == pytest.approx([1.0, 0.25, (2 / 14) ** 2, 0.0])
    assert out["ctx_active_days"].tolist() == [14.0, 7.0, 2.0, 0.0]
    assert out["ctx_history_days"].tolist() == [14.0, 7.0, 2.0, 0.0]
    flat = features_of(history, today, FeatureSettings(cold_start=False))
    assert flat["ctx_maturity"].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_maturity_counts_calendar_days_since_first_seen_not_active_days():
    weekdays = [row for row in working_days("ann", DAY - timedelta(days=14), 14)
                if pd.Timestamp(row["timestamp"]).weekday() < 5]
    out = features_of(weekdays, [login("ann", f"{DAY} 09:00")])
    assert out["ctx_active_days"][0] < 14
    assert out["ctx_maturity"][0] == 1.0


def test_new_users_join_the_peer_group_of_their_department_or_the_organisation():
    history = working_days("ann", DAY - timedelta(days=3), 3, department="finance")
    today = frame([login("newbie", f"{DAY} 09:00", department="finance"),
                   login("other", f"{DAY} 09:00", department="legal")])
    state = state_from(history)
    ctx = build_context(today, state, DetectionConfig(), FeatureSettings())
    assert ctx.peer.tolist() == [0, -1]
    out = features_of(history, [login("other", f"{DAY} 09:00", department="legal")])
    assert out["ctx_peer_group"].isna().all()


def test_per_user_columns_are_converted_once_per_state_and_read_for_each_batch():
    history = working_days("ann", DAY - timedelta(days=3), 3, department="finance")
    state = state_from(history)
    first = build_context(frame([login("ann", f"{DAY} 09:00")]), state, DetectionConfig(), FeatureSettings())
    assert first.user_text("home_location").tolist() == [state.users["home_location"].iloc[0]]
    assert first.user_column("events").tolist() == [float(state.users["events"].iloc[0])]
    converted = state.derived(("user_text", "home_location"), None)
    second = build_context(frame([login("newbie", f"{DAY} 09:00"), login("ann", f"{DAY} 10:00")]), state,
                           DetectionConfig(), FeatureSettings())
    assert second.user_text("home_location").tolist() == [None, state.users["home_location"].iloc[0]]
    assert second.user_column("events", default=-1.0).tolist() == [-1.0, float(state.users["events"].iloc[0])]
    assert state.derived(("user_text", "home_location"), None) is converted


def test_a_per_user_text_is_the_categorical_of_its_events_texts():
    history = (working_days("ann", DAY - timedelta(days=3), 3, location="Madrid, Spain")
               + working_days("ben", DAY - timedelta(days=3), 3, location="Lagos, Nigeria"))
    state = state_from(history)
    today = frame([login("ben", f"{DAY} 09:00"), login("newbie", f"{DAY} 09:00"), login("ben", f"{DAY} 10:00")])
    ctx = build_context(today, state, DetectionConfig(), FeatureSettings())
    found = ctx.user_categorical("home_location")
    expected = categorical(ctx.user_text("home_location"))
    assert found.categories.tolist() == expected.categories.tolist() == ["Lagos, Nigeria"]
    assert found.codes.tolist() == expected.codes.tolist() == [0, -1, 0]


@pytest.mark.parametrize("events", [3, 90], ids=["few", "many"])
def test_a_column_is_coded_once_and_its_items_found_as_the_pairs_find_them(events):
    from ztad.behaviour.baselines.arrays import text_codes

    history = working_days("ann", DAY - timedelta(days=3), 3) + working_days("bob", DAY - timedelta(days=3), 3,
                                                                               department="legal")
    places = ["Madrid, Spain", "Lagos, Nigeria", None]
    today = [login(("ann", "bob", "eve")[i % 3], f"{DAY} 09:{i % 60:02d}", places[i % 3], ip=f"192.0.2.{i % 7}")
             for i in range(events)]
    state = state_from(history)
    ctx = build_context(frame(today), state, DetectionConfig(), FeatureSettings())
    codes, uniques = ctx.codes_of(ctx.text("location"))
    expected_codes, expected_uniques = text_codes(ctx.text("location"))
    assert codes.tolist() == expected_codes.tolist() and uniques.tolist() == expected_uniques.tolist()
    assert ctx.codes_of(ctx.item_values("city"))[0] is codes  # the same column, coded once
    for kind in ("city", "ip", "device"):
        items, _ = ctx.lookup(kind)
        assert items.tolist() == state.pairs[kind].item_codes(ctx.item_values(kind)).tolist()
    assert (ctx.lookup("city")[0] >= 0).any() and (ctx.lookup("city")[0] == -1).any()


@pytest.mark.parametrize("names", [["ann", " Root ", "ADMIN", None, "bob"] * 20, ["Ädmin", " ann ", None] * 30],
                         ids=["ascii", "not-ascii"])
def test_lowered_names_are_decided_per_distinct_value_as_for_every_event(names):
    from ztad.behaviour.baselines.arrays import lowered_in

    ctx = build_context(frame([login("u", f"{DAY} 09:00")]), state_from([]), DetectionConfig(), FeatureSettings())
    values = pd.Series(names, dtype="string")
    for strip in (False, True):
        expected = lowered_in(values, {"root", "admin", "ädmin"}, strip=strip)
        assert ctx.lowered_in(values, {"root", "admin", "ädmin"}, strip=strip).tolist() == expected.tolist()
    assert ctx.lowered_in(values, {"root", "admin", "ädmin"}, strip=True).any()
