"""Background processes that can be stopped exactly: one session each, recorded in a PID file.

:func:`start` runs a command in a new session (``setsid``), its output in a log file, and
writes ``<name>.pid`` holding the process id and its start time. :func:`stop` ends every
process of that session, and only those: Airflow's supervised task processes put themselves
in process groups of their own, and a task whose supervisor was killed is re-parented to
PID 1, but both stay in the session of the worker that started them. A PID file whose
process is gone, or whose PID now belongs to another program (its start time differs), stops
nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Recorded:
    """A started process as its PID file records it."""

    name: str
    pid: int
    started: int  # start time in clock ticks since boot (field 22 of /proc/<pid>/stat)

    @property
    def alive(self) -> bool:
        """Whether the process still runs (a zombie does not) and is the one that was started."""
        fields = _stat_fields(self.pid)
        return fields is not None and fields[0] != "Z" and int(fields[19]) == self.started

    def members(self) -> list[int]:
        """The processes of its session still running (itself included while it runs).

        Linux does not hand out a PID that is still the session id of running processes, so
        while its session has members the PID names nothing else. A PID that now belongs
        to a process started at another time means the session ended and the number was
        reused: then nothing is ours.
        """
        now = start_time(self.pid)
        if now is not None and now != self.started:
            return []
        return session_members(self.pid)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, ``None`` if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces


def start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot, ``None`` if there is none."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def session_members(session: int) -> list[int]:
    """Ids of the running processes whose session id is ``session`` (zombies left out)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and fields[0] != "Z" and int(fields[3]) == session:
            members.append(int(entry))
    return members


def start(name: str, command: list[str], run_dir: Path, log_dir: Path, env: dict[str, str]) -> Recorded:
    """Start ``command`` in a session of its own; record it in ``run_dir/<name>.pid``.

    :param name: the process's name: its PID file and ``log_dir/<name>.log``.
    :param command: the program and its arguments.
    :param env: the complete environment of the process.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{name}.log", "wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, close_fds=True,
        )
    recorded = Recorded(name, process.pid, start_time(process.pid) or 0)
    (run_dir / f"{name}.pid").write_text(f"{recorded.pid} {recorded.started}\n")
    return recorded


def recorded(run_dir: Path) -> list[Recorded]:
    """The processes recorded in ``run_dir``, in the order of their names."""
    found = []
    for path in sorted(Path(run_dir).glob("*.pid")):
        try:
            pid, started = (int(word) for word in path.read_text().split())
        except ValueError:
            continue  # not one of ours
        found.append(Recorded(path.stem, pid, started))
    return found


def stop(run_dir: Path, grace: float = 30.0) -> list[str]:
    """Stop every process recorded in ``run_dir`` with all of its session; return their names.

    Every process of each session gets SIGTERM, then, after ``grace`` seconds, SIGKILL if it
    is still there. PID files are removed, including those of processes that had ended.
    """
    targets = [process for process in recorded(run_dir) if process.members()]
    for process in targets:
        _signal(process.members(), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(process.members() for process in targets):
        time.sleep(0.3)
    for process in targets:
        _signal(process.members(), signal.SIGKILL)
    for process in recorded(run_dir):
        (Path(run_dir) / f"{process.name}.pid").unlink(missing_ok=True)
    return [process.name for process in targets]


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
