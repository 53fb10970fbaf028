"""New city or country for the user, judged against peers for thin history, and rarity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.ztad.behaviour.features.sequences import DAY, features_of, frame, login, state_from, working_days
from ztad.behaviour.features import FeatureSettings
from ztad.behaviour.features.context import build_context
from ztad.behaviour.features.place import group_users
from ztad.config import DetectionConfig


def _team(users=("ann", "ben", "cat", "dan"), days=14, location="Madrid, Spain"):
    return sum((working_days(u, DAY - timedelta(days=days), days, location=location) for u in users), [])


# Elsewhere on the user's own laptop at a plausible speed would be a trip (see test_trips):
# these logins come from another machine.
ELSEWHERE = "kiosk-7"


def test_a_city_and_country_the_user_never_used_are_new():
    out = features_of(_team(), [login("ann", f"{DAY} 09:00", "Madrid, Spain"),
                                login("ann", f"{DAY} 12:00", "Barcelona, Spain", device=ELSEWHERE),
                                login("ann", f"{DAY} 18:00", "Lagos, Nigeria", device=ELSEWHERE)])
    assert out["city_novelty"].tolist() == [0.0, 1.0, 1.0]
    assert out["country_novelty"].tolist() == [0.0, 0.0, 1.0]


def test_rarity_counts_only_for_a_city_new_to_the_user():
    history = _team() + working_days("eve", DAY - timedelta(days=14), 14, location="Lagos, Nigeria")
    out = features_of(history, [login("ann", f"{DAY} 09:00", "Madrid, Spain"),
                                login("ann", f"{DAY} 18:00", "Lagos, Nigeria", device=ELSEWHERE),
                                login("ann", f"{DAY} 20:00", "Sydney, Australia", device=ELSEWHERE),
                                login("eve", f"{DAY} 09:00", "Lagos, Nigeria")])
    assert out["city_rarity_peers"][0] == 0.0
    # Lagos: one of five peers used it; Sydney: none did.
    assert 0 < out["city_rarity_peers"][1] < out["city_rarity_peers"][2]
    assert out["city_rarity_org"][2] > 1.0
    assert out["city_rarity_peers"][3] == 0.0  # eve's own home town is rare for peers, not for eve


def test_a_new_user_is_judged_against_peers_for_places():
    today = [login("newbie", f"{DAY} 09:00", "Madrid, Spain"), login("newbie", f"{DAY} 10:00", "Lagos, Nigeria")]
    out = features_of(_team(), today)
    assert out["ctx_maturity"].tolist() == [0.0, 0.0]
    assert out["ctx_peer_group"][0] == "finance"
    assert out["city_novelty"].tolist() == [0.0, 1.0]
    # Without cold-start handling everything a new user does is new.
    assert features_of(_team(), today, FeatureSettings(cold_start=False))["city_novelty"].tolist() == [1.0, 1.0]


def test_a_thin_history_blends_the_users_view_with_the_peers_view():
    thin = working_days("tim", DAY - timedelta(days=2), 2, location="Madrid, Spain")  # 2 days, 6 events
    out = features_of(_team() + thin, [login("tim", f"{DAY} 09:00", "Barcelona, Spain", device=ELSEWHERE)])
    maturity = out["ctx_maturity"][0]
    assert maturity == pytest.approx(min(2 / 14, 6 / 20) ** 2)
    # New for tim, new for the peers too: fully new. Madrid would be new for neither.
    assert out["city_novelty"][0] == pytest.approx(1.0)
    today = [login("tim", f"{DAY} 09:00", "Barcelona, Spain", device=ELSEWHERE)]
    out = features_of(_team(location="Barcelona, Spain") + thin, today)
    assert out["city_novelty"][0] == pytest.approx(maturity)


def test_a_place_the_user_has_been_is_not_new_whatever_their_peers_do():
    remote = working_days("rosa", DAY - timedelta(days=1), 1, location="Lagos, Nigeria")
    out = features_of(_team() + remote, [login("rosa", f"{DAY} 09:00", "Lagos, Nigeria")])
    assert out["ctx_maturity"][0] < 1.0
    assert out["city_novelty"][0] == 0.0


def test_a_new_users_main_place_today_is_their_home_not_a_novelty():
    today = [login("newbie", f"{DAY} {h:02d}:00", "Lagos, Nigeria") for h in (8, 10, 12, 14)]
    today.append(login("newbie", f"{DAY} 16:00", "Sydney, Australia", device=ELSEWHERE))
    out = features_of(_team(), today)
    assert out["city_novelty"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert out["city_rarity_org"][0] == 0.0 and out["city_rarity_org"][4] > 0.5
    bare = features_of(_team(), today, FeatureSettings(cold_start=False))
    assert bare["city_novelty"].tolist() == [1.0] * 5


def test_group_users_are_looked_up_once_per_kind_and_are_the_peers_users():
    team = _team() + working_days("eve", DAY - timedelta(days=14), 14, location="Lagos, Nigeria")
    today = frame([login("ann", f"{DAY} 09:00", "Lagos, Nigeria"), login("ann", f"{DAY} 10:00", "Sydney, Australia"),
                   login("newbie", f"{DAY} 11:00", "Madrid, Spain")])
    ctx = build_context(today, state_from(team), DetectionConfig(), FeatureSettings())
    city = group_users(ctx, "city")
    assert group_users(ctx, "city") is city
    # Of the five finance users, eve used Lagos, none Sydney, the other four Madrid.
    assert city.tolist() == [1.0, 0.0, 4.0]
    assert group_users(ctx, "country") is not city
