"""Travel between consecutive logins: speed, GeoIP noise, known networks, plausible trips."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.sequences import DAY, features_of, login, working_days
from ztad.behaviour.features import FeatureSettings
from ztad.behaviour.rules import evaluate_rules

HOME_IP, VPN_IP, LAGOS_IP = "192.0.2.10", "203.0.113.5", "198.51.100.7"
YESTERDAY = DAY - timedelta(days=1)


def _madrid_history(user="alice", days=14):
    return working_days(user, DAY - timedelta(days=days), days, location="Madrid, Spain", ip=HOME_IP)


def test_madrid_then_lagos_40_minutes_later_is_about_5750_kmh():
    out = features_of(_madrid_history(), [
        login("alice", f"{DAY} 09:00", "Madrid, Spain", ip=HOME_IP),
        login("alice", f"{DAY} 09:40", "Lagos, Nigeria", ip=LAGOS_IP),
    ])
    lagos = out.iloc[1]
    assert lagos["ctx_travel_km"] == pytest.approx(3830, rel=0.01)
    assert lagos["ctx_travel_kmh"] == pytest.approx(5750, rel=0.01)
    assert lagos["ctx_travel_minutes"] == pytest.approx(40)
    assert lagos["ctx_travel_location"] == "Madrid, Spain" and lagos["ctx_travel_direction"] == -1
    assert lagos["travel_speed"] == pytest.approx(np.log2(lagos["ctx_travel_kmh"] / 900))
    assert out["travel_speed"][0] == 0.0  # the user's own home login is not blamed
    assert out["ctx_day_worst_speed_kmh"].tolist() == [lagos["ctx_travel_kmh"]] * 2
    assert evaluate_rules(out)["impossible_travel"].tolist() == [False, True]


def test_the_previous_days_last_login_counts_across_midnight():
    history = _madrid_history() + [login("alice", f"{YESTERDAY} 23:50", "Madrid, Spain", ip=HOME_IP)]
    out = features_of(history, [login("alice", f"{DAY} 00:30", "Lagos, Nigeria", ip=LAGOS_IP)])
    assert out["ctx_prev_location"][0] == "Madrid, Spain"
    assert out["ctx_prev_minutes"][0] == pytest.approx(40)
    assert out["ctx_travel_kmh"][0] == pytest.approx(5750, rel=0.01)


def test_a_foreign_login_just_before_the_users_own_is_blamed_too():
    out = features_of(_madrid_history(), [
        login("alice", f"{DAY} 09:00", "Lagos, Nigeria", ip=LAGOS_IP),
        login("alice", f"{DAY} 09:40", "Madrid, Spain", ip=HOME_IP),
    ])
    assert out["ctx_travel_direction"].tolist() == [1.0, 0.0]
    assert out["ctx_travel_location"][0] == "Madrid, Spain"
    assert out["travel_speed"][0] > 2.5 and out["travel_speed"][1] == 0.0


def test_moves_within_the_geoip_noise_radius_are_not_travel():
    out = features_of(_madrid_history(), [
        login("alice", f"{DAY} 09:00", "Madrid, Spain", ip=HOME_IP),
        login("alice", f"{DAY} 09:01", "Getafe, Spain", ip=LAGOS_IP),
    ])
    assert 5 < out["ctx_distance_km"][1] < 50
    assert out["ctx_speed_kmh"][1] == 0.0 and out["travel_speed"][1] == 0.0


def _vpn_user_history():
    rows = []
    for d in range(10):
        day = DAY - timedelta(days=10 - d)
        rows += [login("vera", f"{day} 08:00", "Madrid, Spain", ip=HOME_IP, device="vera-phone"),
                 login("vera", f"{day} 08:10", "Frankfurt, Germany", ip=VPN_IP)]
    return rows


def test_a_regular_vpn_egress_is_not_impossible_travel():
    today = [login("vera", f"{DAY} 08:00", "Madrid, Spain", ip=HOME_IP, device="vera-phone"),
             login("vera", f"{DAY} 08:10", "Frankfurt, Germany", ip=VPN_IP)]
    out = features_of(_vpn_user_history(), today)
    assert out["ctx_known_network"].tolist() == [1.0, 1.0]
    assert out["travel_speed"].tolist() == [0.0, 0.0]
    assert not evaluate_rules(out)["impossible_travel"].any()
    # Without the allowance the same hop is impossible travel: the allowance is what keeps it quiet.
    bare = features_of(_vpn_user_history(), today, FeatureSettings(known_networks=False))
    assert evaluate_rules(bare)["impossible_travel"].all()


def test_an_address_shared_by_many_users_of_the_organisation_is_a_known_network():
    office = sum((working_days(f"u{k}", YESTERDAY, 1, location="Frankfurt, Germany", ip=VPN_IP)
                  for k in range(10)), [])
    today = [login("alice", f"{DAY} 09:00", "Madrid, Spain", ip=HOME_IP),
             login("alice", f"{DAY} 09:10", "Frankfurt, Germany", ip=VPN_IP)]
    out = features_of(_madrid_history() + office, today)
    assert out["ctx_known_network"][1] == 1.0 and out["travel_speed"][1] == 0.0


def test_a_plausible_business_trip_on_the_users_laptop_is_not_a_new_place():
    today = [login("alice", f"{DAY} 06:00", "Madrid, Spain", ip=HOME_IP),
             login("alice", f"{DAY} 16:00", "New York, USA", ip="198.51.100.99"),
             login("alice", f"{DAY} 18:00", "New York, USA", ip="198.51.100.99")]
    out = features_of(_madrid_history(), today)
    assert out["ctx_on_trip"].tolist() == [0.0, 1.0, 1.0]
    assert out["ctx_speed_kmh"][1] == pytest.approx(577, rel=0.02)
    assert out["city_novelty"].tolist() == [0.0, 0.0, 0.0]
    assert out["ip_novelty"].tolist() == [0.0, 0.0, 0.0]
    assert out["travel_speed"].tolist() == [0.0, 0.0, 0.0]
    strict = features_of(_madrid_history(), today, FeatureSettings(plausible_travel=False))
    assert strict["city_novelty"].tolist() == [0.0, 1.0, 1.0]


def test_a_trip_on_an_unknown_device_or_with_an_impossible_return_is_not_plausible():
    stolen = [login("alice", f"{DAY} 06:00", "Madrid, Spain", ip=HOME_IP),
              login("alice", f"{DAY} 16:00", "New York, USA", ip="198.51.100.99", device="attacker-pc")]
    assert features_of(_madrid_history(), stolen)["city_novelty"][1] == 1.0
    bounced = [login("alice", f"{DAY} 06:00", "Madrid, Spain", ip=HOME_IP),
               login("alice", f"{DAY} 16:00", "New York, USA", ip="198.51.100.99"),
               login("alice", f"{DAY} 16:30", "Madrid, Spain", ip=HOME_IP)]
    out = features_of(_madrid_history(), bounced)
    assert out["ctx_on_trip"][1] == 0.0 and out["city_novelty"][1] == 1.0
    assert out["ctx_travel_direction"][1] == 1.0 and out["travel_speed"][1] > 3


def test_failed_attempts_from_elsewhere_do_not_move_the_user():
    today = [login("alice", f"{DAY} 09:00", "Madrid, Spain", ip=HOME_IP),
             login("alice", f"{DAY} 09:05", "Lagos, Nigeria", ip=LAGOS_IP, success=False),
             login("alice", f"{DAY} 09:10", "Madrid, Spain", ip=HOME_IP)]
    out = features_of(_madrid_history(), today)
    assert out["travel_speed"].tolist() == [0.0, 0.0, 0.0]
    assert out["ctx_prev_location"][2] == "Madrid, Spain"
    assert not evaluate_rules(out)["impossible_travel"].any()


# A corporate VPN whose egress addresses GeoIP places all over the world share one autonomous
# system; the hosting provider an attacker rents does not.
VPN_ASN, HOME_ASN, HOSTING_ASN = 64500, 64501, 64666
SINGAPORE_EGRESS = "198.18.7.20"  # another /16 than any address seen before


def _vpn_asn_history(user="vera", days=10):
    rows = []
    for d in range(days):
        day = DAY - timedelta(days=days - d)
        rows += [login(user, f"{day} 08:00", "Madrid, Spain", ip=HOME_IP, asn=HOME_ASN),
                 login(user, f"{day} 08:10", "Frankfurt, Germany", ip=VPN_IP, asn=VPN_ASN)]
    return rows


def _hop_to_singapore(user="vera", asn=VPN_ASN):
    return [login(user, f"{DAY} 08:00", "Madrid, Spain", ip=HOME_IP, asn=HOME_ASN),
            login(user, f"{DAY} 08:10", "Singapore, Singapore", ip=SINGAPORE_EGRESS, asn=asn)]


def test_a_new_egress_of_the_users_regular_autonomous_system_is_a_known_network():
    out = features_of(_vpn_asn_history(), _hop_to_singapore())
    hop = out.iloc[1]
    assert hop["ctx_ip_days"] == 0 and hop["ctx_network_days"] == 0  # new address, new /16
    assert hop["ctx_known_network"] == 1.0
    assert out["travel_speed"].tolist() == [0.0, 0.0]
    assert not evaluate_rules(out)["impossible_travel"].any()


def test_the_same_hop_from_an_unknown_autonomous_system_is_impossible_travel():
    out = features_of(_vpn_asn_history(), _hop_to_singapore(asn=HOSTING_ASN))
    assert out["ctx_known_network"][1] == 0.0 and out["travel_speed"][1] > 3
    assert evaluate_rules(out)["impossible_travel"].tolist() == [False, True]
    # Without ASN data the hop is judged on addresses and places alone: also impossible travel.
    no_asn = [dict(row, asn=None) for row in _hop_to_singapore()]
    assert evaluate_rules(features_of(_vpn_asn_history(), no_asn))["impossible_travel"].tolist() == [False, True]


def test_an_autonomous_system_used_on_a_single_day_is_not_yet_the_users():
    history = _madrid_history("vera") + [login("vera", f"{YESTERDAY} 08:10", "Frankfurt, Germany",
                                               ip=VPN_IP, asn=VPN_ASN)]
    out = features_of(history, _hop_to_singapore())
    assert out["ctx_known_network"][1] == 0.0
    assert evaluate_rules(out)["impossible_travel"][1]


def test_an_autonomous_system_shared_by_many_users_of_the_organisation_is_a_known_network():
    colleagues = sum((working_days(f"u{k}", YESTERDAY, 1, location="Frankfurt, Germany",
                                   ip=f"203.0.113.{k + 1}", asn=VPN_ASN) for k in range(10)), [])
    history = _madrid_history("vera") + colleagues
    out = features_of(history, _hop_to_singapore())
    assert out["ctx_known_network"][1] == 1.0 and out["travel_speed"][1] == 0.0
    few = features_of(_madrid_history("vera") + colleagues[: 3 * 9], _hop_to_singapore())
    assert few["ctx_known_network"][1] == 0.0  # nine users: not yet the organisation's network
    bare = features_of(history, _hop_to_singapore(), FeatureSettings(known_networks=False))
    assert evaluate_rules(bare)["impossible_travel"][1]


def test_places_are_coded_over_the_events_places_then_the_other_last_places_sorted():
    from tests.ztad.behaviour.features.sequences import frame, state_from
    from ztad.behaviour.features.context import build_context
    from ztad.behaviour.features.trips import place_codes
    from ztad.config import DetectionConfig

    last = {"ann": "Oslo, Norway", "bob": "Lagos, Nigeria", "cid": "Madrid, Spain", "dee": "Bergen, Norway"}
    history = [login(user, f"{YESTERDAY} 10:00", place) for user, place in last.items()]
    today = [login("bob", f"{DAY} 09:00", "Madrid, Spain"), login("eve", f"{DAY} 09:05", "Lima, Peru"),
             login("ann", f"{DAY} 09:10", None)]
    state = state_from(history)
    ctx = build_context(frame(today), state, DetectionConfig(), FeatureSettings())
    event_codes, user_codes, dtype = place_codes(ctx)
    places = dtype.categories
    assert list(places) == ["Madrid, Spain", "Lima, Peru", "Bergen, Norway", "Lagos, Nigeria", "Oslo, Norway"]
    assert [places[c] if c >= 0 else None for c in event_codes] == ["Madrid, Spain", "Lima, Peru", None]
    codes = state.user_codes(pd.Series(list(last), dtype="string"))
    assert {user: places[user_codes[code]] for user, code in zip(last, codes)} == last
