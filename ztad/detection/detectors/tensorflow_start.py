"""TensorFlow's start-up without its chatter.

On import and on first use TensorFlow probes for CUDA and writes notices such as "Could not
find cuda drivers" straight to the process's standard error, from C++, before its own log
level applies. When ``TF_CPP_MIN_LOG_LEVEL`` is 3 (the ``ztad`` command sets it unless run
with ``-v``), :func:`quiet_start` points file descriptor 2 at ``/dev/null`` while that
happens; otherwise it changes nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_start() -> Iterator[None]:
    """Silence what TensorFlow writes to standard error inside the block, when asked to."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
