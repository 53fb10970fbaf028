"""The service's model, baseline and allowlist: loaded once, reloaded when a newer run finishes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.served import SERVED_DAYS
from tests.ztad.service.conftest import READ_HEADERS, client_of, record_run
from ztad.config import JobConfig, SourceConfig
from ztad.service.state import NotReadyError, StateHolder, latest_run
from ztad.store import FindingsStore


def test_the_state_is_the_day_after_the_newest_run_with_its_model(copied):
    served, config = copied
    holder = StateHolder(config, FindingsStore(config.resolved_database_url), check_seconds=0)
    state = holder.current()
    assert state.day == SERVED_DAYS[-1] + timedelta(days=1)
    assert state.model_version == served.summaries[-1].model_version
    assert state.baseline.day == state.day
    assert holder.current() is state  # nothing newer: not loaded again


def test_a_newer_run_is_picked_up_and_a_failed_one_is_not(copied):
    served, config = copied
    store = FindingsStore(config.resolved_database_url)
    holder = StateHolder(config, store, check_seconds=0)
    first = holder.current()
    record_run(store, SERVED_DAYS[-1] + timedelta(days=1), first.model_version, status="failed")
    assert holder.current() is first
    record_run(store, SERVED_DAYS[-1] + timedelta(days=1), first.model_version)
    second = holder.current()
    assert second is not first and second.day == SERVED_DAYS[-1] + timedelta(days=2)
    assert latest_run(store).day == SERVED_DAYS[-1] + timedelta(days=1)


def test_checks_are_spaced_by_check_seconds(copied):
    _, config = copied
    store = FindingsStore(config.resolved_database_url)
    holder = StateHolder(config, store, check_seconds=3600)
    first = holder.current()
    record_run(store, SERVED_DAYS[-1] + timedelta(days=1), first.model_version)
    assert holder.current() is first  # the next look is an hour away


def test_before_any_run_predict_says_so_and_health_is_not_ready(tmp_path):
    config = JobConfig(source=SourceConfig(root=str(tmp_path / "logs")), home=tmp_path / "home")
    with pytest.raises(NotReadyError, match="ztad run"):
        StateHolder(config, FindingsStore(config.resolved_database_url)).current()
    with client_of(config) as client:
        event = {"timestamp": "2026-03-18T10:00:00Z", "user_id": "u1", "login_success": True}
        response = client.post("/predict", json=event, headers=READ_HEADERS)
        assert response.status_code == 503 and "ztad run" in response.json()["detail"]
        health = client.get("/health", headers=READ_HEADERS).json()
        assert health["status"] == "not_ready" and health["database"] is True


class _Cycle:
    """An object that only the cycle collector can free."""

    def __init__(self):
        self.itself = self


def test_what_lives_at_a_load_is_frozen_until_the_next_load(copied):
    import gc
    import weakref

    _, config = copied
    store = FindingsStore(config.resolved_database_url)
    holder = StateHolder(config, store, check_seconds=0)
    cycle = _Cycle()
    freed = weakref.ref(cycle)
    first = holder.current()
    del cycle
    gc.collect()
    assert freed() is not None  # frozen with the state: full collections no longer walk it
    record_run(store, SERVED_DAYS[-1] + timedelta(days=1), first.model_version)
    assert holder.current() is not first
    assert freed() is None  # unfrozen before the new load, and collected


def test_a_state_is_fresh_once_loaded_until_a_check_is_due(copied):
    _, config = copied
    store = FindingsStore(config.resolved_database_url)
    holder = StateHolder(config, store, check_seconds=3600)
    assert not holder.fresh()
    holder.current()
    assert holder.fresh()
    due = StateHolder(config, store, check_seconds=0)
    due.current()
    assert not due.fresh()
