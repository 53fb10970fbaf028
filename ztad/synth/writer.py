"""Writing generated logs: daily partitions or one flat file, as CSV, Parquet or JSON Lines.

Layouts (what ``ztad run --logs`` and the ingestion readers expect):

``partitioned``
    ``<out>/date=YYYY-MM-DD/events.<ext>``, one folder per UTC day.
``flat``
    ``<out>/events.<ext>`` holding every day, as the origin data set does.

CSV and JSON Lines carry ``timestamp`` as ISO 8601 UTC text (``2026-03-02T08:15:04Z``);
Parquet carries it as a UTC timestamp. ``login_success`` is 0/1 everywhere. Days are written
one at a time and each in chunks of :data:`CHUNK_ROWS` events, so the text of a day is
never held whole.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ztad.synth.table import clock_strings
from ztad.synth.world import GeneratorSettings, GeneratorSettingsError, build_world, iter_day_chunks

LAYOUTS: tuple[str, ...] = ("partitioned", "flat")
FORMATS: dict[str, str] = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}
FILE_STEM = "events"
#: Events of a day turned into text and written at once: memory follows this, not the day's size.
CHUNK_ROWS = 250_000


@dataclass(frozen=True)
class GenerateSummary:
    """What was generated and where.

    ``labels`` counts events per ``event_label`` and ``scenarios`` counts the normal events of
    each hard-negative kind; ``paths`` are the files written.
    """

    out_dir: Path
    layout: str
    fmt: str
    start: date
    days: int
    users: int
    seed: int
    events: int
    labels: dict[str, int]
    scenarios: dict[str, int]
    paths: tuple[Path, ...]

    @property
    def end(self) -> date:
        """Last day generated."""
        return self.start + timedelta(days=self.days - 1)

    @property
    def attack_events(self) -> int:
        """Events with any label but ``normal``."""
        return sum(n for label, n in self.labels.items() if label != "normal")

    @property
    def attack_share(self) -> float:
        """Share of attack events among all events."""
        return self.attack_events / self.events if self.events else 0.0

    def __str__(self) -> str:
        lines = [
            f"{self.events:,} events, {self.users} users, {self.days} days "
            f"({self.start} to {self.end}), seed {self.seed}",
            f"written as {self.layout} {self.fmt} under {self.out_dir}",
            f"attacks: {self.attack_events:,} events ({self.attack_share:.2%})",
        ]
        lines += [f"  {label}: {n:,}" for label, n in sorted(self.labels.items()) if label != "normal"]
        lines.append("hard negatives (normal events):")
        lines += [f"  {kind}: {n:,}" for kind, n in sorted(self.scenarios.items())]
        return "\n".join(lines)


def iso_timestamps(timestamps: pd.Series) -> pd.Categorical:
    """``YYYY-MM-DDTHH:MM:SSZ`` strings of UTC timestamps, built once per distinct second."""
    seconds = timestamps.to_numpy(dtype="datetime64[s]").astype(np.int64)
    used, codes = np.unique(seconds, return_inverse=True)
    day, second = np.divmod(used, 86400)
    days, day_code = np.unique(day, return_inverse=True)
    prefixes = np.array([str(np.datetime64(int(d), "D")) + "T" for d in days], dtype=object)
    names = prefixes[day_code] + clock_strings()[second] + "Z" if len(used) else np.zeros(0, dtype=object)
    return pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object))


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary (categorical) columns as plain strings, so that every day has one schema
    (a column with no value that day, such as ``attack_id`` on a day without attacks, is text
    too)."""
    columns = [_plain_column(col) for col in table.columns]
    return pa.table(columns, names=table.column_names)


