"""Steps 1 and 2 of a day at once: the day pulled by a forked copy while the baseline is built.

The baseline as of the start of a day is built from the past days alone, and the day's pull
reads the source alone: neither needs the other, and each holds one core (a usual night of a
million events: about 7 s each). So a forked copy of the process
(:class:`~ztad.pipeline.forked_step.ForkedStep`) pulls the day and puts a large day's events in
part order while this process applies the analysts' feedback and builds the baseline; the
day's features then need both. The files written are those of the two steps run one after the
other.

Only a large day read from its own partition is pulled beside the baseline. A small day's pull
takes less than forking a copy of a large process costs. The index of a flat file is built by
its first reader, which the baseline's history could be too. And a day without a partition
must fail its pull at once, before a baseline is built for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

import numpy as np

from ztad.config import JobConfig
from ztad.pipeline.forked_step import ForkedStep, can_fork
from ztad.pipeline.history import baseline_before
from ztad.pipeline.steps.pull import pull
from ztad.pipeline.steps.update_baselines import (
    order_day_events,
    read_feedback,
    update_baselines,
    write_day_features,
)

#: Fewest bytes of a day's partition pulled beside the baseline: about 250,000 events of CSV,
#: whose pull takes a second or more.
PULL_BESIDE_MIN_BYTES = 16 * 1024 * 1024

#: ``timed(name, step)``: runs a step, keeping its wall time under ``name`` (the runner's).
Timed = Callable[[str, Callable[[], dict]], dict]


def pull_and_update_baselines(day: date, config: JobConfig, timed: Timed, timings: dict) -> dict:
    """Run the pull and baseline steps of ``day`` and return what the pull returned.

    Pulled beside the baseline, the pull's own wall time (in the copy, overlapping the
    baseline step's) is put in ``timings`` under ``pull``; the baseline step's time includes
    any wait for the pull. Otherwise the two steps run one after the other, each timed."""
    if not pulls_beside_baseline(day, config):
        pulled = timed("pull", lambda: pull(day, config))
        timed("update_baselines", lambda: update_baselines(day, config))
        return pulled
    pulled: dict = {}

    def baselines() -> dict:
        with ForkedStep.start(lambda: _pulled_in_part_order(day, config)) as pulling:
            feedback = read_feedback(day, config)
            baseline = [baseline_before(config, day)]
            pulled.update(pulling.result())
        timings["pull"] = pulled.pop("seconds")
        bounds = pulled.pop("part_bounds")
        bounds = None if bounds is None else np.asarray(bounds, dtype=np.int64)
        # Handed over, not kept here: the features free the baseline once they no longer need it.
        return {**write_day_features(day, config, baseline.pop(), bounds), **feedback}

    timed("update_baselines", baselines)
    return pulled


def pulls_beside_baseline(day: date, config: JobConfig) -> bool:
    """Whether ``day`` is pulled by a forked copy while the baseline is built: a copy can be
    forked here, and the day has a partition of its own of :data:`PULL_BESIDE_MIN_BYTES` or more."""
    from ztad.ingest import partition_size

    return can_fork() and partition_size(config.source, day) >= max(1, PULL_BESIDE_MIN_BYTES)


def _pulled_in_part_order(day: date, config: JobConfig) -> dict:
    """The pull step, then a large day's events put in part order: the pull's counts, with
    where each part begins (``part_bounds``, ``None`` for a small day) and the wall time."""
    began = time.perf_counter()
    counts = pull(day, config)
    bounds = order_day_events(day, config)
    return {
        **counts,
        "part_bounds": None if bounds is None else bounds.tolist(),
        "seconds": round(time.perf_counter() - began, 3),
    }
