"""BLAS held to one thread while scoring.

OpenBLAS starts as many threads as the machine has cores for every matrix product. The
products of scoring are thin (a block of rows against a model's few dozen features), so a
second BLAS thread adds little, and on a busy machine its waiting for the other costs more
CPU than it saves: the One-Class SVM's kernel took four times the CPU time with two BLAS
threads as with one. Scoring runs its own threads over row chunks instead
(:mod:`ztad.detection.detectors.base`), each with a single-threaded BLAS.
"""

from __future__ import annotations

import contextlib
import threading

_CONTROLLER = None
_LOCK = threading.Lock()


def _controller():
    """The process's BLAS libraries, found once (a scan of the loaded libraries, milliseconds)."""
    global _CONTROLLER
    with _LOCK:
        if _CONTROLLER is None:
            import numpy  # noqa: F401  (its BLAS must be loaded to be found)
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with BLAS on one thread, then restore what it was (about 0.1 ms)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
