import numpy as np
import pytest

from ztad.synth.attack_plan import CAMPAIGN_KINDS, expected_normal_events, kind_code, plan_attacks
from ztad.synth.hard_negatives import build_hard_negatives
from ztad.synth.organisation import build_organisation

FIRST = 739677  # a Monday


@pytest.fixture(scope="module")
def org_and_hn():
    org = build_organisation(300, np.random.default_rng(8))
    hn = build_hard_negatives(org, np.random.default_rng(8), first_day=FIRST, days=40, clean_days=14)
    return org, hn


def plan(org_and_hn, **kw):
    org, hn = org_and_hn
    settings = {"first_day": FIRST, "days": 40, "clean_days": 14, "attack_rate": 0.01} | kw
    return plan_attacks(org, hn, np.random.default_rng(1), **settings)


def test_no_campaign_during_the_clean_history(org_and_hn):
    schedule = plan(org_and_hn)
    assert len(schedule) > 0
    assert schedule.day.min() >= FIRST + 14
    assert schedule.day.max() < FIRST + 40


def test_attack_events_match_the_rate(org_and_hn):
    org, hn = org_and_hn
    schedule = plan(org_and_hn, attack_rate=0.02)
    normal = sum(expected_normal_events(org, hn, d) for d in range(FIRST + 14, FIRST + 40))
    share = schedule.size.sum() / (normal + schedule.size.sum())
    assert share == pytest.approx(0.02, rel=0.15)


def test_every_kind_is_planned(org_and_hn):
    assert set(plan(org_and_hn).kind) == set(range(len(CAMPAIGN_KINDS)))


def test_brute_force_and_spray_sizes_hold_their_parts(org_and_hn):
    schedule = plan(org_and_hn)
    brute = schedule.kind == kind_code("multiple_failed_logins")
    assert (schedule.primary[brute] >= 8).all()
    assert (schedule.size[brute] > schedule.primary[brute]).tolist() == schedule.success[brute].tolist()
    spray = schedule.kind == kind_code("password_spray")
    assert (schedule.primary[spray] >= 8).all() and (schedule.size[spray] >= schedule.primary[spray]).all()


def test_nothing_is_planned_without_rate_or_scored_days(org_and_hn):
    assert len(plan(org_and_hn, attack_rate=0.0)) == 0
    assert len(plan(org_and_hn, clean_days=40)) == 0


def test_busier_days_expect_more_events(org_and_hn):
    org, hn = org_and_hn
    monday, saturday = expected_normal_events(org, hn, FIRST), expected_normal_events(org, hn, FIRST + 5)
    assert monday > 3 * saturday > 0
