"""Past days as the job reads them: their raw events, and the baseline as it stood before a day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd

from ztad.config import JobConfig


def history_loader(config: JobConfig) -> Callable[[date], pd.DataFrame]:
    """A loader of one past day's events for baselines; a day with no data is empty."""
    from ztad.ingest import MissingPartitionError, load_day
    from ztad.schema import empty_events

    def load(past_day: date) -> pd.DataFrame:
        try:
            return load_day(config.source, past_day).events
        except MissingPartitionError:
            return empty_events()

    return load


def baseline_before(config: JobConfig, day: date):
    from ztad.behaviour.baselines import baseline_as_of

    return baseline_as_of(
        config.state_dir, day, config.detection.history_days, history_loader(config)
    )
