"""Hour-of-week rarity, distance from the usual working window, days off, in local time."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.sequences import DAY, features_of, login, state_from, working_days
from ztad.behaviour.features import FeatureSettings, time_of_day
from ztad.behaviour.features.time_of_day import hours_outside, usual_windows

# Madrid is UTC+1 in early March: 08:00-16:00 UTC logins are 09:00-17:00 local.
OFFICE_HOURS_UTC = (8, 9, 10, 11, 12, 13, 14, 15)


def _office_worker(user="alice", days=14, location="Madrid, Spain", hours=OFFICE_HOURS_UTC, **fields):
    """Weekday logins at ``hours`` (UTC) for ``days`` days before the scored day."""
    rows = working_days(user, DAY - timedelta(days=days), days, hours=hours, location=location, **fields)
    return [row for row in rows if pd.Timestamp(row["timestamp"]).weekday() < 5]


def test_a_night_login_is_rare_and_hours_outside_the_usual_window():
    out = features_of(_office_worker(), [login("alice", f"{DAY} 10:00"), login("alice", f"{DAY} 02:00")])
    assert out["hour_rarity"][1] > out["hour_rarity"][0] + 1.5
    assert out["off_hours_distance"][0] == 0.0
    # 03:00 local against a 09:00-17:00 window: six hours before it starts.
    assert out["off_hours_distance"][1] == pytest.approx(6.0, abs=0.6)
    assert out["ctx_local_hour"][1] == pytest.approx(3.0)
    assert out["ctx_timezone"][1] == "Europe/Madrid"


def test_local_time_comes_from_the_place_of_the_login():
    # 09:00-17:00 in Tokyo is 00:00-08:00 UTC; a traveller keeps their working day abroad.
    tokyo = _office_worker(location="Tokyo, Japan", hours=range(0, 8))
    out = features_of(tokyo, [login("alice", f"{DAY} 01:30", "Tokyo, Japan")])
    assert out["off_hours_distance"][0] == 0.0
    assert out["ctx_local_hour"][0] == pytest.approx(10.5)


def test_weekend_is_judged_in_local_time():
    saturday = DAY - timedelta(days=2)
    out = features_of([], [login("a", f"{saturday} 12:00"), login("b", f"{DAY - timedelta(days=3)} 23:30", "Tokyo, Japan")])
    # Friday 23:30 UTC is Saturday 08:30 in Tokyo.
    assert out["ctx_weekend"].tolist() == [1.0, 1.0]
    out = features_of([], [login("a", f"{DAY} 12:00")])
    assert out["ctx_weekend"].tolist() == [0.0]
    assert out["day_off"].tolist() == [0.0]


def test_a_day_off_counts_for_weekday_staff_but_not_for_weekend_staff():
    saturday = DAY - timedelta(days=2)
    weekend_staff = [row for row in working_days("sam", DAY - timedelta(days=21), 21)
                     if pd.Timestamp(row["timestamp"]).weekday() >= 5]
    history = _office_worker(days=21) + weekend_staff
    out = features_of(history, [login("alice", f"{saturday} 10:00"), login("sam", f"{saturday} 10:00")])
    assert out["day_off"][0] > 0.9
    assert out["day_off"][1] == 0.0


def test_public_and_company_holidays_are_days_off_when_configured():
    # 2026-04-03 is Good Friday: a public holiday in Spain, not in Japan.
    good_friday = date(2026, 4, 3)
    history = [row for row in working_days("alice", good_friday - timedelta(days=21), 21, hours=OFFICE_HOURS_UTC)
               if pd.Timestamp(row["timestamp"]).weekday() < 5]
    today = [login("alice", f"{good_friday} 10:00"), login("bob", f"{good_friday} 03:00", "Tokyo, Japan")]
    plain = features_of(history, today, day=good_friday)
    assert plain["day_off"].tolist() == [0.0, 0.0]
    assert plain["ctx_holiday"].isna().all()
    public = features_of(history, today, FeatureSettings(public_holidays=True), day=good_friday)
    assert public["ctx_holiday"][0] == "Good Friday" and pd.isna(public["ctx_holiday"][1])
    assert public["day_off"][0] > 0.9 and public["day_off"][1] == 0.0
    company = FeatureSettings(company_holidays=(good_friday.isoformat(),))
    out = features_of(history, today, company, day=good_friday)
    assert out["ctx_holiday"].tolist() == ["company day off", "company day off"]
    assert (out["day_off"] > 0.9).all()


def test_a_new_user_borrows_the_working_hours_of_their_peers():
    peers = sum((_office_worker(f"peer{k}") for k in range(4)), [])
    out = features_of(peers, [login("newbie", f"{DAY} 10:00"), login("newbie", f"{DAY} 02:00")])
    assert out["ctx_maturity"].tolist() == [0.0, 0.0]
    assert out["off_hours_distance"][0] == 0.0
    assert out["off_hours_distance"][1] > 4.0
    assert out["hour_rarity"][1] > out["hour_rarity"][0] + 1.0


def test_usual_window_wraps_midnight_for_night_shifts():
    night = np.zeros((1, 24))
    night[0, [22, 23, 0, 1, 2, 3, 4, 5]] = 10.0
    start, length = usual_windows(night, 0.9)
    assert (start[0], length[0]) == (22, 8)
    assert hours_outside(np.array([23.5, 3.0, 12.0]), start, length).tolist() == [0.0, 0.0, 6.0]


def test_an_empty_history_has_no_usual_window():
    start, length = usual_windows(np.zeros((1, 24)), 0.9)
    assert length[0] == 24
    assert hours_outside(np.array([3.0]), start, length).tolist() == [0.0]


def test_own_logins_near_the_time_of_day_tell_an_on_call_habit_from_a_day_worker():
    # bob works days too, but was paged at 02:30 and 03:10 UTC (03:30, 04:10 local) twice.
    paged = [login("bob", f"{DAY - timedelta(days=d)} {h}") for d in (3, 10) for h in ("02:30", "03:10")]
    history = _office_worker() + _office_worker("bob") + paged
    out = features_of(history, [login("alice", f"{DAY} 02:00"), login("bob", f"{DAY} 02:00"),
                                login("alice", f"{DAY} 10:00"), login("carol", f"{DAY} 02:00")])
    # 03:00 local: bob's four night logins are within two hours; alice has none; carol is unknown.
    assert out["ctx_own_events_near_hour"].tolist()[:2] == [0.0, 4.0]
    assert out["ctx_own_events_near_hour"][2] > 20 and out["ctx_own_events_near_hour"][3] == 0.0


def test_nights_are_counted_as_separate_days_of_trusted_small_hours_logins():
    # bob was paged on two nights (02:30 and 03:10 UTC: 03:30 and 04:10 local), dave once with
    # five logins; erin worked until 23:30 local, which is the evening, not the small hours.
    bob = [login("bob", f"{DAY - timedelta(days=d)} {h}") for d in (3, 10) for h in ("02:30", "03:10")]
    dave = [login("dave", f"{DAY - timedelta(days=4)} 02:{m:02d}") for m in range(10, 60, 10)]
    erin = [login("erin", f"{DAY - timedelta(days=d)} 22:30") for d in (2, 5, 9)]
    history = _office_worker() + _office_worker("bob") + _office_worker("dave") + _office_worker("erin")
    out = features_of(history + bob + dave + erin,
                      [login(user, f"{DAY} 02:00") for user in ("alice", "bob", "dave", "erin", "carol")])
    assert out["ctx_own_night_days"].tolist() == [0.0, 2.0, 1.0, 0.0, 0.0]


def test_the_hour_tables_are_the_same_whatever_the_run_of_users_worked_on(monkeypatch):
    history = [
        row
        for k, user in enumerate(["alice", "bob", "carol", "dave", "erin"])
        for row in working_days(user, DAY - timedelta(days=10), 10, hours=(k, 8 + k, 20 - k),
                                department="sales" if k % 2 else None)
    ]
    state = state_from(history)
    whole = time_of_day._probability_table(state, 5.0), time_of_day._windows(state, 5.0, 0.8)
    monkeypatch.setattr(time_of_day, "TABLE_ROWS", 2)
    in_runs = time_of_day._probability_table(state, 5.0), time_of_day._windows(state, 5.0, 0.8)
    assert state.n_users == 5
    np.testing.assert_array_equal(in_runs[0], whole[0])
    for got, expected in zip(in_runs[1], whole[1]):
        np.testing.assert_array_equal(got, expected)
