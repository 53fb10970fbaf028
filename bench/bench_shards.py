"""One large day scored whole and in shards of users, in-process: wall time per step.

Generates an organisation with about a million events a day (``--users 80000``), lets the job
build its state on the history days and train its model once (a dry run of the scored day),
then scores the day from copies of that state: unsharded (``pipeline.run_day``), and in each
``--shards`` count (``pipeline.run_sharded_day``, the shards one after another in this process, the
way an executor runs them on one worker). For each count it prints the wall time, every
step's time, the slowest shard of the sharded steps, and the critical path: the wall time when
every shard has a worker of its own (pre-pass + slowest feature shard + model + slowest
scoring shard + gather + write). With ``--parallel`` the shard steps also run in a pool of
processes (at most the machine's cores). Checks that every count flags exactly the same
events; asserts nothing else.

    .venv/bin/python bench/bench_shards.py --users 80000 --shards 1 4
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from ztad import pipeline
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.pipeline import sharding
from ztad.pipeline.shards import all_shards
from ztad.synth import generate

START = date(2026, 3, 2)
SHARDED_STEPS = ("update_baselines", "score")


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _config(root: Path, home: Path, detectors: tuple[str, ...], history: int) -> JobConfig:
    detection = DetectionConfig(detectors=detectors, training_days=history)
    return JobConfig(source=SourceConfig(root=str(root)), home=home, detection=detection)


def _copy_state(base: JobConfig, home: Path) -> None:
    """The warmed-up state (baselines, training features, model) without the work files."""
    shutil.rmtree(home, ignore_errors=True)
    for part in ("state", "models"):
        shutil.copytree(Path(base.home) / part, home / part)


def critical_path(timings: dict[str, float]) -> float:
    """Wall time of the day when every shard runs on a worker of its own."""
    total = sum(v for k, v in timings.items() if not k.endswith("_slowest_shard"))
    for step in SHARDED_STEPS:
        total += timings[f"{step}_slowest_shard"] - timings[step]
    return total


def _shard_step(args):
    step, day, config, shard = args
    began = time.perf_counter()
    getattr(pipeline, step)(day, config, shard=shard)
    return time.perf_counter() - began


def run_in_pool(day: date, config: JobConfig, count: int, workers: int) -> dict[str, float]:
    """The sharded day with the shard steps spread over ``workers`` processes."""
    timings: dict[str, float] = {}

    def timed(name, step):
        began = time.perf_counter()
        out = step()
        timings[name] = round(time.perf_counter() - began, 2)
        return out

    shards = all_shards(count)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        timed("pull", lambda: pipeline.pull(day, config))
        timed("cross_user", lambda: pipeline.cross_user(day, config, count))
        timed("update_baselines", lambda: list(pool.map(_shard_step, [("update_baselines", day, config, s) for s in shards])))
        timed("prepare_detectors", lambda: pipeline.prepare_sharded_detectors(day, config))
        timed("score", lambda: list(pool.map(_shard_step, [("score", day, config, s) for s in shards])))
        timed("gather_scores", lambda: sharding.gather_scores(day, config))
        timed("write_findings", lambda: pipeline.write_findings(day, config, pipeline.new_run_id(day)))
    return timings


def _flags(config: JobConfig, day: date) -> pd.DataFrame:
    return pd.read_parquet(pipeline.day_dir(config, day) / "scored.parquet")[["score", "flagged"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=80_000)
    parser.add_argument("--history", type=int, default=3, help="days of history before the day")
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--detectors", default="isolation_forest,ecod")
    parser.add_argument("--parallel", action="store_true", help="also run the shards in a process pool")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ztad-bench-shards-"))
    logs = workdir / "logs"
    day = START + timedelta(days=args.history)
    if not (logs / f"date={day.isoformat()}").exists():
        began = time.perf_counter()
        summary = generate(logs, start=START, days=args.history + 1, users=args.users, seed=1,
                           clean_days=args.history)
        print(f"generated {summary.events:,} events in {time.perf_counter() - began:.0f}s into {logs}")
    detectors = tuple(args.detectors.split(","))
    print(f"detectors: {', '.join(detectors)}; {os.cpu_count()} cores")

    base = _config(logs, workdir / "base", detectors, args.history)
    began = time.perf_counter()
    warm = pipeline.run_day(day, base, dry_run=True)
    print(f"warm-up (history state + first model, dry run): {time.perf_counter() - began:.0f}s, "
          f"{warm.rows_read:,} events on {day}")

    reference = _config(logs, workdir / "whole", detectors, args.history)
    _copy_state(base, Path(reference.home))
    began = time.perf_counter()
    whole = pipeline.run_day(day, reference)
    print(f"\nunsharded pipeline.run_day: {time.perf_counter() - began:.1f}s wall, "
          f"{whole.rows_scored:,} scored, {whole.rows_flagged:,} flagged")
    print("  " + ", ".join(f"{k} {v:.1f}s" for k, v in whole.timings.items()))
    expected = _flags(reference, day)

    for count in args.shards:
        config = _config(logs, workdir / f"shards-{count}", detectors, args.history)
        _copy_state(base, Path(config.home))
        began = time.perf_counter()
        summary = pipeline.run_sharded_day(day, config, count)
        wall = time.perf_counter() - began
        same = _flags(config, day).equals(expected)
        print(f"\n{count} shard(s), in-process one after another: {wall:.1f}s wall; "
              f"critical path with {count} worker(s): {critical_path(summary.timings):.1f}s; "
              f"same flags and scores as unsharded: {same}")
        print("  " + ", ".join(f"{k} {v:.1f}s" for k, v in summary.timings.items()))
        if args.parallel and count > 1:
            workers = min(count, os.cpu_count() or 1)
            _copy_state(base, Path(config.home))
            began = time.perf_counter()
            timings = run_in_pool(day, config, count, workers)
            print(f"  in a pool of {workers} processes: {time.perf_counter() - began:.1f}s wall; "
                  + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    print(f"\npeak memory of this process: {_peak_rss_gib():.1f} GiB; files in {workdir}")


if __name__ == "__main__":
    main()
