"""A reader's second stage runs beside the next block's first: order and errors are kept."""

from __future__ import annotations

import threading

import pytest

from ztad.ingest.streaming.overlap import overlapped


def test_results_come_in_the_order_of_the_items():
    assert list(overlapped(range(7), lambda n: n * n)) == [0, 1, 4, 9, 16, 25, 36]


def test_no_items_give_no_results():
    assert list(overlapped([], lambda n: n)) == []


def test_the_finishing_stage_runs_off_the_callers_thread():
    caller = threading.get_ident()
    threads = set(overlapped(range(3), lambda _: threading.get_ident()))
    assert threads and caller not in threads


def test_an_error_is_raised_at_its_item_after_the_earlier_results():
    def finish(n):
        if n == 2:
            raise ValueError("block 2 is corrupt")
        return n

    results = overlapped(range(5), finish)
    assert [next(results), next(results)] == [0, 1]
    with pytest.raises(ValueError, match="block 2 is corrupt"):
        next(results)


def test_at_most_two_items_are_in_flight():
    produced: list[int] = []

    def items():
        for n in range(6):
            produced.append(n)
            yield n

    results = overlapped(items(), lambda n: n)
    assert next(results) == 0
    assert len(produced) <= 2
