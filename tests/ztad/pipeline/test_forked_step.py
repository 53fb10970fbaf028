"""A step run by a forked copy of the process: its result, and every way the copy can fail."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from ztad.pipeline import forked_step
from ztad.pipeline.forked_step import ForkedStep


@pytest.fixture(autouse=True)
def no_idle_scoring_threads():
    """Earlier tests in this process may leave the scoring threads waiting for work: they would
    keep a copy from being forked (:func:`ztad.pipeline.forked_step.can_fork`)."""
    from ztad.detection.detectors.base import stop_scoring_threads

    stop_scoring_threads()


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_copy_runs_the_step_and_its_result_comes_back(tmp_path):
    def step():
        (tmp_path / "written").write_text("yes")
        return {"pid": os.getpid(), "rows": [1, 2, 3]}

    with ForkedStep.start(step) as running:
        assert running.forked
        result = running.result()
    assert result["pid"] != os.getpid()
    assert result["rows"] == [1, 2, 3]
    assert (tmp_path / "written").read_text() == "yes"
    assert _no_children_left()


def test_the_work_beside_the_copy_runs_at_the_same_time(tmp_path):
    started = tmp_path / "started"

    def step():
        started.write_text("")
        time.sleep(0.5)
        return {}

    with ForkedStep.start(step) as running:
        deadline = time.monotonic() + 5
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_while_running = started.exists()
        running.result()
    assert seen_while_running


def test_a_failing_copy_leaves_the_step_to_this_process():
    parent = os.getpid()

    def step():
        if os.getpid() != parent:
            raise RuntimeError("only the copy fails")
        return {"pid": os.getpid()}

    with ForkedStep.start(step) as running:
        assert running.result() == {"pid": parent}
    assert _no_children_left()


def test_the_steps_own_error_is_raised_here():
    calls = []

    def step():
        calls.append(os.getpid())
        raise ValueError("no partition for the day")

    with pytest.raises(ValueError, match="no partition"), ForkedStep.start(step) as running:
        running.result()
    assert calls == [os.getpid()]  # the parent's own run; the copy's call was in the copy
    assert _no_children_left()


def test_a_killed_copy_leaves_the_step_to_this_process():
    parent = os.getpid()

    def step():
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return {"pid": os.getpid()}

    with ForkedStep.start(step) as running:
        assert running.result() == {"pid": parent}


def test_leaving_the_block_early_stops_the_copy_before_it_finishes(tmp_path):
    finished = tmp_path / "finished"

    def step():
        time.sleep(30)
        finished.write_text("")
        return {}

    began = time.monotonic()
    with pytest.raises(KeyError), ForkedStep.start(step) as running:
        assert running.forked
        raise KeyError("the baseline failed")
    assert time.monotonic() - began < 10
    assert not finished.exists()
    assert _no_children_left()


def test_a_copy_that_does_not_stop_when_asked_is_killed(monkeypatch, tmp_path):
    monkeypatch.setattr(forked_step, "STOP_GRACE_SECONDS", 0.5)
    ready = tmp_path / "ready"

    def step():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ready.write_text("")
        time.sleep(30)
        return {}

    began = time.monotonic()
    with pytest.raises(KeyError), ForkedStep.start(step):
        while not ready.exists():
            time.sleep(0.01)
        raise KeyError("stop")
    assert time.monotonic() - began < 10
    assert _no_children_left()


def test_no_copy_is_forked_while_another_thread_runs():
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        running = ForkedStep.start(lambda: {"pid": os.getpid()})
        assert not running.forked
        assert running.result() == {"pid": os.getpid()}
    finally:
        release.set()
        other.join()


def test_what_the_copy_prints_is_not_lost(capfd):
    def step():
        print("pulled 3 rows")  # buffered: os._exit alone would drop it
        return {}

    with ForkedStep.start(step) as running:
        running.result()
    assert "pulled 3 rows" in capfd.readouterr().out


def test_the_result_is_asked_for_once():
    with ForkedStep.start(lambda: {"pid": os.getpid()}) as running:
        first = running.result()
        assert running.result() is first


def test_a_stopped_copy_leaves_no_unfinished_file(tmp_path):
    from ztad.pipeline.workfiles import write_atomically

    def slow_write(tmp):
        tmp.write_text("half")
        time.sleep(30)

    def step():
        write_atomically(tmp_path / "events.parquet", slow_write)
        return {}

    with pytest.raises(KeyError), ForkedStep.start(step):
        deadline = time.monotonic() + 10
        while not list(tmp_path.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(tmp_path.iterdir())  # the copy's unfinished file
        raise KeyError("stop")
    assert list(tmp_path.iterdir()) == []
