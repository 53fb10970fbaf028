"""New devices and addresses for the user, address churn, and how widely an address is shared."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from tests.ztad.behaviour.features.sequences import DAY, features_of, login, working_days
from ztad.behaviour.features import FeatureSettings
from ztad.behaviour.features.device import distinct_per_group

HOME_IP = "192.0.2.10"


def _history(user="alice", days=14):
    return working_days(user, DAY - timedelta(days=days), days, ip=HOME_IP)


def test_a_new_device_on_a_new_address_is_new_on_both_counts():
    out = features_of(_history(), [login("alice", f"{DAY} 09:00", ip=HOME_IP),
                                   login("alice", f"{DAY} 10:00", ip="198.51.100.7", device="strange-pc")])
    assert out["device_novelty"].tolist() == [0.0, 1.0]
    assert out["ip_novelty"].tolist() == [0.0, 1.0]
    assert out["network_novelty"].tolist() == [0.0, 1.0]
    assert out["ip_new_in_org"].tolist() == [0.0, 1.0]


def test_a_new_laptop_on_the_users_own_address_is_not_a_new_device():
    today = [login("alice", f"{DAY} 09:00", ip=HOME_IP, device="alice-new-laptop")]
    assert features_of(_history(), today)["device_novelty"].tolist() == [0.0]
    bare = features_of(_history(), today, FeatureSettings(known_networks=False))
    assert bare["device_novelty"].tolist() == [1.0]


def test_address_churn_of_a_known_device_inside_a_known_network_is_not_new():
    churned = [login("alice", f"{DAY} 09:00", ip="192.0.77.1")]  # same /16 as the home line
    out = features_of(_history(), churned)
    assert out["ip_novelty"].tolist() == [0.0] and out["network_novelty"].tolist() == [0.0]
    assert out["ip_new_in_org"].tolist() == [0.0]
    # On an unknown device the same new address counts: that is how a takeover looks.
    out = features_of(_history(), [login("alice", f"{DAY} 09:00", ip="192.0.77.1", device="strange-pc")])
    assert out["ip_novelty"].tolist() == [1.0]


def test_device_and_address_novelty_are_scaled_down_for_new_users():
    out = features_of(_history(), [login("newbie", f"{DAY} 09:00", ip="198.51.100.7")])
    assert out["ctx_maturity"][0] == 0.0
    assert out["device_novelty"][0] == 0.0 and out["ip_novelty"][0] == 0.0


def test_users_an_address_served_today_and_in_the_window():
    history = _history("ann") + _history("ben")
    today = [login(u, f"{DAY} 09:00", ip=HOME_IP) for u in ("ann", "ben", "cat")]
    today.append(login("ann", f"{DAY} 10:00", ip="198.51.100.7"))
    out = features_of(history, today)
    assert out["ctx_ip_users_today"].tolist() == [3.0, 3.0, 3.0, 1.0]
    assert out["ctx_ip_users_history"].tolist() == [2.0, 2.0, 2.0, 0.0]
    assert out["ip_users_today"][0] == np.log1p(3)


def test_distinct_per_group_counts_members_once():
    groups = np.array([0, 0, 0, 1, -1])
    members = np.array([5, 5, 6, 5, 5])
    assert distinct_per_group(groups, members).tolist() == [2.0, 2.0, 2.0, 1.0, 0.0]


def test_a_known_device_on_a_new_address_of_the_users_own_autonomous_system_is_churn():
    from datetime import timedelta

    from tests.ztad.behaviour.features.sequences import DAY, features_of, login, working_days

    carrier = 64510
    history = working_days("mo", DAY - timedelta(days=14), 14, ip="198.51.100.7", asn=carrier)
    # A mobile carrier's pool spans many /16s: a new address in another /16, same system.
    hop = [login("mo", f"{DAY} 09:00", ip="198.19.4.4", asn=carrier)]
    out = features_of(history, hop).iloc[0]
    assert out["ctx_network_days"] == 0 and out["ip_novelty"] == 0.0 and out["ip_new_in_org"] == 0.0
    # A new device there is no churn: it is the shape of a takeover.
    stranger = features_of(history, [login("mo", f"{DAY} 09:00", ip="198.19.4.4", asn=carrier, device="x")])
    assert stranger["ip_novelty"][0] == 1.0
    # Another system: a new source.
    other = features_of(history, [login("mo", f"{DAY} 09:00", ip="198.19.4.4", asn=carrier + 1)])
    assert other["ip_novelty"][0] == 1.0
