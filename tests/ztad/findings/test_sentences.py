"""Reasons for flagged events: codes and sentences that carry the actual numbers."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.sequences import DAY, features_of, frame, login, working_days
from ztad.behaviour.features import FEATURE_NAMES
from ztad.behaviour.rules import evaluate_rules
from ztad.findings.sentences import ExplainInputError, explain, format_bytes, format_clock, format_minutes
from ztad.findings.typical import TypicalValues

HOME_IP, ATTACKER = "192.0.2.10", "203.0.113.7"


def _explain(history, today, flagged=None):
    events = frame(today)
    features = features_of(history, today)
    flagged = np.ones(len(events), bool) if flagged is None else np.asarray(flagged)
    return explain(events, features, evaluate_rules(features), flagged)


def _texts(reasons, code=None) -> list[str]:
    return [r["text"] for r in reasons if code is None or r["code"] == code]


def _madrid(days=45):
    return working_days("alice", DAY - timedelta(days=days), days, location="Madrid, Spain", ip=HOME_IP,
                        hours=(8, 12, 15))


def test_impossible_travel_sentence_has_place_history_distance_time_and_speed():
    today = [login("alice", f"{DAY} 08:00", "Madrid, Spain", ip=HOME_IP),
             login("alice", f"{DAY} 08:40", "Lagos, Nigeria", ip=ATTACKER)]
    reasons = _explain(_madrid(), today, [False, True])
    assert len(reasons) == 1
    [text] = _texts(reasons.iloc[0], "impossible_travel")
    assert text.startswith("first login from Lagos, Nigeria (a country new for this user) in 30 days of history")
    assert re.search(r"3,8\d\d km from Madrid, Spain 40 min earlier \(5,7\d\d km/h\)", text)


def test_burst_of_failures_then_a_success():
    t0 = pd.Timestamp(f"{DAY} 10:00")
    today = [login("alice", str(t0 + timedelta(seconds=27 * k)), ip=ATTACKER, success=False) for k in range(14)]
    today.append(login("alice", str(t0 + timedelta(minutes=6)), ip=ATTACKER))
    flagged = [False] * 14 + [True]
    reasons = _explain(_madrid(10), today, flagged).iloc[0]
    assert "14 failed logins in 6 minutes from 203.0.113.7, then a success" in _texts(reasons, "success_after_failures")


def test_a_burst_without_client_addresses_names_the_workstation():
    t0 = pd.Timestamp(f"{DAY} 10:00")
    today = [login("alice", str(t0 + timedelta(seconds=20 * k)), ip=None, device="WS666", success=False)
             for k in range(12)]
    reasons = _explain(_madrid(10), today, [False] * 11 + [True]).iloc[0]
    assert "12 failed logins in 4 minutes from workstation WS666" in _texts(reasons, "brute_force")


def test_a_spray_from_a_workstation_names_it():
    victims = [f"v{k:02d}" for k in range(12)]
    history = sum((working_days(v, DAY - timedelta(days=3), 3) for v in victims), [])
    today = [login(v, f"{DAY} 11:{k:02d}", ip=None, device="WS666", success=False) for k, v in enumerate(victims)]
    reasons = _explain(history, today, [True] * 12).iloc[0]
    assert "workstation WS666 failed to log in as 12 different users (12 attempts) within an hour" in _texts(
        reasons, "password_spray"
    )


def test_bytes_many_times_the_users_usual_for_the_resource():
    history = working_days("alice", DAY - timedelta(days=20), 20, resource="erp-finance", nbytes=50_000, ip=HOME_IP)
    today = [login("alice", f"{DAY} 09:00", resource="erp-finance", nbytes=48 * 50_000, ip=HOME_IP)]
    # 48x is below the large-transfer rule's 50x: the reason is evidence, not a rule hit.
    [text] = _texts(_explain(history, today).iloc[0], "unusual_volume")
    assert text.startswith("bytes 48x this user's usual for erp-finance (2.3 MB vs 49 KB")


def test_login_at_night_names_local_time_and_usual_hours():
    today = [login("alice", f"{DAY} 02:12", "Madrid, Spain", ip=HOME_IP)]
    [text] = _texts(_explain(_madrid(20), today).iloc[0], "off_hours")
    assert text.startswith("login at 03:12 local time (Europe/Madrid); this user's usual hours are 09:00-17:00")


def test_a_new_user_is_said_to_be_judged_against_peers():
    peers = sum((working_days(u, DAY - timedelta(days=10), 10) for u in ("ann", "ben", "cat")), [])
    reasons = _explain(peers, [login("newbie", f"{DAY} 02:00", "Lagos, Nigeria", ip=ATTACKER)]).iloc[0]
    assert "new user (with no history, 0 events), judged against peers in finance" in _texts(reasons, "cold_start")


def test_every_flagged_row_gets_a_reason_with_numbers_and_only_flagged_rows_are_explained():
    today = [login("alice", f"{DAY} {h:02d}:00", ip=HOME_IP) for h in (8, 12, 15)]
    events = frame(today)
    events.index = [4, 5, 6]
    features = features_of(_madrid(10), today)
    features.index = events.index
    reasons = explain(events, features, evaluate_rules(features), [False, True, True])
    assert list(reasons.index) == [5, 6]
    for row in reasons:
        assert row and all(set(r) == {"code", "text"} for r in row)
        assert any(re.search(r"\d", r["text"]) for r in row)
    # An unremarkable event gets the features furthest from the day's typical values.
    assert reasons.iloc[0][0]["code"] == "deviation"


def test_the_flagged_rows_features_apart_from_the_days_model_inputs_give_the_same_reasons():
    today = [login("alice", f"{DAY} {h:02d}:00", ip=ip) for h, ip in ((8, HOME_IP), (12, ATTACKER), (15, HOME_IP))]
    events = frame(today)
    features = features_of(_madrid(10), today)
    rules, flagged = evaluate_rules(features), np.array([False, True, True])
    model_inputs = features[[c for c in features.columns if not c.startswith("ctx_")]]
    apart = explain(events, model_inputs, rules, flagged, features[flagged].reset_index(drop=True))
    whole = explain(events, features, rules, flagged)
    assert apart.tolist() == whole.tolist() and list(apart.index) == list(whole.index)
    assert any(r["code"] == "deviation" for r in apart.iloc[1])  # the fallback reads the day's inputs


def test_nothing_flagged_gives_an_empty_series():
    today = [login("alice", f"{DAY} 08:00", ip=HOME_IP)]
    features = features_of(_madrid(5), today)
    assert explain(frame(today), features, evaluate_rules(features), [False]).empty


def test_inputs_of_different_lengths_are_refused():
    today = [login("alice", f"{DAY} 08:00", ip=HOME_IP)]
    features = features_of(_madrid(5), today)
    with pytest.raises(ExplainInputError, match="different numbers of rows"):
        explain(frame(today), features, evaluate_rules(features), [True, False])


def test_number_formats():
    assert format_bytes(48_213) == "47 KB" and format_bytes(2.2e9) == "2.0 GB"
    assert format_minutes(40) == "40 min" and format_minutes(190) == "3 h 10 min"
    assert format_minutes(4000) == "2.8 days"
    assert format_clock(3.2) == "03:12" and format_clock(23.99) == "23:59"


def test_a_user_without_history_has_no_usual_hours_claimed():
    peers = sum((working_days(u, DAY - timedelta(days=10), 10) for u in ("ann", "ben", "cat")), [])
    reasons = _explain(peers, [login("newbie", f"{DAY} 02:00", "Madrid, Spain", ip=HOME_IP)]).iloc[0]
    [text] = _texts(reasons, "off_hours")
    assert text.endswith("the user has no earlier logins to compare its hour with")
    assert "usual hours" not in text and "this user's expected logins" not in text


def test_counts_of_one_are_singular():
    t0 = pd.Timestamp(f"{DAY} 10:00")
    today = [login("alice", str(t0 + timedelta(seconds=10 * k)), ip=ATTACKER, success=False)
             for k in range(8)]
    reasons = _explain(_madrid(10), today, [False] * 7 + [True]).iloc[0]
    assert "8 failed logins in 1 minute from 203.0.113.7" in _texts(reasons, "brute_force")


def test_a_successful_login_among_failures_is_not_explained_by_inverted_flags():
    t0 = pd.Timestamp(f"{DAY} 09:00")
    today = [login("alice", str(t0 + timedelta(hours=k)), ip=HOME_IP, success=False) for k in range(2)]
    today += [login("alice", f"{DAY} 12:00", ip=HOME_IP)]
    reasons = _explain(_madrid(10), today, [False, False, True]).iloc[0]
    texts = " ".join(_texts(reasons))
    assert "login_failed" not in texts and "typical today 1.00" not in texts


def _probes(ip, start, users):
    t0 = pd.Timestamp(f"{DAY} {start}")
    return [login(user, str(t0 + timedelta(seconds=20 * k)), None, ip=ip, success=False)
            for k, user in enumerate(users)]


def test_a_background_scanner_is_told_as_the_days_scanning_not_as_failures_or_a_new_user():
    today = (_probes("45.33.12.7", "03:00", ["root"] * 4 + ["admin", "(empty)"])
             + _probes("61.177.172.1", "05:00", ["test"]))
    today.append(login("alice", f"{DAY} 08:00", ip=HOME_IP))
    flagged = [True] * 7 + [False]
    reasons = _explain(_madrid(10), today, flagged)
    assert [[r["code"] for r in reason] for reason in reasons] == [["background_scanning"]] * 7
    assert reasons.iloc[0] == [{"code": "background_scanning", "text": (
        "one of 2 sources scanning today: 6 failed attempts against 3 accounts ((empty), admin, root) "
        "in 2 min, none succeeded")}]
    single = "one of 2 sources scanning today: 1 failed attempt against 1 account (test) in under a minute, "
    assert _texts(reasons.iloc[6]) == [single + "none succeeded"]


def test_without_other_evidence_the_two_features_furthest_from_the_days_typical_values_are_quoted():
    today = [login("alice", f"{DAY} 10:00", "Madrid, Spain", ip=HOME_IP)]
    events, features = frame(today), features_of(_madrid(10), today)
    names = [n for n in FEATURE_NAMES if n in features.columns]
    usual_day = pd.DataFrame(0.0, index=range(4), columns=names).assign(ip_users_history=0.5)

    def deviation(typical):
        reasons = explain(events, features, evaluate_rules(features), [True], typical=typical).iloc[0]
        return _texts(reasons, "deviation")

    # logins_today_ratio is -1 (10 spreads away), ip_users_today 0.69 (6.9), ip_users_history
    # 0.69 against 0.5 (1.9): the two furthest, furthest first, with the day's medians.
    assert deviation(TypicalValues.of_frame(usual_day)) == [
        "logins_today_ratio = -1.00 (typical today 0.00); ip_users_today = 0.69 (typical today 0.00)"
    ]
    assert deviation(TypicalValues.of_frame(features[names])) == [
        "the models found this combination of features rare; no single feature stands out"
    ]
