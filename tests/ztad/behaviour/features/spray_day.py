"""The small data set's password-spray day and its baseline, as several feature tests read them."""

from datetime import date
from pathlib import Path

import pandas as pd

from ztad.behaviour.baselines import BaselineState, baseline_as_of
from ztad.config import SourceConfig
from ztad.ingest import MissingPartitionError, load_day

SPRAY_DAY = date(2026, 3, 18)  # the small data set holds a password spray on this day


def spray_day_inputs(logs_root: Path, state_dir: Path) -> tuple[pd.DataFrame, BaselineState]:
    """The spray day's events and the 30-day baseline before it, built in ``state_dir``."""
    source = SourceConfig(root=str(logs_root))

    def load(past_day: date) -> pd.DataFrame:
        try:
            return load_day(source, past_day).events
        except MissingPartitionError:
            return pd.DataFrame()

    return load_day(source, SPRAY_DAY).events, baseline_as_of(state_dir, SPRAY_DAY, 30, load)
