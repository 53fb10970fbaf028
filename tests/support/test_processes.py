"""Processes started in sessions of their own and stopped exactly, through their PID files."""

import os
import subprocess
import sys
import time

import pytest

from tests.support import processes

#: A child that starts a grandchild in a process group of its own (as Airflow's supervisor
#: does with a task) and then waits: stopping the child's session must end both.
FAMILY = (
    "import os, subprocess, sys, time\n"
    "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
    " process_group=0)\n"
    "open(sys.argv[1], 'w').write(str(grandchild.pid))\n"
    "time.sleep(600)\n"
)


def wait_for(condition, timeout=20.0):
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, "timed out"
        time.sleep(0.05)


def running(pid: int) -> bool:
    return pid in processes.session_members(os.getsid(pid)) if processes.start_time(pid) else False


@pytest.fixture
def folders(tmp_path):
    return tmp_path / "run", tmp_path / "logs"


def test_a_started_process_is_recorded_with_its_start_time_and_logs(folders):
    run_dir, log_dir = folders
    started = processes.start("echo", [sys.executable, "-c", "print('hello'); import time; time.sleep(600)"],
                              run_dir, log_dir, dict(os.environ))
    try:
        assert processes.recorded(run_dir) == [started]
        assert started.alive and os.getsid(started.pid) == started.pid
        wait_for(lambda: "hello" in (log_dir / "echo.log").read_text())
    finally:
        assert processes.stop(run_dir, grace=5) == ["echo"]
    assert not started.alive
    assert list(run_dir.glob("*.pid")) == []


def test_stop_ends_the_whole_session_even_a_process_in_a_group_of_its_own(folders, tmp_path):
    run_dir, log_dir = folders
    marker = tmp_path / "grandchild.pid"
    command = [sys.executable, "-c", FAMILY, str(marker)]
    family = processes.start("family", command, run_dir, log_dir, dict(os.environ))
    wait_for(lambda: marker.exists() and marker.read_text())
    grandchild = int(marker.read_text())
    assert os.getpgid(grandchild) != family.pid and os.getsid(grandchild) == family.pid
    processes.stop(run_dir, grace=5)
    wait_for(lambda: not processes.session_members(family.pid))
    assert processes.start_time(grandchild) is None or grandchild not in processes.session_members(family.pid)


def test_an_orphan_left_when_its_leader_died_is_still_stopped(folders, tmp_path):
    run_dir, log_dir = folders
    marker = tmp_path / "grandchild.pid"
    command = [sys.executable, "-c", FAMILY, str(marker)]
    family = processes.start("family", command, run_dir, log_dir, dict(os.environ))
    wait_for(lambda: marker.exists() and marker.read_text())
    grandchild = int(marker.read_text())
    os.kill(family.pid, 9)
    wait_for(lambda: family.pid not in processes.session_members(family.pid))
    assert processes.session_members(family.pid) == [grandchild]
    assert processes.stop(run_dir, grace=5) == ["family"]
    wait_for(lambda: not processes.session_members(family.pid))


def test_a_pid_file_whose_number_now_names_another_program_stops_nothing(folders):
    run_dir, log_dir = folders
    run_dir.mkdir(parents=True)
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    stranger = subprocess.Popen(sleeper, start_new_session=True)
    try:
        wait_for(lambda: processes.start_time(stranger.pid) is not None)
        started = processes.start_time(stranger.pid)
        (run_dir / "old.pid").write_text(f"{stranger.pid} {started - 1}\n")  # another start time
        assert processes.stop(run_dir, grace=1) == []
        assert stranger.poll() is None, "a process that is not ours was signalled"
        assert not (run_dir / "old.pid").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_pid_files_of_ended_processes_and_foreign_files_are_handled(folders):
    run_dir, log_dir = folders
    run_dir.mkdir(parents=True)
    (run_dir / "junk.pid").write_text("not a pid\n")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (run_dir / "gone.pid").write_text(f"{gone.pid} 1\n")
    assert [p.name for p in processes.recorded(run_dir)] == ["gone"]
    assert processes.stop(run_dir, grace=1) == []
    assert sorted(p.name for p in run_dir.iterdir()) == ["junk.pid"]


def test_zombies_are_not_members_of_a_session():
    child = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    wait_for(lambda: (processes._stat_fields(child.pid) or ["Z"])[0] == "Z")
    assert processes.session_members(child.pid) == []
    child.wait()
