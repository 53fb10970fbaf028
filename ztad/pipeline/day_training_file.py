"""A scored day's training file, written from its work files a batch of rows at a time.

The file is the one :func:`ztad.pipeline.training_data.write_training_file` writes (the model
features of the chosen rows, their event ids and whether they were flagged, in the day's order),
but its rows are read from ``features.parquet`` and ``events.parquet`` batch by batch: a large
day's model inputs (26 numbers an event) are never held whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ztad.detection.training import TRAINING_FLAGGED
from ztad.pipeline.training_data import READ_BATCH_ROWS
from ztad.pipeline.workfiles import write_parquet_parts


def write_day_training_file(
    features_path: Path, events_path: Path, rows: np.ndarray, flagged: np.ndarray, path: Path,
    batch_rows: int = READ_BATCH_ROWS,
) -> None:
    """Write the training file of a day: of the rows the boolean mask ``rows`` chooses, the
    model features, the event id and ``flagged`` (row-aligned with the work files), reading
    at most ``batch_rows`` rows of each file at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ztad.behaviour.features import FEATURE_NAMES

    rows, flagged = np.asarray(rows, dtype=bool), np.asarray(flagged, dtype=bool)
    features = pq.ParquetFile(features_path).iter_batches(batch_size=batch_rows, columns=list(FEATURE_NAMES))
    events = pq.ParquetFile(events_path).iter_batches(batch_size=batch_rows, columns=["event_id"])

    def tables() -> Iterator[pa.Table]:
        begin = 0
        for model_inputs, ids in aligned_batches(features, events):
            end = begin + model_inputs.num_rows
            chosen = pa.array(rows[begin:end])
            columns = {name: model_inputs.column(name).filter(chosen) for name in FEATURE_NAMES}
            columns["event_id"] = ids.column("event_id").filter(chosen)
            columns[TRAINING_FLAGGED] = pa.array(flagged[begin:end][rows[begin:end]])
            yield pa.table(columns)
            begin = end
        if begin == 0:  # a day without rows: the columns, no rows
            yield _empty_schema(features_path, events_path).empty_table()

    write_parquet_parts(path, tables())


def _empty_schema(features_path: Path, events_path: Path):
    """The training file's columns, as the work files type them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ztad.behaviour.features import FEATURE_NAMES

    model = pq.ParquetFile(features_path).schema_arrow
    ids = pq.ParquetFile(events_path).schema_arrow
    return pa.schema([*(model.field(name) for name in FEATURE_NAMES), ids.field("event_id"),
                      pa.field(TRAINING_FLAGGED, pa.bool_())])


def aligned_batches(first: Iterator, second: Iterator) -> Iterator[tuple]:
    """Pairs of the same rows of two row-aligned files read batch by batch: each batch of
    ``first`` with a table of as many of ``second``'s next rows (files cut into row groups
    of their own sizes give batches of different lengths)."""
    import pyarrow as pa

    pending = None
    for batch in first:
        if batch.num_rows == 0:
            continue
        pieces, needed = [], batch.num_rows
        while needed:
            if pending is None or pending.num_rows == 0:
                pending = next(second)
            piece = pending.slice(0, needed)
            pieces.append(piece)
            needed -= piece.num_rows
            pending = pending.slice(piece.num_rows)
        yield batch, pa.Table.from_batches(pieces)