def _plain_column(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if not pa.types.is_dictionary(col.type):
        return col
    values = col.type.value_type
    return col.cast(pa.string() if pa.types.is_null(values) else values)


def to_arrow(frame: pd.DataFrame, fmt: str) -> pa.Table:
    """Arrow table of a generated frame as written in ``fmt`` (text timestamps except Parquet)."""
    if fmt != "parquet":
        frame = frame.assign(timestamp=iso_timestamps(frame["timestamp"]))
    return _plain(pa.Table.from_pandas(frame, preserve_index=False))


class _Sink:
    """Writes day tables, a chunk at a time, to one file or to one file per day."""

    def __init__(self, out_dir: Path, layout: str, fmt: str) -> None:
        self.out_dir, self.layout, self.fmt = out_dir, layout, fmt
        self.paths: list[Path] = []
        self._writer = None
        self._day: date | None = None

    def _path_for(self, day: date) -> Path:
        if self.layout == "flat":
            return self.out_dir / f"{FILE_STEM}.{FORMATS[self.fmt]}"
        folder = self.out_dir / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        for ext in FORMATS.values():  # an earlier run in another format must not double the day
            (folder / f"{FILE_STEM}.{ext}").unlink(missing_ok=True)
        return folder / f"{FILE_STEM}.{FORMATS[self.fmt]}"

    def write(self, day: date, table: pa.Table) -> None:
        """Append one chunk of ``day`` (chunks come in day order); a day's first chunk starts
        its file in the partitioned layout, the first chunk of all the flat file."""
        if self._writer is None or (self.layout == "partitioned" and day != self._day):
            self.close()
            path = self._path_for(day)
            self.paths.append(path)
            self._writer = _open_writer(path, table.schema, self.fmt)
        self._day = day
        self._writer.write(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _write_jsonl(table: pa.Table, handle) -> None:
    if table.num_rows:
        text = table.to_pandas().to_json(orient="records", lines=True)
        handle.write(text if text.endswith("\n") else text + "\n")


class _JsonLinesWriter:
    def __init__(self, path: Path) -> None:
        self._handle = path.open("w", encoding="utf-8")

    def write(self, table: pa.Table) -> None:
        _write_jsonl(table, self._handle)

    def close(self) -> None:
        self._handle.close()


def _open_writer(path: Path, schema: pa.Schema, fmt: str):
    if fmt == "csv":
        return pa_csv.CSVWriter(path, schema)
    if fmt == "parquet":
        return pq.ParquetWriter(path, schema)
    return _JsonLinesWriter(path)


def _check_output(layout: str, fmt: str) -> None:
    if layout not in LAYOUTS:
        raise GeneratorSettingsError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if fmt not in FORMATS:
        raise GeneratorSettingsError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")


def generate(
    out_dir,
    *,
    start: date,
    days: int,
    users: int,
    seed: int = 7,
    attack_rate: float = 0.01,
    clean_days: int = 14,
    layout: str = "partitioned",
    fmt: str = "csv",
    progress: Callable[[int, int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> GenerateSummary:
    """Generate labelled synthetic authentication logs and write them under ``out_dir``.

    Parameters
    ----------
    out_dir
        Output folder (created if missing). Files of the same names are replaced.
    start, days, users, seed, attack_rate, clean_days
        See :class:`ztad.synth.world.GeneratorSettings`.
    layout
        ``partitioned`` (``date=YYYY-MM-DD/events.<ext>``) or ``flat`` (``events.<ext>``).
    fmt
        ``csv``, ``parquet`` or ``jsonl``.
    progress
        Called as ``progress(days_done, days_total)`` after each day.
    chunk_rows
        Events of a day turned into text and written at once; the files do not depend on it.

    Returns
    -------
    GenerateSummary
        Counts per label and scenario, and the files written.
    """
    _check_output(layout, fmt)
    settings = GeneratorSettings(start, days, users, seed, attack_rate, clean_days)
    world = build_world(settings)
    chunks = iter_day_chunks(world, chunk_rows)
    return write_days(out_dir, chunks, settings, layout=layout, fmt=fmt, progress=progress)


def _day_done(done: int, day: date | None, settings: GeneratorSettings, progress) -> int:
    """Days written once ``day`` is finished (``None``: none begun yet), reported to ``progress``."""
    if day is None:
        return done
    if progress is not None:
        progress(done + 1, settings.days)
    return done + 1


def write_days(
    out_dir,
    day_frames: Iterable[tuple[date, pd.DataFrame]],
    settings: GeneratorSettings,
    *,
    layout: str = "partitioned",
    fmt: str = "csv",
    progress: Callable[[int, int], None] | None = None,
) -> GenerateSummary:
    """Write generated day frames under ``out_dir`` and sum them up.

    Frames come in day order; consecutive frames of one day are chunks of it, written one
    after the other into the day's file, so that a day is never held as text whole.
    """
    _check_output(layout, fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sink = _Sink(out, layout, fmt)
    labels: Counter = Counter()
    scenarios: Counter = Counter()
    total, done, current = 0, 0, None
    try:
        for day, frame in day_frames:
            if day != current:
                done, current = _day_done(done, current, settings, progress), day
            sink.write(day, to_arrow(frame, fmt))
            total += len(frame)
            labels.update(frame["event_label"].value_counts().to_dict())
            if "scenario" in frame.columns:
                scenarios.update(frame["scenario"].value_counts().to_dict())
        _day_done(done, current, settings, progress)
    finally:
        sink.close()
    return GenerateSummary(
        out_dir=out, layout=layout, fmt=fmt, start=settings.start, days=settings.days, users=settings.users,
        seed=settings.seed, events=total,
        labels={str(k): int(v) for k, v in labels.items() if v},
        scenarios={str(k): int(v) for k, v in scenarios.items() if v and k != ""},
        paths=tuple(sink.paths),
    )
