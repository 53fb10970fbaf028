import numpy as np

from tests.ztad.synth.labels import with_part
from ztad.synth import catalogue as cat
from ztad.synth.password_attacks import _guess_timeline, _lucky_guesses, _spray_targets


def test_password_spray_is_one_address_failing_on_many_accounts_within_minutes(gen_events):
    spray = gen_events[gen_events["event_label"] == "password_spray"]
    assert len(spray) > 0
    for _, attempt in spray.groupby("ip_address", observed=True):
        assert attempt["user_id"].nunique() >= 8
        assert attempt["device_id"].nunique() == 1
        assert attempt["ts"].max() - attempt["ts"].min() <= 12 * 60
        assert attempt["login_success"].sum() <= 1
        assert set(attempt["resource_accessed"]) <= set(cat.LOGIN_PORTALS)


def test_brute_force_is_one_address_guessing_one_account_and_sometimes_getting_in(gen_events):
    brute = with_part(gen_events, "multiple_failed_logins")
    assert len(brute) > 0
    for _, campaign in brute.groupby("ip_address", observed=True):
        assert campaign["user_id"].nunique() == 1 and campaign["device_id"].nunique() == 1
        failures = campaign[campaign["login_success"] == 0]
        assert len(failures) >= 8
        assert failures["ts"].max() - failures["ts"].min() <= 30 * 30
        assert (failures["event_label"] == "multiple_failed_logins").all()
        inside = campaign[campaign["login_success"] == 1]
        assert (inside["ts"] > failures["ts"].max()).all()
        assert (inside["event_label"] == "multiple_failed_logins+new_device").all()


def test_guesses_come_seconds_apart_and_actions_inside_minutes_apart():
    campaign, delay, inside = _guess_timeline(np.array([10, 12]), np.array([10, 9]), np.random.default_rng(0))
    assert campaign.tolist() == [0] * 10 + [1] * 12
    assert inside.tolist() == [False] * 10 + [False] * 9 + [True] * 3
    for c in (0, 1):
        steps = np.diff(delay[campaign == c])
        assert delay[campaign == c][0] == 0 and (steps > 0).all()
    assert (np.diff(delay[campaign == 1])[:8] <= 30).all()
    assert (np.diff(delay[campaign == 1])[8:] >= 30).all()


def test_spray_targets_are_distinct_accounts_per_spray():
    staff = np.arange(100, 140)
    campaign, user = _spray_targets(staff, np.array([10, 40, 25]), np.random.default_rng(1))
    for c, wanted in enumerate((10, 40, 25)):
        mine = user[campaign == c]
        assert len(mine) == len(set(mine)) and set(mine) <= set(staff)
        assert len(mine) <= wanted and len(mine) >= 0.8 * wanted


def test_only_lucky_sprays_get_one_right_guess():
    success = _lucky_guesses(np.array([0, 0, 1, 1, 1, 2]), np.array([True, False, True]))
    assert success.tolist() == [False, True, False, False, False, True]
