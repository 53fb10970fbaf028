"""The cyclic garbage collector waits while documents are built, and runs again after."""

from __future__ import annotations

import gc

import pytest

from ztad.findings.collection import collector_paused


@pytest.fixture
def collector_running():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_paused_in_the_block_and_resumed_after_it(collector_running):
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_resumed_when_the_block_raises(collector_running):
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("failed")
    assert gc.isenabled()


def test_a_collector_paused_before_stays_paused(collector_running):
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_a_decorated_function_runs_with_the_collector_paused(collector_running):
    @collector_paused()
    def state() -> bool:
        return gc.isenabled()

    assert state() is False and gc.isenabled()
