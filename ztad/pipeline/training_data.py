"""The training matrix: feature vectors of the training window's days, read from the work
files each scored day leaves, or computed for history that was never scored.

A day's training file keeps only what training needs (the model features, the event id and
whether the model flagged the event). The matrix is sampled day by day before anything is
concatenated: each day's row count is read from its file's metadata, the sample's share of
each day is drawn first, and only the chosen rows of each day are read, batch by batch, so
that memory follows ``max_training_rows``, not the size of the window.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.detection.training import (
    TRAINING_DAY,
    TRAINING_DAY_ROWS,
    TRAINING_FLAGGED,
    training_window,
)
from ztad.pipeline.history import baseline_before, read_part
from ztad.pipeline.workfiles import read_parquet, read_parquet_by_column, write_atomically

#: Rows read from a training file at once while picking the sampled ones.
READ_BATCH_ROWS = 65_536


def training_features_path(config: JobConfig, day: date) -> Path:
    """Where the unflagged feature vectors of a past day are kept for training."""
    return Path(config.state_dir) / "training" / f"day={day.isoformat()}.parquet"


def write_training_file(features: pd.DataFrame, rows: np.ndarray, extra: dict, path: Path) -> None:
    """Write a training file: the model features of the chosen ``rows`` (a boolean mask) and
    the ``extra`` columns (row-aligned with ``features``). The rows are picked and written
    :data:`READ_BATCH_ROWS` of the day at a time, so a large day's chosen rows are never copied
    whole beside its feature table (a million-event day's largest copy while it is learnt)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ztad.behaviour.features import FEATURE_NAMES

    rows = np.asarray(rows, dtype=bool)
    model = {name: features[name].to_numpy() for name in FEATURE_NAMES}
    others = {name: pa.array(values) for name, values in extra.items()}

    def batch(begin: int) -> pa.Table:
        part = slice(begin, begin + READ_BATCH_ROWS)
        chosen = rows[part]
        columns = {name: values[part][chosen] for name, values in model.items()}
        columns.update({name: values.slice(begin, READ_BATCH_ROWS).filter(pa.array(chosen))
                        for name, values in others.items()})
        return pa.table(columns)

    def write(tmp: Path) -> None:
        first = batch(0)
        with pq.ParquetWriter(tmp, first.schema) as writer:
            writer.write_table(first)
            for begin in range(READ_BATCH_ROWS, len(rows), READ_BATCH_ROWS):
                writer.write_table(batch(begin))

    write_atomically(path, write)


def training_file_of(config: JobConfig, past_day: date) -> Path | None:
    """The training file of one past day: the one kept after scoring it, else computed now
    (``None`` when the day has no events).

    A day that was never scored (history before the job started) is taken as it is, but for
    the events its labels do not trust as normal (:func:`ztad.pipeline.history.history_trust`);
    of a day whose findings are stored, the flagged and confirmed events are left out.
    Its events are read from the file the baseline left of it
    (:class:`ztad.pipeline.history.HistoryFiles`), which is read from the source now when
    there is none, and removed once the training file is written: the day is read from the
    source once for both. Its baseline aggregate is saved from that file when it has none yet.
    A day of more than a few parts of users
    (:func:`ztad.behaviour.features.user_parts.in_one_go`) is computed and written a part at
    a time (:func:`write_training_parts`).
    """
    from ztad.behaviour.baselines import has_daily_aggregate, save_aggregate_of
    from ztad.behaviour.features import compute_features
    from ztad.behaviour.features.user_parts import in_one_go
    from ztad.feedback import learnable_events
    from ztad.pipeline.history import HistoryFiles, aggregate_parts, file_parts, file_trust

    path = training_features_path(config, past_day)
    if path.exists():
        return path
    # The baseline before the day's events: building it may read and aggregate earlier days,
    # and the day need not be held meanwhile.
    baseline = baseline_before(config, past_day)
    files = HistoryFiles(config)
    events_path = files.events_file(past_day)
    if events_path is None:
        return None
    trusted = file_trust(config, past_day, events_path)
    if not has_daily_aggregate(config.state_dir, past_day):
        save_aggregate_of(config.state_dir, past_day, aggregate_parts(events_path, trusted))
    event_ids = read_parquet(events_path, ["event_id"])["event_id"]
    keep = np.asarray(learnable_events(config, past_day, event_ids), dtype=bool) & trusted
    if in_one_go(len(event_ids)):
        inputs = read_parquet_by_column(events_path, feature_input_columns(events_path))
        detection = config.detection
        features = compute_features(inputs, baseline, detection, detection.feature_settings)
        del baseline, inputs
        write_training_file(features, keep, {"event_id": event_ids}, path)
    else:
        # The file is in part order: the parts are those it was put in.
        write_training_parts(events_path, file_parts(events_path), event_ids, keep, baseline, config, path)
    files.drop(past_day)
    return path


def feature_input_columns(path: Path) -> list[str]:
    """The columns of the events file at ``path`` that the features read: the day's other
    fields (event ids, labels, source rows, organisations) stay on disk."""
    import pyarrow.parquet as pq

    from ztad.behaviour.features import INPUT_COLUMNS

    present = set(pq.ParquetFile(path).schema_arrow.names)
    return [c for c in INPUT_COLUMNS if c in present]


def part_reader(path: Path):
    """``read(begin, end)``: the rows ``begin:end`` of the events file at ``path``, the columns
    the features read, indexed from 0 (only the row groups holding them are read)."""
    columns = feature_input_columns(path)
    return lambda begin, end: read_part(path, columns, begin, end)


def write_training_parts(
    events_path: Path,
    bounds: np.ndarray,
    event_ids: pd.Series,
    keep: np.ndarray,
    baseline,
    config: JobConfig,
    path: Path,
) -> None:
    """Write the training file of a large day from its features computed a part of its users
    at a time (:mod:`ztad.behaviour.features.user_parts`): each part's chosen rows (``keep``)
    are written as soon as its features are computed, so that the day's feature table is
    never held whole. The events file at ``events_path`` is in part order (part ``k`` the
    rows ``bounds[k]:bounds[k + 1]``, :func:`ztad.pipeline.history.file_parts`), and each
    part's events are read from it when they are needed; ``event_ids`` and ``keep`` are
    row-aligned with it.

    The rows come in part order (the users grouped by part, the day's order kept within each
    part), not the day's: the same rows with the same values, but the seeded training sample,
    which draws row positions, picks other, equally uniform rows of the day.
    """
    import pyarrow as pa

    from ztad.behaviour.features import FEATURE_NAMES
    from ztad.behaviour.features.user_parts import features_by_part
    from ztad.pipeline.workfiles import write_parquet_parts

    detection = config.detection
    settings = detection.feature_settings
    parts = features_by_part(part_reader(events_path), bounds, baseline, detection, settings)

    def chosen_rows():
        for (begin, end), features in zip(pairwise(bounds), parts):
            chosen = keep[begin:end]
            columns = {name: features[name].to_numpy()[chosen] for name in FEATURE_NAMES}
            del features  # not held while the next part is computed
            # As write_training_file writes them: the model features and the event ids' own type.
            yield pa.table({**columns, "event_id": pa.array(event_ids.iloc[begin:end][chosen])})

    write_parquet_parts(path, chosen_rows())


def sample_sizes(day_rows: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """How many rows of each day a uniform sample of ``cap`` rows of the whole window holds.

    Every row when the window holds no more than ``cap``; else a multivariate hypergeometric
    draw, which is exactly how a uniform sample without replacement spreads over the days.
    """
    day_rows = np.asarray(day_rows, dtype="int64")
    if day_rows.sum() <= cap:
        return day_rows
    return rng.multivariate_hypergeometric(day_rows, cap)


def read_rows(path: Path, columns: list[str], rows: np.ndarray | None, batch_rows: int = READ_BATCH_ROWS) -> pd.DataFrame:
    """``columns`` of the Parquet file ``path`` that it holds: the sorted, non-empty row
    positions ``rows`` (all when ``None``), picked ``batch_rows`` at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    columns = [c for c in columns if c in file.schema_arrow.names]
    if rows is None:
        return file.read(columns=columns).to_pandas()
    pieces, first = [], 0
    for batch in file.iter_batches(batch_size=batch_rows, columns=columns):
        lo, hi = np.searchsorted(rows, [first, first + batch.num_rows])
        if hi > lo:
            pieces.append(batch.take(pa.array(rows[lo:hi] - first)))
        first += batch.num_rows
    return pa.Table.from_batches(pieces).to_pandas()


def training_matrix(config: JobConfig, day: date) -> pd.DataFrame:
    """Feature vectors of the training window, each row tagged with its day, its day's row
    count and whether the model flagged it when that day was scored; empty (with those
    columns) when the window holds no events.

    Beyond ``max_training_rows`` in all, a seeded uniform sample of the window's rows is kept:
    each day's share of it is drawn first (:func:`sample_sizes`), then that many of the day's
    rows, so that no day is ever read whole.
    """
    import pyarrow.parquet as pq

    from ztad.behaviour.features import FEATURE_NAMES

    start, end = training_window(config, day)
    files = {}
    for offset in range((end - start).days):
        past_day = start + timedelta(days=offset)
        path = training_file_of(config, past_day)
        if path is not None:
            files[past_day] = path
    day_rows = np.array([pq.ParquetFile(path).metadata.num_rows for path in files.values()], dtype="int64")
    if day_rows.sum() == 0:  # the first days of the logs: nothing to learn from yet
        return pd.DataFrame(columns=[*FEATURE_NAMES, TRAINING_DAY, TRAINING_FLAGGED, TRAINING_DAY_ROWS])
    rng = np.random.default_rng(config.detection.seed)
    sizes = sample_sizes(day_rows, config.detection.max_training_rows, rng)
    frames = []
    for (past_day, path), rows, size in zip(files.items(), day_rows, sizes):
        if size == 0:
            continue
        chosen = None if size == rows else np.sort(rng.choice(rows, size, replace=False))
        frame = read_rows(path, [*FEATURE_NAMES, TRAINING_FLAGGED], chosen)
        flagged = frame.pop(TRAINING_FLAGGED) if TRAINING_FLAGGED in frame.columns else False
        frames.append(frame.assign(**{TRAINING_DAY: past_day, TRAINING_FLAGGED: flagged, TRAINING_DAY_ROWS: rows}))
    return pd.concat(frames, ignore_index=True)
