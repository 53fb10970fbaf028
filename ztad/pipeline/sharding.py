"""One day split into shards of users, so that several workers compute and score it at once.

Events are divided by a stable hash of the user id: every event of a user lands in the same
shard, on every run and every machine. Everything a feature says about an event comes from
its own user's events and the baseline, except two counts that look across users (users one
IP served today, distinct users one source failed against in the last hour). The pre-pass
:func:`ztad.pipeline.cross_user` computes those once over the whole day and gives each shard
its events and their counts (:func:`split_day`); each shard then computes its features and
scores them (:func:`ztad.pipeline.update_baselines` and :func:`ztad.pipeline.score` with a
:class:`Shard`). The detectors are trained or loaded once per day, between the two, on the
whole day's features, so every shard scores with one model and one threshold. Gathering puts
the shards' files back together in the day's event order (:func:`gather_features`,
:func:`gather_scores`), a batch of rows at a time, never a whole file in memory, and the day
is written in one transaction, as always: a sharded day gives exactly the findings of an
unsharded one.

Work folder of a sharded day::

    day=YYYY-MM-DD/events.parquet               the day's events (pull)
    day=YYYY-MM-DD/shards.json                  how the day was split
    day=YYYY-MM-DD/baseline/                    the day's baseline, built once for all shards
                                                (Parquet, .npy and JSON: no pickle)
    day=YYYY-MM-DD/shard=001-of-004/            one shard: events.parquet, cross_user.parquet
                                                (with each row's position in the day), then
                                                features.parquet, scored.parquet ...
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.pipeline.shards import Shard, ShardError, all_shards, check_count, shard_of
from ztad.pipeline.steps.score import attribute_scores
from ztad.pipeline.workfiles import (
    day_dir,
    read_json,
    read_parquet,
    write_atomically,
    write_json,
    write_parquet,
)

#: The split of a day, in the day's work folder.
MANIFEST = "shards.json"


#: The day's baseline, built once by the pre-pass for every shard (a folder of data files).
BASELINE_FOLDER = "baseline"


#: Column of a shard's ``cross_user.parquet`` holding each row's position in the day.
ROW = "row"


def split_day(
    folder: Path, events: pd.DataFrame, signals: pd.DataFrame, count: int, baseline=None
) -> dict:
    """Write each shard's events and cross-user counts under the day's work ``folder``, and
    the day's ``baseline`` (:class:`ztad.behaviour.baselines.BaselineState`) for all of them.

    Shard folders of an earlier split of the day are removed first, so that a rerun with
    another shard count cannot mix old and new files. Returns what :data:`MANIFEST` records:
    the shard count and the events per shard.
    """
    count = check_count(count)
    if len(signals) != len(events):
        raise ShardError(f"{len(signals)} cross-user rows for {len(events)} events of {folder.name}")
    folder = Path(folder)
    for old in folder.glob("shard=*"):
        shutil.rmtree(old)
    assignment = shard_of(events["user_id"], count)
    sizes = []
    for shard in all_shards(count):
        rows = np.flatnonzero(assignment == shard.index)
        target = folder / shard.folder_name
        write_parquet(events.iloc[rows].reset_index(drop=True), target / "events.parquet")
        counts = signals.iloc[rows].reset_index(drop=True).assign(**{ROW: rows.astype(np.int64)})
        write_parquet(counts, target / "cross_user.parquet")
        sizes.append(int(len(rows)))
    if baseline is not None:
        save_baseline(folder, baseline)
    manifest = {"shards": count, "events_per_shard": sizes}
    write_json(folder / MANIFEST, manifest)
    return manifest


def save_baseline(folder: Path, baseline) -> Path:
    """Keep the day's baseline in its work folder, so that each shard loads it instead of
    combining the history's daily aggregates again (seconds per shard for a large
    organisation). Data files, not a pickle (:mod:`ztad.behaviour.baselines.state_files`): a
    worker reading them runs no code that the shared folder could have been given. Written
    beside the final folder, then moved into place."""
    from ztad.behaviour.baselines import save_state

    final = Path(folder) / BASELINE_FOLDER
    staging = final.with_name(f".{BASELINE_FOLDER}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    retired = final.with_name(f".{BASELINE_FOLDER}.old-{uuid.uuid4().hex[:8]}")
    try:
        save_state(baseline, staging)
        if final.exists():
            final.rename(retired)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
    return final


def load_baseline(folder: Path, day: date):
    """The baseline that :func:`save_baseline` kept for ``day``.

    Raises
    ------
    FileNotFoundError
        When the day was not prepared for its shards (run the cross_user step).
    ShardError
        When the folder holds another day's baseline.
    """
    from ztad.behaviour.baselines import load_state

    path = Path(folder) / BASELINE_FOLDER
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run the cross_user step for this day before its shards"
        )
    baseline = load_state(path)
    if baseline.day != day:
        raise ShardError(f"{path} holds the baseline of {baseline.day}, not of {day}")
    return baseline


def read_manifest(folder: Path) -> dict:
    """The split of the day in ``folder``.

    Raises
    ------
    FileNotFoundError
        When the day was not split (run :func:`ztad.cross_user` first).
    """
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run the cross_user step for this day before its shards"
        )
    return json.loads(path.read_text())


def _positions(folder: Path, shards: list[Shard]) -> list[np.ndarray]:
    return [
        read_parquet(folder / s.folder_name / "cross_user.parquet")[ROW].to_numpy(np.int64)
        for s in shards
    ]


#: Rows of the day gathered from the shards and written at once.
GATHER_BATCH_ROWS = 65_536


def _owners(sizes: list[int], positions: list[np.ndarray], what: str) -> np.ndarray:
    """Which shard holds each row of the day, after checking that the shards' files and
    positions agree and cover the day's events exactly once, each shard in the day's order."""
    for size, rows in zip(sizes, positions):
        if size != len(rows):
            raise ShardError(f"{what}: a shard has {size} rows for {len(rows)} events")
        if len(rows) and np.any(np.diff(rows) <= 0):
            raise ShardError(f"{what}: a shard's events are not in the day's order")
    total = int(sum(sizes))
    owners = np.full(total, -1, dtype=np.int32)
    for shard, rows in enumerate(positions):
        if len(rows) and (rows.min() < 0 or rows.max() >= total or np.any(owners[rows] >= 0)):
            raise ShardError(f"{what}: the shards do not cover the day's events exactly once")
        owners[rows] = shard
    if np.any(owners < 0):
        raise ShardError(f"{what}: the shards do not cover the day's events exactly once")
    return owners


def _gathered_schema(files: list):
    """The day's file schema: the first shard's, with dictionary columns indexed by int32,
    wide enough for the union of every shard's values."""
    import pyarrow as pa

    schema = files[0].schema_arrow
    for i, field in enumerate(schema):
        if pa.types.is_dictionary(field.type):
            schema = schema.set(i, field.with_type(pa.dictionary(pa.int32(), field.type.value_type)))
    return schema


