import numpy as np
import pytest

from ztad.synth.sampling import choose_per_row, cumulative


def test_cumulative_rows_end_at_one_and_zero_rows_stay_zero():
    cum = cumulative(np.array([[1.0, 3.0], [0.0, 0.0]]))
    assert cum[0].tolist() == [0.25, 1.0]
    assert cum[1].tolist() == [0.0, 0.0]


def test_each_row_draws_from_its_own_distribution():
    cum = cumulative(np.array([[0.2, 0.8, 0.0], [0.0, 0.0, 1.0], [0.5, 0.0, 0.5]]))
    rng = np.random.default_rng(0)
    rows = np.repeat([0, 1, 2], 20000)
    picked = choose_per_row(cum, rows, rng.random(len(rows)))
    first, second, third = (np.bincount(picked[rows == r], minlength=3) / 20000 for r in range(3))
    assert first == pytest.approx([0.2, 0.8, 0.0], abs=0.015)
    assert second.tolist() == [0.0, 0.0, 1.0]
    assert third == pytest.approx([0.5, 0.0, 0.5], abs=0.015)
