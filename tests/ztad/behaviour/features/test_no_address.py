"""Events without a client address (Windows NTLM validation, local logons): no invented signals.

A null ``ip_address`` is no address at all: not a new IP, network or organisation-wide
address, not a place change, not one "source" shared by everyone who has none. What the event
does say (who failed, when, from which workstation) still counts: the workstation is the
attempt's source (:mod:`ztad.behaviour.attempt_source`).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.ztad.behaviour.features.sequences import DAY, features_of, frame, login, state_from, working_days
from ztad.behaviour.features import cross_user_signals
from ztad.behaviour.rules import evaluate_rules
from ztad.config import DetectionConfig
from ztad.findings.sentences import explain

ADDRESS_FEATURES = ("ip_novelty", "network_novelty", "ip_new_in_org", "ip_users_today", "ip_users_history",
                    "travel_speed", "city_novelty", "country_novelty")


def _history(users=("alice",), days=10, **fields):
    first = DAY - timedelta(days=days)
    return sum((working_days(user, first, days, location="Madrid, Spain", ip="192.0.2.10", **fields)
                for user in users), [])


def _ntlm(user: str, clock: str, success: bool = False, workstation: str = "ws077") -> dict:
    """A 4776 credential validation as the Windows source emits it: no address, no place."""
    return login(user, f"{DAY} {clock}", None, ip=None, success=success, device=workstation, resource="dc01")


def test_a_burst_without_addresses_is_a_brute_force_and_nothing_else():
    today = [_ntlm("alice", f"09:{minute:02d}") for minute in range(10)] + [_ntlm("alice", "09:10", success=True)]
    out = features_of(_history(), today)
    for name in ADDRESS_FEATURES:
        assert (out[name] == 0.0).all(), name
    assert (out["ctx_known_network"] == 0.0).all()
    assert np.isnan(out["ctx_distance_km"]).all()
    assert out["ctx_user_failures_10m"].iloc[9] == 10
    assert out["ctx_ip_failed_users_60m"].max() == 1  # the workstation failed for alice only
    rules = evaluate_rules(out)
    assert rules["brute_force"].iloc[9] and rules["success_after_failures"].iloc[10]
    assert not rules[["impossible_travel", "password_spray", "new_device_new_place"]].any().any()


def test_a_null_address_is_not_one_shared_source_across_users():
    # Fifteen users mistype their passwords on their own workstations within the hour.
    users = [f"user{k:02d}" for k in range(15)]
    history = sum((_history([user], device=f"ws{k:03d}") for k, user in enumerate(users)), [])
    today = [_ntlm(user, f"09:{k:02d}", workstation=f"ws{k:03d}") for k, user in enumerate(users)]
    out = features_of(history, today)
    assert (out["ip_failed_users_60m"] == 0.0).all() and (out["ip_users_today"] == 0.0).all()
    assert not evaluate_rules(out)["password_spray"].any()
    signals = cross_user_signals(frame(today), state_from(history), DetectionConfig())
    assert (signals.to_numpy() == 0).all()


def test_one_workstation_failing_for_many_users_is_a_spray_without_any_address():
    users = [f"user{k:02d}" for k in range(15)]
    today = [_ntlm(user, f"09:{k:02d}", workstation="ws666") for k, user in enumerate(users)]
    out = features_of(_history(users), today)
    assert (out["ctx_ip_failed_users_60m"] == 15).all()
    assert evaluate_rules(out)["password_spray"].all()


def test_addressless_events_between_located_logins_do_not_break_travel():
    today = [login("alice", f"{DAY} 08:00", "Madrid, Spain", ip="192.0.2.10"),
             _ntlm("alice", "08:05", success=True),
             login("alice", f"{DAY} 08:40", "Lagos, Nigeria", ip="198.51.100.7")]
    out = features_of(_history(), today)
    assert out["ctx_prev_location"][2] == "Madrid, Spain"  # the address-free login is skipped
    assert out["travel_speed"][1] == 0.0 and out["travel_speed"][2] > 2
    assert evaluate_rules(out)["impossible_travel"].tolist() == [False, False, True]


def test_a_new_user_with_only_addressless_events_gets_no_address_novelty():
    today = [_ntlm("newbie", "09:00", success=True), _ntlm("newbie", "09:30", success=True)]
    out = features_of(_history(), today)
    for name in ADDRESS_FEATURES:
        assert (out[name] == 0.0).all(), name


def test_reasons_for_an_addressless_burst_can_be_written():
    today = [_ntlm("alice", f"09:{minute:02d}") for minute in range(10)]
    events = frame(today)
    out = features_of(_history(), today)
    hits = evaluate_rules(out)
    reasons = explain(events, out, hits, hits.any(axis=1).to_numpy())
    assert len(reasons) and all(reasons.map(len))
    codes = {reason["code"] for listed in reasons for reason in listed}
    assert "brute_force" in codes and "password_spray" not in codes


@pytest.mark.parametrize("ip", [None, "192.0.2.10"])
def test_addressless_history_does_not_make_a_later_address_known(ip):
    history = [_ntlm("alice", "09:00") | {"timestamp": f"{DAY - timedelta(days=d)} 09:00"} for d in range(1, 6)]
    out = features_of(history, [login("alice", f"{DAY} 09:00", "Madrid, Spain", ip=ip)])
    assert out["ctx_ip_days"][0] == 0.0 and out["ctx_known_network"][0] == 0.0
