"""One day split into shards of users, so that several workers compute and score it at once.

Events are divided by a stable hash of the user id: every event of a user lands in the same
shard, on every run and every machine. Everything a feature says about an event comes from
its own user's events and the baseline, except two counts that look across users (users one
IP served today, distinct users one source failed against in the last hour). The pre-pass
:func:`ztad.pipeline.cross_user` computes those once over the whole day and gives each shard
its events and their counts (:func:`split_day`, a batch of the day's events at a time); each
shard then computes its features, a part of its users at a time when it is large, as an
unsharded day is, and scores them (:func:`ztad.pipeline.update_baselines` and
:func:`ztad.pipeline.score` with a :class:`Shard`). The detectors are trained or loaded once per day, between the two, on the
whole day's features, so every shard scores with one model and one threshold. Gathering puts
the shards' files back together in the day's event order (:func:`gather_features`,
:func:`gather_scores`), a batch of rows at a time, never a whole file in memory, and the day
is written in one transaction, as always: a sharded day gives exactly the findings of an
unsharded one.

Work folder of a sharded day::

    day=YYYY-MM-DD/events.parquet               the day's events (pull)
    day=YYYY-MM-DD/shards.json                  how the day was split (shards, events and
                                                parts of users per shard)
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
    shared_schema,
    temporary_name,
    write_atomically,
    write_json,
)

#: The split of a day, in the day's work folder.
MANIFEST = "shards.json"


#: The day's baseline, built once by the pre-pass for every shard (a folder of data files).
BASELINE_FOLDER = "baseline"


#: Column of a shard's ``cross_user.parquet`` holding each row's position in the day.
ROW = "row"


#: Rows of the day's events read at once while it is split.
SPLIT_BATCH_ROWS = 131_072


def split_day(
    folder: Path, signals: pd.DataFrame, count: int, baseline=None, *, bounds=None,
    batch_rows: int = SPLIT_BATCH_ROWS,
) -> dict:
    """Write each shard's events and cross-user counts under the day's work ``folder``, from
    its ``events.parquet`` and the day's cross-user counts ``signals`` (row-aligned with it),
    and the day's ``baseline`` (:class:`ztad.behaviour.baselines.BaselineState`) for all of
    them.

    The day's events are read ``batch_rows`` at a time and each batch's rows are appended to
    their shards' files (:class:`_ShardFiles`): the day's events are never held whole. Each
    shard's rows keep the day's order. ``bounds`` are where the day's parts of users begin
    (:func:`ztad.behaviour.features.user_parts.part_order`; the whole day one part when
    ``None``): a shard's rows of one part are contiguous, and the shard's own parts
    (:func:`shard_parts`) are recorded so that its features can be computed a part at a time.

    Shard folders of an earlier split of the day are removed first, so that a rerun with
    another shard count cannot mix old and new files. Returns what :data:`MANIFEST` records:
    the shard count, the events per shard and each shard's part bounds.
    """
    import pyarrow.parquet as pq

    count = check_count(count)
    folder = Path(folder)
    path = folder / "events.parquet"
    if not path.exists():
        read_parquet(path)  # the missing file's own error
    file = pq.ParquetFile(path)
    rows = file.metadata.num_rows
    if len(signals) != rows:
        raise ShardError(f"{len(signals)} cross-user rows for {rows} events of {folder.name}")
    bounds = np.array([0, rows], dtype=np.int64) if bounds is None else np.asarray(bounds, dtype=np.int64)
    if len(bounds) < 2 or bounds[0] != 0 or bounds[-1] != rows or np.any(np.diff(bounds) < 0):
        raise ShardError(f"the parts {bounds.tolist()} do not cover the {rows} events of {folder.name}")
    for old in folder.glob("shard=*"):
        shutil.rmtree(old)
    if baseline is not None:
        save_baseline(folder, baseline)
    per_part = _write_shard_files(folder, file, signals, count, bounds, batch_rows)
    manifest = {
        "shards": count,
        "events_per_shard": [int(n) for n in per_part.sum(axis=1)],
        "parts_per_shard": [shard_parts(counts).tolist() for counts in per_part],
    }
    write_json(folder / MANIFEST, manifest)
    return manifest


def _write_shard_files(folder: Path, file, signals: pd.DataFrame, count: int, bounds: np.ndarray,
                       batch_rows: int) -> np.ndarray:
    """Append every batch of the day's events ``file`` to its shards' files; returns how many
    rows of each part of the day (``bounds``) each shard got (shards by parts)."""
    per_part = np.zeros((count, len(bounds) - 1), dtype=np.int64)
    shards = [_ShardFiles(folder / s.folder_name, file.schema_arrow, signals) for s in all_shards(count)]
    try:
        first = 0
        for batch in file.iter_batches(batch_size=batch_rows):
            positions = np.arange(first, first + batch.num_rows, dtype=np.int64)
            first += batch.num_rows
            assignment = shard_of(batch.column("user_id").to_pandas(), count)
            part = np.searchsorted(bounds, positions, side="right") - 1
            for index, shard in enumerate(shards):
                taken = np.flatnonzero(assignment == index)
                per_part[index] += np.bincount(part[taken], minlength=per_part.shape[1])
                # One piece per part of the day, so that a shard's parts are whole row groups.
                for piece in np.split(taken, np.flatnonzero(np.diff(part[taken])) + 1):
                    if len(piece):
                        shard.append(batch, piece, positions[piece])
        for shard in shards:
            shard.close()
    finally:
        for shard in shards:
            shard.discard()
    return per_part


class _ShardFiles:
    """One shard's ``events.parquet`` and ``cross_user.parquet`` (the day's counts of its rows
    and their positions in the day, :data:`ROW`), appended to a few rows at a time under
    temporary names and put in place once complete (:meth:`close`): a split that fails
    leaves no shard file behind.

    The events keep the day's file schema, dictionary columns with 32-bit codes so that every
    piece's own dictionary fits; they read back with the day's types and values.
    """

    def __init__(self, folder: Path, schema, signals: pd.DataFrame):
        import pyarrow as pa
        import pyarrow.parquet as pq

        folder.mkdir(parents=True, exist_ok=True)
        self.signals = signals
        self.finals = [folder / "events.parquet", folder / "cross_user.parquet"]
        self.tmps = [temporary_name(path) for path in self.finals]
        counts = pa.Schema.from_pandas(signals.iloc[:0].assign(**{ROW: np.zeros(0, np.int64)}),
                                       preserve_index=False)
        self.writers = [pq.ParquetWriter(self.tmps[0], shared_schema(schema)),
                        pq.ParquetWriter(self.tmps[1], counts)]
        self.written = 0

    def append(self, batch, rows: np.ndarray, positions: np.ndarray) -> None:
        """Add the rows ``rows`` of the day's ``batch`` of events, at ``positions`` in the day."""
        import pyarrow as pa

        events, counts = self.writers
        events.write_table(pa.Table.from_batches([batch.take(pa.array(rows))]).cast(events.schema))
        piece = self.signals.iloc[positions].reset_index(drop=True).assign(**{ROW: positions})
        counts.write_table(pa.Table.from_pandas(piece, schema=counts.schema, preserve_index=False))
        self.written += len(rows)

    def close(self) -> None:
        """Finish both files and put them in place."""
        for writer in self.writers:
            if self.written == 0:
                writer.write_table(writer.schema.empty_table())
            writer.close()
        for tmp, final in zip(self.tmps, self.finals):
            tmp.replace(final)

    def discard(self) -> None:
        """Close the files and remove what was not put in place."""
        for writer, tmp in zip(self.writers, self.tmps):
            if writer.is_open:
                writer.close()
            tmp.unlink(missing_ok=True)