def _next_rows(batches, pending: list, count: int):
    """The next ``count`` rows of one shard's batches (``pending[0]``: rows read, not taken)."""
    import pyarrow as pa

    pieces = []
    while count:
        if pending[0] is None or pending[0].num_rows == 0:
            pending[0] = next(batches)
        piece = pending[0].slice(0, count)
        pieces.append(piece)
        count -= piece.num_rows
        pending[0] = pending[0].slice(piece.num_rows)
    return pa.Table.from_batches(pieces)


def _write_in_day_order(paths: list[Path], positions: list[np.ndarray], target: Path, what: str,
                        batch_rows: int = GATHER_BATCH_ROWS) -> int:
    """Write the shards' files ``paths`` as one file of the day's rows in the day's order,
    ``batch_rows`` of the day at a time: each shard's rows are in the day's order already, so
    every batch takes each shard's next rows and interleaves them. No shard's file, nor the
    day's, is held whole. Returns the day's row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = [pq.ParquetFile(p) for p in paths]
    owners = _owners([f.metadata.num_rows for f in files], positions, what)
    schema = _gathered_schema(files)
    readers = [f.iter_batches(batch_size=batch_rows) for f in files]
    pending = [[None] for _ in files]

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, schema) as writer:
            if len(owners) == 0:
                writer.write_table(schema.empty_table())
            for begin in range(0, len(owners), batch_rows):
                shard_of_row = owners[begin:begin + batch_rows]
                counts = np.bincount(shard_of_row, minlength=len(files))
                pieces = [_next_rows(readers[s], pending[s], int(n)).cast(schema)
                          for s, n in enumerate(counts) if n]
                grouped = pa.concat_tables(pieces).unify_dictionaries()
                # Rows come grouped by shard; their places in the day's batch put them back.
                by_shard = np.argsort(shard_of_row, kind="stable")
                writer.write_table(grouped.take(pa.array(np.argsort(by_shard))))

    write_atomically(target, write)
    return len(owners)


def _day_shards(day: date, config: JobConfig) -> tuple[Path, list[Shard]]:
    folder = day_dir(config, day)
    return folder, all_shards(read_manifest(folder)["shards"])


def gather_features(day: date, config: JobConfig) -> dict:
    """Put the shards' features together as the day's ``features.parquet``, in event order."""
    folder, shards = _day_shards(day, config)
    rows = _write_in_day_order([folder / s.folder_name / "features.parquet" for s in shards],
                               _positions(folder, shards), folder / "features.parquet", f"features of {day}")
    return {"day": day.isoformat(), "shards": len(shards), "rows": rows}


def _gather_counts(folder: Path, shards: list[Shard]) -> dict:
    """One ``score.json`` for the day: counts summed, the model and threshold checked equal."""
    results = [read_json(folder / s.folder_name / "score.json") for s in shards]
    out = dict(results[0])
    for key in ("threshold", "model_version"):
        values = {r.get(key) for r in results}
        if len(values) > 1:
            raise ShardError(f"the shards of {folder.name} were scored with different {key}s: {values}")
    for key, value in results[0].items():
        if key.startswith("rows_") and isinstance(value, int):
            out[key] = int(sum(r.get(key, 0) for r in results))
    return out


def gather_scores(day: date, config: JobConfig) -> dict:
    """Put the shards' scores and counts together as the day's files, then explain the day's
    flagged events (:func:`ztad.attribute_scores`: the events explained exactly are
    the day's highest, not each shard's)."""
    folder, shards = _day_shards(day, config)
    _write_in_day_order([folder / s.folder_name / "scored.parquet" for s in shards],
                        _positions(folder, shards), folder / "scored.parquet", f"scores of {day}")
    attribute_scores(day, config)
    counts = _gather_counts(folder, shards)
    write_json(folder / "score.json", counts)
    return counts
