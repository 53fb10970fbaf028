"""CPU and wall time of the score step's model work on a night a state folder already holds.

Given a home that has run a night (``ztad run --home H --day D``: its model registered, the
day's ``features.parquet`` and ``scored.parquet`` in its work folder), it loads that night's
model as the score step does and times, each alone:

* every member's ``score_samples`` on the whole day, and the ensemble's scores
  (``ScoringModel.score_columns``, what the score step calls);
* every member on batches of 1,000 events (``/predict``'s batch size), per batch;
* the attribution table of the day's flagged events (``attribution_table``, exact TreeSHAP
  for the 250 with the highest score), and, when the scores before a change were saved with
  ``--save``, how far the scores of now are from them.

CPU time (``time.process_time``, every thread of the process) is the steadier figure on a
shared machine; wall time shows what the scoring threads gain.

    .venv/bin/python bench/bench_scoring.py --home /tmp/ztad-scale/1M/home --day 2026-03-16 --save before.npz
    # ... change the code ...
    .venv/bin/python bench/bench_scoring.py --home /tmp/ztad-scale/1M/home --day 2026-03-16 --compare before.npz

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

BATCH_ROWS = 1_000


def _timed(label: str, step, rows: int | None = None):
    cpu, wall = time.process_time(), time.perf_counter()
    result = step()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rate = f"  ({rows / wall:,.0f} events/s)" if rows else ""
    print(f"{label:34s} cpu {cpu:7.2f} s   wall {wall:7.2f} s{rate}", flush=True)
    return result


def _batches(model, matrix: np.ndarray, batches: int) -> None:
    print(f"\n== batches of {BATCH_ROWS:,} events ({batches} batches, per batch)")
    parts = [matrix[i * BATCH_ROWS:(i + 1) * BATCH_ROWS] for i in range(batches)]
    ensemble = model.ensemble
    for name, detector in ensemble.detectors_.items():
        detector.score_samples(parts[0])
        cpu, wall = time.process_time(), time.perf_counter()
        for part in parts:
            detector.score_samples(part)
        cpu, wall = (time.process_time() - cpu) / batches * 1e3, (time.perf_counter() - wall) / batches * 1e3
        print(f"{name:34s} cpu {cpu:7.2f} ms  wall {wall:7.2f} ms")
    cpu, wall = time.process_time(), time.perf_counter()
    for part in parts:
        ensemble.member_surprises(part)
    cpu, wall = (time.process_time() - cpu) / batches * 1e3, (time.perf_counter() - wall) / batches * 1e3
    print(f"{'every member (member_surprises)':34s} cpu {cpu:7.2f} ms  wall {wall:7.2f} ms "
          f"({BATCH_ROWS / wall * 1e3:,.0f} events/s)")


def _compare(saved: Path, scores: dict[str, np.ndarray]) -> None:
    before = np.load(saved)
    print(f"\n== against {saved}")
    for name, values in scores.items():
        if name in before:
            gap = float(np.max(np.abs(before[name] - values))) if len(values) else 0.0
            print(f"{name:34s} largest gap {gap:.3g}  bit-identical {np.array_equal(before[name], values)}")


def main() -> None:
    from ztad.config import JobConfig, SourceConfig
    from ztad.detection.scoring_model import load_model, model_inputs
    from ztad.pipeline.model_trust import FindingsDatabaseTrust
    from ztad.pipeline.scoring import attribution_table
    from ztad.pipeline.steps.score import scoring_columns
    from ztad.pipeline.workfiles import read_parquet

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a state folder that has run the night")
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--batches", type=int, default=50, help=f"batches of {BATCH_ROWS:,} events to time")
    parser.add_argument("--save", type=Path, help="keep the scores in this .npz file")
    parser.add_argument("--compare", type=Path, help="compare the scores with those of this .npz file")
    args = parser.parse_args()

    config = JobConfig(source=SourceConfig(root=str(args.home)), home=args.home)
    folder = args.home / "work" / f"day={args.day.isoformat()}"
    version = json.loads((folder / "detectors.json").read_text())["model_version"]
    if version is None:
        raise SystemExit(f"{folder} was a learning day: no model to time")
    model = load_model(config, version, FindingsDatabaseTrust(config.resolved_database_url))
    features = read_parquet(folder / "features.parquet", scoring_columns())
    matrix = model_inputs(features, model.ensemble.feature_names_in_)
    print(f"model {version}, {len(matrix):,} events of {args.day}\n\n== the whole day")
    scores = {
        name: _timed(name, lambda d=detector: d.score_samples(matrix), len(matrix))
        for name, detector in model.ensemble.detectors_.items()
    }
    columns = _timed("the ensemble (score_columns)", lambda: model.score_columns(features), len(matrix))
    scores["ensemble_score"] = columns["ensemble_score"]
    scored = read_parquet(folder / "scored.parquet")
    flagged = int(scored["flagged"].sum())
    _timed(f"attribution table ({flagged:,} flagged)", lambda: attribution_table(model, features, scored))
    _batches(model, matrix, min(args.batches, len(matrix) // BATCH_ROWS))
    if args.save:
        np.savez(args.save, **scores)
    if args.compare:
        _compare(args.compare, scores)


if __name__ == "__main__":
    main()
