"""Bytes against the user's usual for the resource (falling back to peers), and logins today."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.ztad.behaviour.features.sequences import DAY, features_of, login, working_days

USUAL = 1_000_000


def _finance(nbytes=USUAL):
    users = ("ann", "ben", "cat", "dan")
    return sum((working_days(u, DAY - timedelta(days=10), 10, resource="erp-finance", nbytes=nbytes)
                for u in users), [])


def test_bytes_48x_the_users_usual_for_the_resource():
    out = features_of(_finance(), [login("ann", f"{DAY} 09:00", resource="erp-finance", nbytes=48 * USUAL),
                                   login("ann", f"{DAY} 10:00", resource="erp-finance", nbytes=USUAL)])
    assert 10 ** out["bytes_log_ratio"][0] == pytest.approx(48, rel=0.02)
    assert out["ctx_usual_bytes"][0] == pytest.approx(USUAL, rel=0.02)
    assert out["ctx_bytes_baseline"][0] == "user_resource"
    assert out["bytes_z"][0] > 10 and abs(out["bytes_z"][1]) < 0.1
    assert out["bytes_z_peers"][0] > 10


def test_without_own_history_for_the_resource_peers_are_the_baseline():
    out = features_of(_finance(), [login("newbie", f"{DAY} 09:00", resource="erp-finance", nbytes=48 * USUAL)])
    assert out["ctx_bytes_baseline"][0] == "peer_resource"
    assert 10 ** out["bytes_log_ratio"][0] == pytest.approx(48, rel=0.02)


def test_a_failed_login_moves_no_data_worth_judging():
    out = features_of(_finance(), [login("ann", f"{DAY} 09:00", resource="erp-finance", nbytes=300, success=False)])
    assert out[["bytes_log_ratio", "bytes_z", "bytes_z_peers"]].to_numpy().tolist() == [[0.0, 0.0, 0.0]]


def test_logins_so_far_today_against_the_usual_day():
    today = [login("ann", f"{DAY} {9 + k // 60:02d}:{k % 60:02d}", resource="erp-finance") for k in range(30)]
    out = features_of(_finance(), today)
    assert out["ctx_usual_daily_events"][0] == pytest.approx(3.0)
    assert out["ctx_events_so_far"].tolist() == list(range(1, 31))
    assert out["logins_today_ratio"].iloc[-1] == pytest.approx(np.log2(31 / 4))


def test_peers_surging_on_the_same_resource_the_same_day_are_counted():
    close = [login(u, f"{DAY} 1{k}:00", resource="erp-finance", nbytes=25 * USUAL)
             for k, u in enumerate(("ann", "ben", "cat"))]
    usual = login("dan", f"{DAY} 13:00", resource="erp-finance", nbytes=USUAL)
    elsewhere = login("dan", f"{DAY} 14:00", resource="mail", nbytes=10_000)
    out = features_of(_finance(), close + [usual, elsewhere])
    # Each of the three sees the two others; dan's ordinary transfer sees all three.
    assert out["ctx_peer_surge_users"].tolist() == [2, 2, 2, 3, 0]


def test_peers_moving_a_few_times_their_usual_are_no_surge():
    # Heavy tails: on a busy resource some peers move five or six times their usual on any day.
    ordinary = [login(u, f"{DAY} 1{k}:00", resource="erp-finance", nbytes=6 * USUAL)
                for k, u in enumerate(("ben", "cat"))]
    theft = login("ann", f"{DAY} 09:00", resource="erp-finance", nbytes=60 * USUAL)
    out = features_of(_finance(), [theft, *ordinary])
    assert out["ctx_peer_surge_users"].tolist() == [0, 1, 1]


def test_a_user_s_transfers_of_the_day_at_ten_times_the_usual_are_counted():
    bulk = [login("ann", f"{DAY} 0{k}:00", resource="erp-finance", nbytes=60 * USUAL) for k in (1, 2)]
    modest = login("ann", f"{DAY} 03:00", resource="erp-finance", nbytes=6 * USUAL)
    lone = login("ben", f"{DAY} 04:00", resource="erp-finance", nbytes=200 * USUAL)
    out = features_of(_finance(), [*bulk, modest, lone])
    assert out["ctx_own_surge_transfers"].tolist() == [2, 2, 2, 1]


def test_one_account_surging_alone_has_no_peers_behind_it():
    out = features_of(_finance(), [login("ann", f"{DAY} 09:00", resource="erp-finance", nbytes=60 * USUAL),
                                   login("ann", f"{DAY} 10:00", resource="erp-finance", nbytes=60 * USUAL),
                                   login("ben", f"{DAY} 10:00", resource="erp-finance", nbytes=2 * USUAL)])
    assert out["ctx_peer_surge_users"].tolist() == [0, 0, 1]
