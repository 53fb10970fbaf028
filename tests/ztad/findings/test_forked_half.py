"""A row-by-row computation split with a forked copy: the same values, whoever computes them."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import pytest

from ztad.findings import forked_half
from ztad.findings.forked_half import MIN_SPLIT_ROWS, by_halves, forked_halves


def rows_of(n: int, width: int = 3) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, width))


def computed_by(rows: np.ndarray) -> np.ndarray:
    """Each row's values: the process that computed it, in every column."""
    return np.full(rows.shape, float(os.getpid()))


def test_outside_a_block_every_row_is_computed_here():
    values = by_halves(computed_by, rows_of(100))
    assert (values == os.getpid()).all()


def test_inside_a_block_the_second_half_is_computed_by_a_forked_copy():
    with forked_halves():
        values = by_halves(computed_by, rows_of(101))
    assert (values[:50] == os.getpid()).all()
    others = np.unique(values[50:])
    assert len(others) == 1 and others[0] != os.getpid()


def test_the_values_are_those_computed_at_once():
    rows = rows_of(257, width=5)

    def compute(part):
        return np.sin(part) * part.sum(axis=1, keepdims=True)

    with forked_halves():
        split = by_halves(compute, rows)
    assert split.dtype == np.float64
    assert np.array_equal(split, compute(rows))


def test_few_rows_are_not_split():
    with forked_halves():
        values = by_halves(computed_by, rows_of(MIN_SPLIT_ROWS - 1))
    assert (values == os.getpid()).all()


def test_rows_the_copy_fails_on_are_computed_here(caplog):
    parent = os.getpid()

    def fails_in_the_copy(part):
        if os.getpid() != parent:
            raise RuntimeError("no memory left")
        return part * 2

    rows = rows_of(64)
    with caplog.at_level(logging.WARNING), forked_halves():
        values = by_halves(fails_in_the_copy, rows)
    assert np.array_equal(values, rows * 2)
    assert "explaining them here" in caplog.text


def test_a_copy_that_does_not_answer_is_killed_and_its_rows_computed_here(monkeypatch):
    parent = os.getpid()

    def hangs_in_the_copy(part):
        if os.getpid() != parent:
            time.sleep(600)
        return part + 1

    monkeypatch.setattr(forked_half, "MIN_PATIENCE_SECONDS", 1.0)
    rows = rows_of(40)
    started = time.monotonic()
    with forked_halves():
        values = by_halves(hangs_in_the_copy, rows)
    assert time.monotonic() - started < 30
    assert np.array_equal(values, rows + 1)


def test_a_copy_giving_values_of_another_shape_is_not_trusted():
    parent = os.getpid()

    def wrong_width_in_the_copy(part):
        return part[:, :1] if os.getpid() != parent else part

    rows = rows_of(40)
    with forked_halves():
        values = by_halves(wrong_width_in_the_copy, rows)
    assert np.array_equal(values, rows)


def test_exact_treeshap_is_the_same_split_or_not():
    from sklearn.ensemble import IsolationForest

    from ztad.findings.attributions import isolation_forest_shap

    pytest.importorskip("shap")
    X = rows_of(600, width=4)
    forest = IsolationForest(n_estimators=20, random_state=0).fit(X)
    rows = X[:80]
    whole = isolation_forest_shap(forest, rows)
    with forked_halves():
        split = isolation_forest_shap(forest, rows)
    assert np.array_equal(split, whole)


def test_a_split_that_works_says_nothing(caplog):
    with caplog.at_level(logging.WARNING), forked_halves():
        by_halves(computed_by, rows_of(200))
    assert caplog.text == ""


def test_a_failure_here_stops_the_copy_and_is_raised(monkeypatch):
    parent = os.getpid()
    started = []
    start = forked_half._ForkedPart.start

    def recorded(*args):
        started.append(start(*args))
        return started[-1]

    monkeypatch.setattr(forked_half._ForkedPart, "start", staticmethod(recorded))

    def fails_here(part):
        if os.getpid() == parent:
            raise ValueError("bad rows")
        time.sleep(600)
        return part

    with pytest.raises(ValueError, match="bad rows"), forked_halves():
        by_halves(fails_here, rows_of(40))
    assert len(started) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0].pid, os.WNOHANG)  # killed and reaped: no copy left behind
