"""Peer groups: departments, or clusters of users who touch the same resources."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from tests.ztad.behaviour.features.sequences import DAY, frame, login, state_from, working_days


def test_peer_groups_are_departments_when_known():
    history = (working_days("ann", DAY - timedelta(days=2), 2, department="finance")
               + working_days("ben", DAY - timedelta(days=2), 2, department="it"))
    state = state_from(history)
    assert list(state.peer_labels) == ["finance", "it"]
    assert state.peer_sizes.tolist() == [1, 1]


def test_without_departments_peer_groups_are_learned_from_resources_deterministically():
    first = DAY - timedelta(days=2)
    history = []
    for k in range(40):
        apps = ("erp", "ledger") if k < 20 else ("git", "ci")
        for app in apps:
            history += working_days(f"u{k:02d}", first, 2, hours=(9,), resource=app, department=None)
    state = state_from(history)
    groups = state.users["peer"].to_numpy()
    assert len(set(groups[:20])) == 1 and len(set(groups[20:])) == 1 and groups[0] != groups[20]
    assert all(label.startswith("resource group") for label in state.peer_labels)
    assert state_from(history).users["peer"].tolist() == groups.tolist()
    # A new user is placed with the users of the same resources.
    newcomer = frame([login("zed", f"{DAY} 09:00", resource="git", department=None)])
    assert state.peer_codes_for(newcomer, np.array([-1])).tolist() == [groups[20]]
