"""Which of a scored day's rows its findings read, and their fields, without the whole day.

A finding quotes its own event; of the events not flagged, only those of an address the
``background_scanning`` rule hit are read (a scanner's sentence counts the attempts of its
whole day, :func:`ztad.findings.sentences.explain`). Those rows are found from the scores and a
batch-by-batch pass over the day's addresses, so that a large day's event fields and model
inputs are never held whole to describe a few thousand findings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: Score column of the rule whose sentences read the rows of its addresses beyond the flagged.
SCANNING_COLUMN = "rule_background_scanning"
#: Rows of the events file read at once while looking for the scanners' addresses.
BATCH_ROWS = 65_536


def described_rows(events_path: Path, scored: pd.DataFrame) -> np.ndarray:
    """The sorted positions of the rows the day's findings read: the flagged ones and every
    row of an address the scanning rule hit."""
    flagged = scored["flagged"].to_numpy(bool)
    if SCANNING_COLUMN not in scored.columns:
        return np.flatnonzero(flagged)
    hit = scored[SCANNING_COLUMN].to_numpy(bool)
    wanted = flagged.copy()
    if hit.any():
        wanted |= _rows_of_addresses(events_path, _addresses_of(events_path, np.flatnonzero(hit)))
    return np.flatnonzero(wanted)


def _addresses_of(events_path: Path, rows: np.ndarray):
    """The distinct known addresses of ``rows`` (an Arrow array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ztad.pipeline.training_data import read_rows

    ips = read_rows(events_path, ["ip_address"], rows)["ip_address"].dropna()
    return pc.unique(pa.array(ips.to_numpy(dtype=object), type=pa.large_string()))


def _rows_of_addresses(events_path: Path, addresses) -> np.ndarray:
    """Per row of the events file, whether its address is one of ``addresses``."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parts = [
        pc.is_in(batch.column(0), value_set=addresses.cast(batch.column(0).type)).fill_null(False)
        .to_numpy(zero_copy_only=False)
        for batch in pq.ParquetFile(events_path).iter_batches(batch_size=BATCH_ROWS, columns=["ip_address"])
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
