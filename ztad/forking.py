"""Forked copies of this process: started with a pipe to answer through, and reaped.

A copy holds everything this process had imported and read, and runs on another core at once;
it answers through a pipe and ends with ``os._exit`` (no clean-up of the parent's objects).
Used to explain half of a day's rows (:mod:`ztad.findings.forked_half`) and to run a step
beside another (:mod:`ztad.pipeline.forked_step`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable


def fork_copy(run_in_copy: Callable[[int], None]) -> tuple[int, int]:
    """Fork a copy that calls ``run_in_copy(writer)``, ``writer`` the pipe's writing end, and
    then ends; return the copy's pid and the pipe's reading end here.

    Raises ``OSError`` when no copy can be forked (nothing is left open then)."""
    reader, writer = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(reader)
        os.close(writer)
        raise
    if pid == 0:
        try:
            os.close(reader)
            run_in_copy(writer)
        finally:
            os._exit(1)  # run_in_copy ends the copy itself; never return into the parent's code
    os.close(writer)
    return pid, reader


def reap(pid: int, grace: float | None = None) -> int:
    """The copy's exit code once it has ended; with ``grace``, it is killed if it has not
    ended within that many seconds (``0``: at once)."""
    if grace is not None and not _ended_within(pid, grace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _ended_within(pid: int, seconds: float) -> bool:
    """Whether the process ``pid`` ends within ``seconds`` (it is left to be reaped)."""
    deadline = time.monotonic() + seconds
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
