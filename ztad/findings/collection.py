"""Building many small documents without the cyclic garbage collector scanning them meanwhile.

A night's findings are tens of thousands of reasons, top features and attributions, each a
few lists and dicts. Every few hundred new containers Python's cyclic collector runs, and as
they pile up its older generations, which hold everything the process has loaded (pandas,
pyarrow, the day's frames), are scanned again and again: that took as long as building the
documents. None of them refers back to another, so no garbage cycle is made while they are
built, and the collector can wait until they are done.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def collector_paused():
    """Pause cyclic garbage collection while the block (or decorated function) runs, and
    resume it afterwards if it was running; reference counting frees memory as ever."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()
