"""BLAS is held to one thread inside the block and given back its threads after it."""

import numpy as np
from threadpoolctl import threadpool_info

from ztad.detection.detectors.blas_threads import one_blas_thread


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_blas_runs_on_one_thread_inside_and_as_before_after():
    before = _blas_threads()
    assert before, "numpy's BLAS is loaded"
    with one_blas_thread():
        assert set(_blas_threads()) == {1}
        product = np.ones((64, 8)) @ np.ones((8, 64))
    assert _blas_threads() == before
    assert product[0, 0] == 8.0
