"""How long one large day takes end to end: pull, baselines, detectors, score, write.

Generates an organisation big enough for about ``--events`` events a day, lets the job warm up
on the earlier days (building the daily baseline aggregates and the first model), then times
the nightly run of the last day step by step, once with the model loaded (the usual night) and
once with a forced retrain. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_pipeline.py --users 60000 --days 4
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from ztad import pipeline
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.synth import generate


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=60_000)
    parser.add_argument("--days", type=int, default=4, help="history days before the timed day")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--detectors", default="isolation_forest,ocsvm,autoencoder,ecod")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ztad-bench-"))
    start = date(2026, 3, 2)
    began = time.perf_counter()
    summary = generate(
        workdir / "logs", start=start, days=args.days + 1, users=args.users, seed=1,
        clean_days=args.days,
    )
    print(f"generated {summary} in {time.perf_counter() - began:.0f}s")

    detection = DetectionConfig(
        detectors=tuple(args.detectors.split(",")), training_days=args.days, max_training_rows=200_000
    )
    config = JobConfig(source=SourceConfig(root=str(workdir / "logs")), home=workdir / "home",
                       detection=detection)
    day = start + timedelta(days=args.days)

    for label, retrain in (("first night (trains on history)", False),
                           ("usual night (model loaded)", False),
                           ("night with a forced retrain", True)):
        began = time.perf_counter()
        result = pipeline.run_day(day, config, retrain=retrain)
        wall = time.perf_counter() - began
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
        print(f"{label}: {result.rows_read:,} events, {result.rows_flagged:,} flagged, "
              f"{wall:.1f}s wall ({steps}); model {result.model_action}")
    print(f"peak RSS {_peak_rss_gib():.2f} GiB; work folder {workdir}")


if __name__ == "__main__":
    main()
