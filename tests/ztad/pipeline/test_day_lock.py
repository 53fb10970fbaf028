"""The per-day lock on the home: two runs of one day never overlap."""

from __future__ import annotations

import multiprocessing
import time
from datetime import date

import pytest

from tests.fixtures import auth_logs as logs
from tests.ztad.test_cli_first_night import FAST, finish, start_ztad
from ztad.config import JobConfig, SourceConfig
from ztad.pipeline.day_lock import DayLockedError, day_lock, lock_path
from ztad.store import FindingsStore

DAY = date(2026, 3, 9)


def _config(tmp_path) -> JobConfig:
    return JobConfig(source=SourceConfig(root=str(tmp_path / "logs")), home=tmp_path / "home")


def _hold(home: str, seconds: float, ready) -> None:
    with day_lock(JobConfig(source=SourceConfig(root="."), home=home), DAY):
        ready.set()
        time.sleep(seconds)


def test_a_second_run_of_the_day_waits_for_the_first(tmp_path):
    config = _config(tmp_path)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(config.home), 2.0, ready))
    holder.start()
    assert ready.wait(30)
    waited_for = []
    begin = time.monotonic()
    with day_lock(config, DAY, timeout=60, on_wait=waited_for.append, poll=0.1):
        waited = time.monotonic() - begin
    holder.join()
    assert waited > 0.5 and len(waited_for) == 1 and waited_for[0].startswith(f"pid {holder.pid}")


def test_a_lock_held_too_long_is_a_clear_error_naming_the_holder(tmp_path):
    config = _config(tmp_path)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(config.home), 5.0, ready))
    holder.start()
    assert ready.wait(30)
    try:
        with pytest.raises(DayLockedError, match=f"{DAY} is being run by another process .*pid {holder.pid}"):
            with day_lock(config, DAY, timeout=0.3, poll=0.1):
                pass
    finally:
        holder.join()


def test_a_killed_holder_releases_the_lock(tmp_path):
    config = _config(tmp_path)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(config.home), 60.0, ready))
    holder.start()
    assert ready.wait(30)
    holder.kill()
    holder.join()
    with day_lock(config, DAY, timeout=5):
        assert lock_path(config, DAY).read_text().startswith("pid ")


def test_other_days_do_not_wait(tmp_path):
    config = _config(tmp_path)
    with day_lock(config, DAY):
        with day_lock(config, date(2026, 3, 10), timeout=0):
            pass


def _findings(url: str):
    with FindingsStore(url) as store:
        frame = store.findings(day=logs.ATTACK_DAY)
    return sorted(zip(frame["finding_id"], frame["score"].round(9), frame["category"], frame["incident_id"]))


@pytest.mark.slow
def test_two_processes_running_the_same_day_on_one_home_both_finish_with_a_single_runs_findings(tmp_path):
    import subprocess
    import sys

    from tests.ztad.test_cli_first_night import sshd_args

    root = logs.write_sshd_logs(tmp_path / "ssh")
    args = sshd_args(root, logs.ATTACK_DAY, logs.ATTACK_DAY, *FAST)
    # The reference run has a home of its own: it runs beside the two that share one, while
    # one of those waits for the other's lock.
    single = start_ztad(*args, home=tmp_path / "single")

    home = tmp_path / "shared"
    env = {"ZTAD_HOME": str(home), "PATH": "/usr/bin:/bin"}
    both = [
        subprocess.Popen([sys.executable, "-m", "ztad.cli", *args], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outcomes = [(process.wait(900), *process.communicate()) for process in both]
    single = finish(single)

    assert single.returncode == 0, single.stderr
    assert [code for code, _, _ in outcomes] == [0, 0], [err for _, _, err in outcomes]
    waited = [err for _, _, err in outcomes if "another run of this day holds its lock" in err]
    assert len(waited) == 1  # one ran, the other waited for it, then ran the day again
    single_findings = _findings(f"sqlite:///{tmp_path / 'single' / 'findings.db'}")
    assert single_findings and _findings(f"sqlite:///{home / 'findings.db'}") == single_findings
    with FindingsStore(f"sqlite:///{home / 'findings.db'}") as store:
        assert list(store.runs()["status"]) == ["success", "success"]
