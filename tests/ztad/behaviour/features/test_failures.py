"""Failure bursts per user, one source failing across users, success after failures."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.sequences import DAY, features_of, login, working_days
from ztad.behaviour.features import FeatureSettings
from ztad.behaviour.features.failures import distinct_in_window, peak_in_window, window_counts

ATTACKER = "203.0.113.7"


def _burst(user="alice", failures=14, minutes=6, start="10:00"):
    t0 = pd.Timestamp(f"{DAY} {start}")
    step = timedelta(minutes=minutes) / (failures - 1)
    rows = [login(user, str(t0 + k * step), ip=ATTACKER, success=False) for k in range(failures)]
    rows.append(login(user, str(t0 + timedelta(minutes=minutes, seconds=30)), ip=ATTACKER))
    return rows


def test_fourteen_failures_in_six_minutes_then_a_success():
    out = features_of(working_days("alice", DAY - timedelta(days=5), 5), _burst())
    success = out.iloc[-1]
    assert out["ctx_user_failures_10m"].tolist()[:14] == list(range(1, 15))
    assert success["ctx_user_failures_10m"] == 14 and success["login_failed"] == 0.0
    assert success["success_after_failures"] == pytest.approx(np.log1p(14))
    assert success["ctx_burst_minutes"] == pytest.approx(6.5)
    assert success["ctx_burst_ip"] == ATTACKER
    assert out["success_after_failures"].iloc[:14].eq(0).all()


def test_the_hour_window_remembers_what_the_ten_minute_window_forgets():
    rows = [login("alice", f"{DAY} 10:{m:02d}", success=False) for m in (0, 5, 10, 25, 40)]
    out = features_of([], rows)
    assert out["ctx_user_failures_10m"].tolist() == [1, 2, 3, 1, 1]
    assert out["ctx_user_failures_60m"].tolist() == [1, 2, 3, 4, 5]


def test_one_source_failing_for_many_users_is_a_spray():
    victims = [f"v{k:02d}" for k in range(12)]
    history = sum((working_days(v, DAY - timedelta(days=3), 3) for v in victims), [])
    today = [login(v, f"{DAY} 11:{k:02d}", ip=ATTACKER, success=False) for k, v in enumerate(victims)]
    out = features_of(history, today)
    # The first victim of the spray is as sprayed as the last: the whole hour counts.
    assert out["ctx_ip_failed_users_60m"].tolist() == [12] * 12
    assert out["ctx_ip_failures_60m"].tolist() == [12] * 12
    assert out["ip_failed_users_60m"].iloc[0] == pytest.approx(np.log1p(12))


def test_a_spray_an_hour_later_does_not_reach_back():
    victims = [f"v{k:02d}" for k in range(12)]
    history = sum((working_days(v, DAY - timedelta(days=3), 3) for v in victims), [])
    early = [login("v00", f"{DAY} 09:00", ip=ATTACKER, success=False)]
    spray = [login(v, f"{DAY} 11:{k:02d}", ip=ATTACKER, success=False) for k, v in enumerate(victims)]
    out = features_of(history, early + spray)
    assert out["ctx_ip_failed_users_60m"].tolist() == [1] + [12] * 12


def test_failures_of_users_on_their_own_office_address_are_not_a_spray():
    staff = [f"s{k:02d}" for k in range(12)]
    office = "198.51.100.1"
    history = sum((working_days(u, DAY - timedelta(days=3), 3, ip=office) for u in staff), [])
    today = [login(u, f"{DAY} 11:{k:02d}", ip=office, success=False) for k, u in enumerate(staff)]
    assert features_of(history, today)["ctx_ip_failed_users_60m"].max() == 0
    counted = features_of(history, today, FeatureSettings(known_networks=False))
    assert counted["ctx_ip_failed_users_60m"].max() == 12


def test_newcomers_failing_through_the_organisations_shared_address_are_not_a_spray():
    # Twelve staff made the office egress a shared address; twelve newcomers who never used it
    # fail through it within the hour: a large organisation's ordinary morning.
    office = "198.51.100.1"
    staff = [f"s{k:02d}" for k in range(12)]
    newcomers = [f"n{k:02d}" for k in range(12)]
    history = sum((working_days(u, DAY - timedelta(days=3), 3, ip=office) for u in staff), [])
    today = [login(u, f"{DAY} 11:{k:02d}", ip=office, success=False) for k, u in enumerate(newcomers)]
    assert features_of(history, today)["ctx_ip_failed_users_60m"].max() == 0
    # Nine users are not yet the organisation's address: the newcomers' failures count.
    few = sum((working_days(u, DAY - timedelta(days=3), 3, ip=office) for u in staff[:9]), [])
    assert features_of(few, today)["ctx_ip_failed_users_60m"].max() == 12


def test_a_workstation_failing_for_many_users_without_addresses_is_a_spray():
    victims = [f"v{k:02d}" for k in range(12)]
    history = sum((working_days(v, DAY - timedelta(days=3), 3) for v in victims), [])
    today = [login(v, f"{DAY} 11:{k:02d}", ip=None, device="WS666", success=False) for k, v in enumerate(victims)]
    out = features_of(history, today)
    assert out["ctx_ip_failed_users_60m"].tolist() == [12] * 12
    assert out["ctx_burst_ip"].iloc[0] == "workstation WS666"


def test_users_failing_on_their_own_workstations_are_not_a_spray():
    # Each user's own laptop fails once, with no address: twelve sources, none new to its user.
    victims = [f"v{k:02d}" for k in range(12)]
    history = sum((working_days(v, DAY - timedelta(days=3), 3) for v in victims), [])
    today = [login(v, f"{DAY} 11:{k:02d}", ip=None, success=False) for k, v in enumerate(victims)]
    assert features_of(history, today)["ctx_ip_failed_users_60m"].max() == 0


def test_window_counts_by_group_with_first_and_last_flagged_rows():
    groups = np.array([0, 0, 1, 0])
    micros = np.array([0, 60, 90, 700]) * 1_000_000
    flags = np.array([True, True, True, False])
    count, first, last = window_counts(groups, micros, flags, 600 * 1_000_000)
    # The 700 s event looks back to 100 s: both earlier failures of its group are too old.
    assert count.tolist() == [1, 2, 1, 0]
    assert first.tolist() == [0, 0, 2, -1] and last.tolist() == [0, 1, 2, -1]


def test_distinct_in_window_matches_a_direct_count():
    rng = np.random.default_rng(3)
    n = 300
    groups, micros, members = rng.integers(0, 3, n), rng.integers(0, 7200, n) * 1_000_000, rng.integers(0, 20, n)
    count, distinct = distinct_in_window(groups, micros, members, groups, micros, 3600 * 1_000_000, cap=10_000)
    for i in range(0, n, 7):
        inside = (groups == groups[i]) & (micros <= micros[i]) & (micros >= micros[i] - 3600 * 1_000_000)
        assert count[i] == inside.sum()
        assert distinct[i] == len(set(members[inside]))
    _, capped = distinct_in_window(groups, micros, members, groups, micros, 3600 * 1_000_000, cap=3)
    assert (capped <= np.minimum(distinct, 3)).all() and (capped >= np.minimum(distinct, 1)).all()


def test_peak_in_window_matches_the_busiest_window_holding_each_query():
    rng = np.random.default_rng(5)
    n, hour = 400, 3600 * 1_000_000
    groups, micros, members = rng.integers(0, 3, n), rng.integers(0, 4 * 3600, n) * 1_000_000, rng.integers(0, 25, n)
    queries = rng.integers(0, 4 * 3600, 60) * 1_000_000
    query_groups = np.r_[rng.integers(0, 3, 59), -1]
    count, distinct = peak_in_window(groups, micros, members, query_groups, queries, hour, cap=10_000)
    for i, (g, t) in enumerate(zip(query_groups, queries)):
        ends = [t] + [p for p in micros[groups == g] if t <= p <= t + hour] if g >= 0 else []
        windows = [(groups == g) & (micros <= e) & (micros >= e - hour) for e in ends]
        best = max(((len(set(members[w])), w.sum()) for w in windows), default=(0, 0))
        assert (distinct[i], count[i]) == best


def test_refused_public_keys_are_not_counted_as_guesses():
    # The operator's client offers five keys before the right one: five refusals, one success.
    probes = [{**login("alice", f"{DAY} 10:00:0{k}", ip=ATTACKER, success=False), "auth_method": "publickey"}
              for k in range(9)]
    success = {**login("alice", f"{DAY} 10:00:30", ip=ATTACKER), "auth_method": "publickey"}
    out = features_of([], probes + [success])
    assert out["login_failed"].tolist() == [1.0] * 9 + [0.0]  # still failures
    assert out["ctx_user_failures_10m"].tolist() == [0] * 10  # but no guesses
    assert out["success_after_failures"].eq(0).all()
    guesses = [{**p, "auth_method": "password"} for p in probes]
    assert features_of([], guesses + [success])["ctx_user_failures_10m"].iloc[-1] == 9


def test_key_probes_against_many_users_are_no_spray():
    victims = [f"v{k:02d}" for k in range(12)]
    history = sum((working_days(v, DAY - timedelta(days=3), 3) for v in victims), [])
    probes = [{**login(v, f"{DAY} 11:{k:02d}", ip=ATTACKER, success=False), "auth_method": "publickey"}
              for k, v in enumerate(victims)]
    assert features_of(history, probes)["ctx_ip_failed_users_60m"].eq(0).all()
    guesses = [{**p, "auth_method": None} for p in probes]  # method unknown: a guess
    assert features_of(history, guesses)["ctx_ip_failed_users_60m"].eq(12).all()


def test_queries_sharing_a_window_each_get_its_direct_count():
    rng = np.random.default_rng(8)
    hour = 3600 * 1_000_000
    groups, micros, members = rng.integers(0, 2, 40), rng.integers(0, 3 * 3600, 40) * 1_000_000, rng.integers(0, 9, 40)
    query_groups, queries = rng.integers(-1, 2, 2000), rng.integers(0, 3 * 3600, 2000) * 1_000_000
    count, distinct = distinct_in_window(groups, micros, members, query_groups, queries, hour, cap=10_000)
    for i in range(0, 2000, 13):
        inside = (groups == query_groups[i]) & (micros <= queries[i]) & (micros >= queries[i] - hour)
        assert (count[i], distinct[i]) == (inside.sum(), len(set(members[inside])))
    assert len(set(zip(count, distinct))) > 5
