"""A step that only writes files, run by a forked copy of this process while this one goes on.

The steps of a night hand each other files, and some need nothing that the work beside them
makes: the day's pull does not need the baseline, nor the baseline the day's events. Most of
such work holds Python's lock, so a thread beside it adds little; a forked copy of the process
runs on the other core at once, holding what this process had imported and read.

The copy runs the step, writes the step's result (a small dict of JSON values) to a pipe and
ends with ``os._exit`` (no clean-up of the parent's objects). The result is then the copy's.
Whenever the copy cannot give it (no fork on this platform, other threads running whose locks
the copy would inherit held, a failure in the copy, the copy killed), the step runs here when
its result is asked for: an error of the step itself is then raised here, as without a copy.
A step run this way must therefore be safe to run again: it writes its files whole or not at
all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Self

from ztad.forking import fork_copy, reap

log = logging.getLogger(__name__)

#: Seconds a copy is given to stop once asked to (this process's own work failed) before it is
#: killed: it stops at its next Python instruction, its unfinished files removed as it unwinds.
STOP_GRACE_SECONDS = 10.0

Step = Callable[[], dict]


class ForkedStep:
    """``step()`` run by a forked copy of this process, its result asked for later.

    Use it as a context manager: leaving the block without asking for the result (this
    process's own work failed) stops and reaps the copy.

    >>> with ForkedStep.start(lambda: {"rows": 3}) as pulling:   # doctest: +SKIP
    ...     baseline = build_baseline()
    ...     counts = pulling.result()
    """

    def __init__(self, step: Step, pid: int | None = None, reader: int | None = None):
        self._step, self._pid, self._reader = step, pid, reader
        self._result: dict | None = None

    @classmethod
    def start(cls, step: Step) -> ForkedStep:
        """Fork a copy running ``step``; without one, ``step`` runs when its result is asked for."""
        if not can_fork():
            return cls(step)
        try:
            pid, reader = fork_copy(lambda writer: _run_and_exit(step, writer))
        except OSError as error:
            log.info("could not fork (%s): the step runs in this process", error)
            return cls(step)
        return cls(step, pid, reader)

    @property
    def forked(self) -> bool:
        """Whether a copy was started (and not yet reaped)."""
        return self._pid is not None

    def result(self) -> dict:
        """The step's result: the copy's, once it has ended; else the step run here."""
        if self._result is None:
            self._result = self._copy_result() if self.forked else None
            if self._result is None:
                self._result = self._step()
        return self._result

    def _copy_result(self) -> dict | None:
        """The copy's result once it has ended, ``None`` if it failed; the copy is reaped."""
        try:
            data = _read_all(self._reader)
        finally:
            os.close(self._reader)
            status = self._wait()
        if status != 0 or not data:
            log.info("the forked copy of a step ended with %s: running the step here", status)
            return None
        return json.loads(data)

    def stop(self) -> None:
        """Ask the copy to stop (``SIGTERM``, which it raises as an exception) and reap it, its
        result unread."""
        if not self.forked:
            return
        os.close(self._reader)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGTERM)
        self._wait(STOP_GRACE_SECONDS)

    def _wait(self, grace: float | None = None) -> int:
        """The copy's exit code; with ``grace``, it is killed if it has not ended by then."""
        pid, self._pid = self._pid, None
        return reap(pid, grace)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def can_fork() -> bool:
    """Whether a copy can be forked safely: the platform forks, and no other thread of this
    process runs (a copy would inherit the locks they hold, held forever)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _run_and_exit(step: Step, writer: int) -> None:
    """In the copy: write ``step()``'s result as JSON to ``writer``, then end (1 on failure)."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, _stop_here)
        data = memoryview(json.dumps(step()).encode())
        while len(data):
            data = data[os.write(writer, data):]
        code = 0
    except BaseException:  # noqa: BLE001 (the step runs again in the parent, which reports its error)
        code = 1
    finally:
        _flush_output()
        os._exit(code)


class _Stopped(BaseException):
    """Raised in the copy when this process asks it to stop."""


def _stop_here(signum, frame) -> None:
    raise _Stopped()


def _flush_output() -> None:
    """Write out what the copy printed or logged: ``os._exit`` drops buffered output."""
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _read_all(reader: int) -> bytes:
    """Everything written to the pipe until the copy closes it (when it ends)."""
    chunks = []
    while chunk := os.read(reader, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)
