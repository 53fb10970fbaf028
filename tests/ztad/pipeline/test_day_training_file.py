"""A day's training file written batch by batch from its work files is the one written from
its whole frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ztad.behaviour.features import FEATURE_NAMES
from ztad.detection.training import TRAINING_FLAGGED
from ztad.pipeline.day_training_file import aligned_batches, write_day_training_file
from ztad.pipeline.training_data import write_training_file


def _work_files(tmp_path, rows: int):
    """Row-aligned features and events files cut into row groups of different sizes."""
    rng = np.random.default_rng(5)
    features = pd.DataFrame({name: rng.normal(size=rows) for name in FEATURE_NAMES})
    features["ctx_timezone"] = "UTC"  # a context column, not written to the training file
    events = pd.DataFrame({"event_id": pd.array([f"e{i}" for i in range(rows)], dtype="string"),
                           "user_id": "u"})
    pq.write_table(pa.Table.from_pandas(features, preserve_index=False), tmp_path / "features.parquet",
                   row_group_size=7)
    pq.write_table(pa.Table.from_pandas(events, preserve_index=False), tmp_path / "events.parquet",
                   row_group_size=5)
    return features, events


def test_the_file_equals_the_one_written_from_the_whole_day(tmp_path):
    features, events = _work_files(tmp_path, 101)
    rng = np.random.default_rng(6)
    rows, flagged = rng.random(101) < 0.8, rng.random(101) < 0.1
    write_day_training_file(tmp_path / "features.parquet", tmp_path / "events.parquet", rows, flagged,
                            tmp_path / "parts.parquet", batch_rows=4)  # many batches, cut unevenly
    write_training_file(features, rows, {"event_id": events["event_id"], TRAINING_FLAGGED: flagged},
                        tmp_path / "whole.parquet")
    parts, whole = pq.read_table(tmp_path / "parts.parquet"), pq.read_table(tmp_path / "whole.parquet")
    assert parts.schema.remove_metadata() == whole.schema.remove_metadata()
    assert parts.num_rows == int(rows.sum()) and parts.equals(whole)


def test_a_day_without_rows_leaves_a_file_with_the_columns(tmp_path):
    _work_files(tmp_path, 0)
    empty = np.zeros(0, dtype=bool)
    write_day_training_file(tmp_path / "features.parquet", tmp_path / "events.parquet", empty, empty,
                            tmp_path / "training.parquet")
    table = pq.read_table(tmp_path / "training.parquet")
    assert table.num_rows == 0
    assert table.column_names == [*FEATURE_NAMES, "event_id", TRAINING_FLAGGED]


def test_batches_of_different_lengths_are_paired_row_for_row():
    first = iter([pa.record_batch({"a": [0, 1, 2]}), pa.record_batch({"a": [3]}), pa.record_batch({"a": [4, 5]})])
    second = iter([pa.record_batch({"b": [0, 1]}), pa.record_batch({"b": [2, 3, 4, 5]})])
    pairs = [(a.column(0).to_pylist(), b.column(0).to_pylist()) for a, b in aligned_batches(first, second)]
    assert pairs == [([0, 1, 2], [0, 1, 2]), ([3], [3]), ([4, 5], [4, 5])]
