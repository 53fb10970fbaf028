"""Past days as the job reads them: their raw events, and the baseline as it stood before a day.

History the job never scored may carry the source's labels. Then only its events trusted as
normal teach the baseline and the detectors (:func:`ztad.feedback.trusted_by_labels`), and
how many were trusted and excluded is kept per day (``<state>/labels/day=YYYY-MM-DD.json``) for
the run to report.

A never-scored day is read from the source once (:class:`HistoryFiles`), into
``<work>/history/day=YYYY-MM-DD/events.parquet`` (a large day's rows in the order of its
parts of users, :func:`ztad.behaviour.features.user_parts.part_order`). Its baseline aggregate
is built from that file a part of its users at a time, and its training file from the same
file (:func:`ztad.pipeline.training_data.training_file_of`), which then removes it. The file
is in the work folder, beside the files the steps hand each other, because it is one too: the
baseline step writes it and the training step reads it, perhaps in another process. It is
kept no longer than a day of the training window may still need it: the baseline of a day
drops the files of days before that day's training window (no training of that day or a
later one reads them), so a night that does not train leaves at most the training window's
files, for the night that does.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.config import JobConfig


def history_loader(config: JobConfig) -> Callable[[date], pd.DataFrame]:
    """A loader of one past day's events for baselines; a day with no data is empty.

    A flat log file is read once for all days (its index in ``config.flat_index_dir``), not
    once for every day asked for. The source is asked for its list of days once, on the first
    day asked for, so that a day it does not hold (a baseline window reaching before the logs
    start) is empty at once instead of being looked for.
    """
    from ztad.ingest import MissingPartitionError, available_days, load_day
    from ztad.schema import empty_events

    present: set[date] = set()

    def load(past_day: date) -> pd.DataFrame:
        if not present:
            present.update(available_days(config.source, config.flat_index_dir))
        if past_day not in present:
            return empty_events()
        try:
            return load_day(config.source, past_day, config.flat_index_dir).events
        except MissingPartitionError:
            return empty_events()

    return load


def history_trust(config: JobConfig, past_day: date, events: pd.DataFrame) -> np.ndarray:
    """Which of a never-scored past day's events may be learnt: those its labels trust as
    normal when it carries labels and ``config.use_labels``, else all. The counts are kept."""
    from ztad.feedback import trusted_by_labels

    trusted = trusted_by_labels(events) if config.use_labels else None
    if trusted is None:
        return np.ones(len(events), dtype=bool)
    _record_trust(config, past_day, int(trusted.sum()), int((~trusted).sum()))
    return trusted


class HistoryFiles:
    """Never-scored past days, each read from the source once into a Parquet file of its
    events (see the module's docstring): where they are, their parts and trusted rows.

    The source is asked for its list of days once, on the first day asked for, as
    :func:`history_loader` asks it.
    """

    def __init__(self, config: JobConfig):
        self.config = config
        self._present: set[date] = set()

    def folder(self, day: date) -> Path:
        """The folder of one history day's files."""
        return history_folder(self.config) / f"day={day.isoformat()}"

    def events_file(self, day: date) -> Path | None:
        """The day's events file, read from the source now unless it was already; ``None`` when
        the source has no event of the day (nothing is kept then)."""
        from ztad.ingest import MissingPartitionError, available_days
        from ztad.ingest import write_day_files as pull_day_files

        path = self.folder(day) / "events.parquet"
        if path.exists():
            return path
        if not self._present:
            self._present.update(available_days(self.config.source, self.config.flat_index_dir))
        if day not in self._present:
            return None
        try:
            pull_day_files(self.config.source, day, self.config.flat_index_dir, path,
                           self.folder(day) / "quarantine.parquet")
        except MissingPartitionError:
            return None
        if _rows(path) == 0:
            self.drop(day)
            return None
        file_parts(path)  # a large day is put in part order once, for every later read
        return path

    def trusted_parts(self, day: date) -> Iterator[pd.DataFrame] | None:
        """The day's events its labels let the baseline learn, as parts that share no user and
        with only the columns an aggregate reads; ``None`` when the day has no data (a window
        reaching before the logs begin: no empty frame is built for each such day).
        For :func:`ztad.behaviour.baselines.baseline_as_of`."""
        path = self.events_file(day)
        if path is None:
            return None
        return aggregate_parts(path, file_trust(self.config, day, path))

    def drop(self, day: date) -> None:
        """Remove the day's files."""
        shutil.rmtree(self.folder(day), ignore_errors=True)

    def drop_before(self, day: date) -> None:
        """Remove the files of the days before ``day``."""
        for folder in history_folder(self.config).glob("day=*"):
            if date.fromisoformat(folder.name.removeprefix("day=")) < day:
                shutil.rmtree(folder, ignore_errors=True)


def history_folder(config: JobConfig) -> Path:
    """Where never-scored days' events are kept while they are learnt."""
    return Path(config.work_dir) / "history"


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def file_parts(path: Path) -> np.ndarray:
    """Where each part of users of the events file at ``path`` begins (part ``k`` is the rows
    ``bounds[k]:bounds[k + 1]``): one part for a day computed in one go
    (:func:`ztad.behaviour.features.user_parts.in_one_go`), its rows in the day's order; else
    the parts of :func:`ztad.behaviour.features.user_parts.part_order`, the file rewritten in
    that order first when it is not in it yet. The parts are kept beside the file
    (``parts.json``), so that the day's users are not read again for every use of it."""
    from ztad.behaviour.features.user_parts import in_one_go, part_order
    from ztad.pipeline.workfiles import (
        optional_json,
        put_in_part_order,
        read_parquet,
        release_unused_memory,
        write_json,
    )

    rows = _rows(path)
    if in_one_go(rows):
        return np.array([0, rows])
    kept = path.with_name("parts.json")
    known = optional_json(kept)
    if known.get("rows") == rows:
        return np.asarray(known["bounds"], dtype="int64")
    order, bounds = part_order(read_parquet(path, ["user_id"])["user_id"])
    if not np.array_equal(order, np.arange(len(order))):
        put_in_part_order(path, order, bounds)
        release_unused_memory()
    write_json(kept, {"rows": rows, "bounds": [int(b) for b in bounds]})
    return bounds


def file_trust(config: JobConfig, day: date, path: Path) -> np.ndarray:
    """:func:`history_trust` of the events file at ``path`` (its labels alone are read)."""
    import pyarrow.parquet as pq

    labels = [c for c in ("event_label",) if c in pq.ParquetFile(path).schema_arrow.names]
    events = pd.read_parquet(path, columns=labels) if labels else pd.DataFrame(index=pd.RangeIndex(_rows(path)))
    return history_trust(config, day, events)


def read_part(path: Path, columns: list[str], begin: int, end: int) -> pd.DataFrame:
    """The rows ``begin:end`` of the Parquet file at ``path``, only ``columns`` (those it
    holds), numbered from 0; only the row groups holding them are read."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    columns = [c for c in columns if c in file.schema_arrow.names]
    starts = np.cumsum([0] + [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)])
    groups = [g for g in range(file.num_row_groups) if starts[g] < end and starts[g + 1] > begin]
    if not groups:
        return file.schema_arrow.empty_table().select(columns).to_pandas()
    table = file.read_row_groups(groups, columns=columns)
    return table.slice(begin - starts[groups[0]], end - begin).to_pandas()


def aggregate_parts(path: Path, trusted: np.ndarray) -> Iterator[pd.DataFrame]:
    """The ``trusted`` rows of the events file at ``path``, one part of users at a time
    (:func:`file_parts`), with only the columns a day's aggregate reads."""
    from ztad.behaviour.baselines.daily import AGGREGATE_COLUMNS

    for begin, end in pairwise(file_parts(path)):
        yield trusted_rows(read_part(path, list(AGGREGATE_COLUMNS), begin, end), trusted[begin:end])


def trusted_rows(events: pd.DataFrame, trusted: np.ndarray) -> pd.DataFrame:
    """The ``trusted`` rows of a day's events, renumbered; clean history (every row trusted)
    is not copied."""
    if trusted.all():
        return events.reset_index(drop=True)
    return events[trusted].reset_index(drop=True)


def _trust_path(config: JobConfig, day: date) -> Path:
    return Path(config.state_dir) / "labels" / f"day={day.isoformat()}.json"


def _record_trust(config: JobConfig, day: date, trusted: int, excluded: int) -> None:
    path = _trust_path(config, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"trusted": trusted, "excluded": excluded}))


def label_trust_counts(config: JobConfig) -> dict[str, int]:
    """Events of labelled history trusted as normal and excluded, summed over every day the
    job learnt from its labels (``days`` of them)."""
    folder = Path(config.state_dir) / "labels"
    counts = {"days": 0, "trusted": 0, "excluded": 0}
    for path in sorted(folder.glob("day=*.json")) if folder.exists() else []:
        facts = json.loads(path.read_text())
        counts["days"] += 1
        counts["trusted"] += int(facts["trusted"])
        counts["excluded"] += int(facts["excluded"])
    return counts


def baseline_before(config: JobConfig, day: date):
    """The baseline as of the start of ``day``; a window day without a saved aggregate is read
    from the source once and aggregated a part of its users at a time (:class:`HistoryFiles`).
    The history files of days before ``day``'s training window are dropped."""
    from ztad.behaviour.baselines import baseline_as_of
    from ztad.detection.training import training_window

    files = HistoryFiles(config)
    state = baseline_as_of(config.state_dir, day, config.detection.history_days, files.trusted_parts)
    files.drop_before(training_window(config, day)[0])
    return state