def shard_parts(counts: np.ndarray, part_events: int | None = None) -> np.ndarray:
    """Where a shard's parts begin in its file, from its rows of each part of the day
    (``counts``): adjacent parts of the day joined while they hold fewer than ``part_events``
    rows (default :data:`ztad.behaviour.features.user_parts.PART_EVENTS`), so that each of the
    shard's parts is about as large as one of an unsharded day's."""
    from ztad.behaviour.features import user_parts

    limit = part_events or user_parts.PART_EVENTS
    bounds, held = [0], 0
    for rows in np.asarray(counts, dtype=np.int64):
        if held and held + rows > limit:
            bounds.append(bounds[-1] + held)
            held = 0
        held += int(rows)
    if held or len(bounds) == 1:
        bounds.append(bounds[-1] + held)
    return np.array(bounds, dtype=np.int64)


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
    """The day's file schema: the shards' schemas unified (a column with no value in one
    shard's file, stored as nulls, takes the type another shard gives it), its dictionary
    columns shared by every shard's values (:func:`ztad.pipeline.workfiles.shared_schema`)."""
    import pyarrow as pa

    unified = pa.unify_schemas([f.schema_arrow for f in files], promote_options="permissive")
    return shared_schema(unified.with_metadata(files[0].schema_arrow.metadata))


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
