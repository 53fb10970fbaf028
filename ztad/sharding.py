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
:func:`gather_scores`) and the day is written in one transaction, as always: a sharded day
gives exactly the findings of an unsharded one.

Work folder of a sharded day::

    day=YYYY-MM-DD/events.parquet               the day's events (pull)
    day=YYYY-MM-DD/shards.json                  how the day was split
    day=YYYY-MM-DD/baseline.pickle              the day's baseline, built once for all shards
    day=YYYY-MM-DD/shard=001-of-004/            one shard: events.parquet, cross_user.parquet
                                                (with each row's position in the day), then
                                                features.parquet, scored.parquet ...
"""

from __future__ import annotations

import json
import pickle
import shutil
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ztad import pipeline
from ztad.config import JobConfig

#: Most shards a day may be split into (far more than the workers of any executor).
MAX_SHARDS = 256
#: Fixed 16-byte key of the user hash, so that a user's shard never changes.
SHARD_HASH_KEY = "ztad-user-shards"
#: The split of a day, in the day's work folder.
MANIFEST = "shards.json"
#: The day's baseline, built once by the pre-pass for every shard.
BASELINE_FILE = "baseline.pickle"
#: Column of a shard's ``cross_user.parquet`` holding each row's position in the day.
ROW = "row"


class ShardError(ValueError):
    """A shard count or index is invalid, or a day's shard files do not fit together."""


def check_count(count) -> int:
    """Return ``count`` as a number of shards, 1 to :data:`MAX_SHARDS`.

    Raises
    ------
    ShardError
        For anything else (the message says what is allowed).
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise ShardError(f"the number of shards must be a whole number, not {count!r}")
    if not 1 <= count <= MAX_SHARDS:
        raise ShardError(f"the number of shards must be between 1 and {MAX_SHARDS}, not {count}")
    return int(count)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of a day split into ``count`` shards."""

    index: int
    count: int

    def __post_init__(self) -> None:
        check_count(self.count)
        if isinstance(self.index, bool) or not isinstance(self.index, (int, np.integer)):
            raise ShardError(f"a shard index must be a whole number, not {self.index!r}")
        if not 0 <= self.index < self.count:
            raise ShardError(f"shard index {self.index} is outside 0..{self.count - 1}")

    @property
    def folder_name(self) -> str:
        """Its folder inside the day's work folder, e.g. ``shard=002-of-004`` (1-based)."""
        return f"shard={self.index + 1:03d}-of-{self.count:03d}"

    def as_dict(self) -> dict[str, int]:
        """A JSON-able form (what an orchestrator maps a task over)."""
        return {"index": self.index, "count": self.count}

    @classmethod
    def from_dict(cls, value: dict) -> "Shard":
        """The shard of :meth:`as_dict`."""
        try:
            return cls(index=value["index"], count=value["count"])
        except (KeyError, TypeError):
            raise ShardError(
                f"a shard is given as {{'index': i, 'count': n}}, not {value!r}"
            ) from None

    def __str__(self) -> str:
        return f"shard {self.index + 1} of {self.count}"


def all_shards(count: int) -> list[Shard]:
    """The ``count`` shards of a day, in order."""
    return [Shard(index, check_count(count)) for index in range(count)]


def shard_of(user_ids: pd.Series, count: int) -> np.ndarray:
    """The shard (0-based) of each user id: a keyed hash modulo ``count``, stable everywhere.

    The hash is pandas' SipHash of the text with a fixed key, so it does not depend on the
    process (unlike Python's ``hash``), the machine, or the other users of the day.
    """
    count = check_count(count)
    hashes = pd.util.hash_pandas_object(
        user_ids.astype("string").fillna(""), index=False, hash_key=SHARD_HASH_KEY
    )
    return (hashes.to_numpy(dtype=np.uint64) % np.uint64(count)).astype(np.int64)


# --------------------------------------------------------------------------- files


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically, so that a killed task never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the earlier steps of this shard first")
    return pd.read_parquet(path)


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(path)


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the earlier steps of this shard first")
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- split


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
        _write_parquet(events.iloc[rows].reset_index(drop=True), target / "events.parquet")
        counts = signals.iloc[rows].reset_index(drop=True).assign(**{ROW: rows.astype(np.int64)})
        _write_parquet(counts, target / "cross_user.parquet")
        sizes.append(int(len(rows)))
    if baseline is not None:
        save_baseline(folder, baseline)
    manifest = {"shards": count, "events_per_shard": sizes}
    _write_json(folder / MANIFEST, manifest)
    return manifest


def save_baseline(folder: Path, baseline) -> Path:
    """Keep the day's baseline in its work folder, so that each shard loads it instead of
    combining the history's daily aggregates again (seconds per shard for a large
    organisation). A pickle: the work folder is written and read only by the job itself."""
    path = Path(folder) / BASELINE_FILE
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        pickle.dump(baseline, out, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return path


def load_baseline(folder: Path, day: date):
    """The baseline that :func:`save_baseline` kept for ``day``.

    Raises
    ------
    FileNotFoundError
        When the day was not prepared for its shards (run the cross_user step).
    ShardError
        When the file holds another day's baseline.
    """
    path = Path(folder) / BASELINE_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run the cross_user step for this day before its shards"
        )
    with path.open("rb") as stream:
        baseline = pickle.load(stream)
    if baseline.day != day:
        raise ShardError(f"{path} holds the baseline of {baseline.day}, not of {day}")
    return baseline


def read_manifest(folder: Path) -> dict:
    """The split of the day in ``folder``.

    Raises
    ------
    FileNotFoundError
        When the day was not split (run :func:`ztad.pipeline.cross_user` first).
    """
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run the cross_user step for this day before its shards"
        )
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- gather


