"""Two stages of a reader run at once: the next block is decoded while this one is finished.

Decoding holds Python's global lock, but most of what turns decoded columns into events
(Arrow compute, reading the file) releases it, so on a machine with two cores the second
stage of one block and the first stage of the next overlap. Blocks are still handed out one
at a time and in order; at most two are in flight, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def overlapped(items: Iterable[Item], finish: Callable[[Item], Result]) -> Iterator[Result]:
    """``finish(item)`` for every item, in order, each run in a worker thread while the next
    item is produced.

    An exception from ``finish`` is raised here, at its item; the worker stops with the
    generator (also when the caller stops early).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ztad-finish") as worker:
        pending = None
        for item in items:
            started = worker.submit(finish, item)
            if pending is not None:
                yield pending.result()
            pending = started
        if pending is not None:
            yield pending.result()
