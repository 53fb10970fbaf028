"""Flagged events the allowlist covers are suppressed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.ztad.feedback.verdict_rows import DAY, TRIP
from ztad.feedback import covered, suppressed_mask


def test_an_event_is_covered_only_when_every_reason_is():
    assert covered(["new_city", "new_ip", "cold_start"], {"location"})
    assert covered(["new_device_new_place", "new_city"], {"location", "device"})
    assert not covered(["new_device_new_place"], {"location"})
    assert not covered(["new_city", "brute_force"], {"location"})
    assert not covered(["new_city"], set())
    assert not covered(["deviation"], {"location"})


def _day():
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(7)],
            "user_id": ["alice", "alice", "alice", "bob", "alice", "alice", "alice"],
            "device_id": ["LT-TRIP", "LT-OTHER", "LT-TRIP", "LT-TRIP", "LT-TRIP", "LT-TRIP", "LT-TRIP"],
            "ip_address": ["198.51.100.77"] * 6 + ["198.51.100.99"],
            "location": [TRIP] * 7,
            "resource": ["email"] * 7,
            "login_success": [True] * 7,
            "bytes_transferred": [1000] * 7,
        }
    )
    features = pd.DataFrame(
        {
            "city_novelty": [1.0] * 7,
            "device_novelty": [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            "ip_novelty": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            "ctx_user_failures_10m": [0.0, 0.0, 12.0, 0.0, 0.0, 0.0, 0.0],
        }
    )
    rules = pd.DataFrame({"new_device_new_place": [True] + [False] * 6, "brute_force": [False, False, True] + [False] * 4})
    return events, features, rules


def test_suppression_needs_a_matching_entry_covering_every_reason():
    events, features, rules = _day()
    allowlist = pd.DataFrame(
        {"user_id": ["alice", "alice"], "kind": ["location", "device"], "value": [TRIP, "LT-TRIP"],
         "valid_from": [DAY, DAY], "source_finding_id": ["f1", "f1"]}
    )
    flagged = np.array([True, True, True, True, False, True, True])
    suppressed = suppressed_mask(events, features, rules, flagged, allowlist, protected_event_ids=["e5"])
    # e0 the allowed trip; e1 another new device; e2 failures; e3 another user; e4 not flagged;
    # e5 a confirmed attack on rerun; e6 a new address in the allowed place.
    assert suppressed.tolist() == [True, False, False, False, False, False, True]
    assert not suppressed_mask(events, features, rules, flagged, allowlist.iloc[:0]).any()
