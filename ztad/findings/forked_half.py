"""A row-by-row computation split with a forked copy of this process, on the other core.

Exact TreeSHAP is shap's compiled code, and it holds Python's lock while it explains: a second
thread adds nothing, and a fresh interpreter costs more to start and import than its share of
the rows. A fork costs neither: the copy already holds shap, the explainer and the rows. It
explains the second half of the rows and writes their values to a pipe while this process
explains the first half, so the two halves take the time of one.

The copy runs only compiled code on arrays it already holds, writes bytes to a pipe and ends
with ``os._exit`` (no clean-up of the parent's objects, no logging, no new threads). Whatever
goes wrong there (no fork on this platform, a failure, a copy that does not answer within
:func:`_patience`, values of the wrong size), the rows it had are computed here, as without it;
the copy is always reaped. Only callers that ask for it split (:func:`forked_halves`): the
nightly job, whose process is its own; a server answering requests never forks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import numpy as np

from ztad.forking import fork_copy, reap

log = logging.getLogger(__name__)

#: Fewest rows worth splitting: below it the copy's start costs about what it saves.
MIN_SPLIT_ROWS = 32
#: Least time the copy is waited for once this process's half is done.
MIN_PATIENCE_SECONDS = 30.0
#: Seconds the copy is given to end once its values are in (it ends right after writing them).
EXIT_GRACE_SECONDS = 5.0

_ENABLED: ContextVar[bool] = ContextVar("forked_halves", default=False)


@contextlib.contextmanager
def forked_halves() -> Iterator[None]:
    """While the block runs, :func:`by_halves` splits its rows with a forked copy."""
    token = _ENABLED.set(hasattr(os, "fork"))
    try:
        yield
    finally:
        _ENABLED.reset(token)


def by_halves(compute: Callable[[np.ndarray], np.ndarray], rows: np.ndarray) -> np.ndarray:
    """``compute(rows)`` for a ``compute`` that maps each row to a row of as many float
    values (SHAP values: one per feature) independently of the other rows; inside a
    :func:`forked_halves` block and for :data:`MIN_SPLIT_ROWS` rows or more, the second half
    is computed by a forked copy meanwhile. The result is the same either way."""
    if not _ENABLED.get() or len(rows) < MIN_SPLIT_ROWS:
        return _as_values(compute(rows))
    half = len(rows) // 2
    child = _ForkedPart.start(compute, rows[half:])
    started = time.monotonic()
    try:
        here = _as_values(compute(rows[:half]))
    except BaseException:
        if child is not None:
            child.stop()
        raise
    there = None if child is None else child.values(_patience(time.monotonic() - started))
    if there is None:
        there = _as_values(compute(rows[half:]))
    return np.concatenate([here, there])


def _as_values(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _patience(seconds_here: float) -> float:
    """How long the copy is waited for: its half is the size of ours, so a few times our time."""
    return max(MIN_PATIENCE_SECONDS, 3 * seconds_here)


class _ForkedPart:
    """A forked copy computing its rows' values into a pipe."""

    def __init__(self, pid: int, reader: int, shape: tuple[int, int]):
        self.pid, self.reader, self.shape = pid, reader, shape

    @classmethod
    def start(cls, compute: Callable[[np.ndarray], np.ndarray], rows: np.ndarray) -> _ForkedPart | None:
        """Fork a copy that computes ``rows``' values (``None`` when it cannot be forked)."""
        try:
            pid, reader = fork_copy(lambda writer: _compute_and_exit(compute, rows, writer))
        except OSError as error:
            log.warning("could not fork to explain half of the rows (%s): explaining them here", error)
            return None
        return cls(pid, reader, (len(rows), rows.shape[1]))

    def values(self, patience: float) -> np.ndarray | None:
        """The copy's values, ``None`` when it failed or did not answer within ``patience``
        seconds; the copy is reaped either way (given :data:`EXIT_GRACE_SECONDS` to end once
        its values are in, killed at once otherwise)."""
        expected = self.shape[0] * self.shape[1] * 8
        data = None
        try:
            data = _read_exactly(self.reader, expected, time.monotonic() + patience)
        finally:
            os.close(self.reader)
            status = reap(self.pid, EXIT_GRACE_SECONDS if data is not None else 0.0)
        if data is None or status != 0:
            log.warning("the forked copy explaining half of the rows failed (exit %s): explaining them here", status)
            return None
        return np.frombuffer(data, dtype=np.float64).reshape(self.shape).copy()

    def stop(self) -> None:
        """Kill and reap the copy, its values unread (this process's own half failed)."""
        os.close(self.reader)
        reap(self.pid, 0.0)


def _compute_and_exit(compute, rows: np.ndarray, writer: int) -> None:
    """In the copy: write ``compute(rows)`` as float64 bytes to ``writer``, then end."""
    code = 1
    try:
        values = np.ascontiguousarray(compute(rows), dtype=np.float64)
        if values.shape == (len(rows), rows.shape[1]):
            view = memoryview(values).cast("B")
            while len(view):
                view = view[os.write(writer, view):]
            code = 0
    except BaseException:  # noqa: BLE001 (the parent computes the rows itself)
        code = 1
    finally:
        os._exit(code)


def _read_exactly(reader: int, size: int, deadline: float) -> bytes | None:
    """``size`` bytes from the pipe, ``None`` if it closes early or the deadline passes."""
    chunks, received = [], 0
    while received < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([reader], [], [], remaining)[0]:
            return None
        chunk = os.read(reader, min(size - received, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)
