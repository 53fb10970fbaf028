"""Advisory lock keys: stable across processes and releases, distinct per day."""

from __future__ import annotations

from datetime import date, timedelta

from ztad.store import day_lock_name, lock_key


def test_key_is_a_stable_signed_64_bit_number():
    # Pinned: a different key in a new release would let old and new writers overlap.
    assert lock_key("ztad:2024-03-05") == lock_key(day_lock_name(date(2024, 3, 5)))
    assert lock_key("ztad:2024-03-05") == -7306300278747454906
    assert -(2**63) <= lock_key("ztad:schema") < 2**63


def test_days_get_distinct_keys():
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(3660)]
    assert len({lock_key(day_lock_name(day)) for day in days}) == len(days)
