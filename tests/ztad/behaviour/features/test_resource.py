"""First access to a resource, rarity within the peer group, and configured sensitivity."""

from __future__ import annotations

from datetime import timedelta

from tests.ztad.behaviour.features.sequences import DAY, features_of, login, working_days
from ztad.config import DetectionConfig


def _finance(days=14):
    users = ("ann", "ben", "cat", "dan")
    return sum((working_days(u, DAY - timedelta(days=days), days, resource="erp-finance") for u in users), []) \
        + working_days("ann", DAY - timedelta(days=days), days, hours=(16,), resource="wiki")


def test_first_access_and_rarity_among_peers():
    today = [login("ann", f"{DAY} 09:00", resource="erp-finance"),
             login("ben", f"{DAY} 09:00", resource="wiki"),
             login("ben", f"{DAY} 10:00", resource="payroll")]
    out = features_of(_finance(), today)
    assert out["resource_novelty"].tolist() == [0.0, 1.0, 1.0]
    assert out["resource_rarity_peers"][0] < 0.1
    # The wiki is used by one of four peers; payroll by none of them.
    assert 0.1 < out["resource_rarity_peers"][1] < out["resource_rarity_peers"][2]
    assert out["ctx_resource_group_users"].tolist() == [4.0, 1.0, 0.0]


def test_a_new_user_is_judged_against_peers_for_resources():
    today = [login("newbie", f"{DAY} 09:00", resource="erp-finance"),
             login("newbie", f"{DAY} 10:00", resource="payroll")]
    assert features_of(_finance(), today)["resource_novelty"].tolist() == [0.0, 1.0]


def test_sensitive_resources_come_from_the_configuration_ignoring_case():
    config = DetectionConfig(sensitive_resources=("Payroll",))
    today = [login("ann", f"{DAY} 09:00", resource="payroll"), login("ann", f"{DAY} 09:05", resource="wiki"),
             login("ann", f"{DAY} 09:10", resource=None)]
    out = features_of(_finance(), today, config=config)
    assert out["resource_sensitive"].tolist() == [1.0, 0.0, 0.0]
    assert out["resource_novelty"][2] == 0.0 and out["resource_rarity_peers"][2] == 0.0
