"""The internet's background noise: what each address did today, and whether it looks like a
scanner."""

from __future__ import annotations

from datetime import timedelta

from tests.ztad.behaviour.features.sequences import DAY, features_of, login, working_days

SCANNER = "45.33.12.7"


def _tries(user: str, ip: str = SCANNER, count: int = 6, start: str = "03:33", success: bool = False) -> list[dict]:
    hour, minute = start.split(":")
    return [login(user, f"{DAY} {hour}:{minute}:{10 + 3 * k:02d}", ip=ip, success=success) for k in range(count)]


def _history() -> list[dict]:
    return working_days("alice", DAY - timedelta(days=5), 5)


def test_six_attempts_on_root_from_a_never_seen_address_look_like_a_scanner():
    out = features_of(_history(), _tries("root") + _tries("(empty)", count=1, start="03:40"))
    assert out["ctx_source_scanner_like"].tolist() == [1.0] * 7
    assert out["ctx_source_attempts_today"].tolist() == [7.0] * 7
    assert out["ctx_source_minutes_today"].iloc[0] == 7.0  # 03:33:10 to 03:40:10


def test_names_that_exist_nowhere_look_like_a_scanner_but_real_accounts_do_not():
    assert features_of(_history(), _tries("oracle"))["ctx_source_scanner_like"].eq(1.0).all()
    assert features_of(_history(), _tries("alice"))["ctx_source_scanner_like"].eq(0.0).all()  # known user
    # A user without history who signs in today is real too.
    newcomer = _tries("dave") + [login("dave", f"{DAY} 09:00", ip="192.0.2.99")]
    assert features_of(_history(), newcomer)["ctx_source_scanner_like"].iloc[0] == 0.0


def test_a_source_that_gets_in_or_was_seen_before_is_no_scanner():
    got_in = _tries("root") + [login("root", f"{DAY} 03:40", ip=SCANNER)]
    assert features_of(_history(), got_in)["ctx_source_scanner_like"].eq(0.0).all()
    seen = _history() + [login("root", f"{DAY - timedelta(days=2)} 03:00", ip=SCANNER, success=False)]
    assert features_of(seen, _tries("root"))["ctx_source_scanner_like"].eq(0.0).all()


def test_events_without_an_address_are_never_scanning():
    out = features_of(_history(), [login("root", f"{DAY} 03:33", ip=None, success=False)])
    assert out[["ctx_source_scanner_like", "ctx_source_attempts_today"]].to_numpy().tolist() == [[0.0, 0.0]]