def _positions(folder: Path, shards: list[Shard]) -> list[np.ndarray]:
    return [
        _read_parquet(folder / s.folder_name / "cross_user.parquet")[ROW].to_numpy(np.int64)
        for s in shards
    ]


def _unify_categories(parts: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Give categorical columns one set of categories, so that concatenation keeps them
    categorical (each shard factorised only its own values)."""
    if not parts:
        return parts
    columns = [
        c for c in parts[0].columns
        if all(isinstance(p[c].dtype, pd.CategoricalDtype) for p in parts if c in p.columns)
    ]
    if not columns:
        return parts
    parts = [p.copy() for p in parts]
    for column in columns:
        categories = pd.api.types.union_categoricals(
            [p[column] for p in parts if column in p.columns], ignore_order=True
        ).categories
        for p in parts:
            if column in p.columns:
                p[column] = p[column].cat.set_categories(categories)
    return parts


def _in_day_order(parts: list[pd.DataFrame], positions: list[np.ndarray], what: str) -> pd.DataFrame:
    for part, rows in zip(parts, positions):
        if len(part) != len(rows):
            raise ShardError(f"{what}: a shard has {len(part)} rows for {len(rows)} events")
    order = np.concatenate(positions) if positions else np.array([], dtype=np.int64)
    if not np.array_equal(np.sort(order), np.arange(len(order))):
        raise ShardError(f"{what}: the shards do not cover the day's events exactly once")
    frame = pd.concat(_unify_categories(parts), ignore_index=True)
    return frame.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def _day_shards(day: date, config: JobConfig) -> tuple[Path, list[Shard]]:
    folder = pipeline.day_dir(config, day)
    return folder, all_shards(read_manifest(folder)["shards"])


def gather_features(day: date, config: JobConfig) -> dict:
    """Put the shards' features together as the day's ``features.parquet``, in event order."""
    folder, shards = _day_shards(day, config)
    parts = [_read_parquet(folder / s.folder_name / "features.parquet") for s in shards]
    features = _in_day_order(parts, _positions(folder, shards), f"features of {day}")
    _write_parquet(features, folder / "features.parquet")
    return {"day": day.isoformat(), "shards": len(shards), "rows": int(len(features))}


def _gather_counts(folder: Path, shards: list[Shard]) -> dict:
    """One ``score.json`` for the day: counts summed, the model and threshold checked equal."""
    results = [_read_json(folder / s.folder_name / "score.json") for s in shards]
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
    flagged events (:func:`ztad.pipeline.attribute_scores`: the events explained exactly are
    the day's highest, not each shard's)."""
    folder, shards = _day_shards(day, config)
    positions = _positions(folder, shards)
    parts = [_read_parquet(folder / s.folder_name / "scored.parquet") for s in shards]
    scored = _in_day_order(parts, positions, f"scores of {day}")
    _write_parquet(scored, folder / "scored.parquet")
    pipeline.attribute_scores(day, config)
    counts = _gather_counts(folder, shards)
    _write_json(folder / "score.json", counts)
    return counts


# --------------------------------------------------------------------------- whole steps


def prepare_detectors(day: date, config: JobConfig, retrain: bool = False) -> dict:
    """Gather the shards' features, then train or load the day's model on the whole day."""
    gather_features(day, config)
    return pipeline.prepare_detectors(day, config, retrain=retrain)


def write_findings(day: date, config: JobConfig, run_id: str, dry_run: bool = False) -> dict:
    """Gather the shards' scores, then write the whole day in one transaction."""
    gather_scores(day, config)
    return pipeline.write_findings(day, config, run_id, dry_run=dry_run)


def run_day(
    day: date,
    config: JobConfig,
    shards: int,
    run_id: str | None = None,
    *,
    retrain: bool = False,
    dry_run: bool = False,
) -> pipeline.RunSummary:
    """Run one day in ``shards`` shards, one after another in this process.

    The same steps, in the same order, as an orchestrator runs them on several workers.
    ``timings`` holds each step's total and, per sharded step, its slowest shard
    (``<step>_slowest_shard``): the step's wall time when every shard has a worker.
    """
    count = check_count(shards)
    run_id = run_id or pipeline.new_run_id(day)
    folder = pipeline.day_dir(config, day)
    started = datetime.now(timezone.utc)
    _write_json(folder / "started.json", {"started_at": started.isoformat()})
    timings: dict[str, float] = {}

    def timed(name: str, step) -> dict:
        begin = time.perf_counter()
        out = step()
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - begin, 3)
        _write_json(folder / "timings.json", timings)
        return out

    def per_shard(name: str, step) -> None:
        slowest = 0.0
        for shard in all_shards(count):
            begin = time.perf_counter()
            timed(name, lambda: step(shard))
            slowest = max(slowest, time.perf_counter() - begin)
        timings[f"{name}_slowest_shard"] = round(slowest, 3)

    try:
        pulled = timed("pull", lambda: pipeline.pull(day, config))
        timed("cross_user", lambda: pipeline.cross_user(day, config, count))
        per_shard("update_baselines", lambda s: pipeline.update_baselines(day, config, shard=s))
        decision = timed("prepare_detectors", lambda: prepare_detectors(day, config, retrain))
        per_shard("score", lambda s: pipeline.score(day, config, shard=s))
        scored = timed("gather_scores", lambda: gather_scores(day, config))
        timed("write_findings", lambda: pipeline.write_findings(day, config, run_id, dry_run))
    except Exception as error:
        pipeline.record_failure(day, config, run_id, error, started=started, timings=timings, dry_run=dry_run)
        raise
    return pipeline.RunSummary.from_steps(day, run_id, dry_run, pulled, decision, scored, timings)
