"""A per-day lock on the state folder: two runs of the same day never overlap.

The steps of a day share its work folder, and the baselines and training rows it leaves; a
second run of the same day (a retry started by hand, a cron job that overlaps a backfill)
waits for the first to finish, then reruns the day, which replaces its findings. The lock
is an advisory ``flock`` on ``<home>/locks/day=YYYY-MM-DD.lock``, released by the kernel
when its process ends, however it ends, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from ztad.config import JobConfig

#: How long a run waits for another run of the same day by default (seconds).
DEFAULT_LOCK_TIMEOUT = 6 * 3600.0


class DayLockedError(TimeoutError):
    """Another run of the same day on the same state folder did not finish in time."""


def lock_path(config: JobConfig, day: date) -> Path:
    """The lock file of one day."""
    return Path(config.home) / "locks" / f"day={day.isoformat()}.lock"


@contextmanager
def day_lock(
    config: JobConfig,
    day: date,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: Callable[[str], None] | None = None,
    poll: float = 0.5,
) -> Iterator[None]:
    """Hold the day's lock for the ``with`` block, waiting up to ``timeout`` seconds for it.

    ``on_wait(holder)`` is called once when the lock is taken by another run (``holder``
    says which process). Raises :class:`DayLockedError` when the wait times out.
    """
    path = lock_path(config, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        waiting = False
        while not _try_lock(handle):
            holder = _holder(path)
            if time.monotonic() >= deadline:
                raise DayLockedError(
                    f"{day} is being run by another process on {config.home} ({holder}) and did not "
                    f"finish within {timeout:g} s; wait for it, or stop it if it is stuck"
                )
            if not waiting and on_wait is not None:
                on_wait(holder)
            waiting = True
            time.sleep(poll)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    """Which process holds the lock, as it wrote it (or "another process")."""
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"
