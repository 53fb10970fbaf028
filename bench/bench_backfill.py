"""A backfill of the demo data set: wall time in-process and through the DAG, and source reads.

Generates the demo logs (``ztad generate --days 45 --users 200``: 14 clean days, then 31 days
with attacks) and scores the 31 days twice from empty state: in-process with
``pipeline.run_range`` (what ``ztad run --start --end`` does), and through Airflow, one
``dag.test`` run of ``ztad_daily`` per day (what ``airflow backfill create`` schedules, minus
the scheduler). It counts the partitions each day's run reads, to show that a day reads its
own partition only once the state exists, and checks that both ways flag the same events.
Prints figures; asserts nothing.

    .venv/bin/python bench/bench_backfill.py                      # both ways, default detectors
    .venv/bin/python bench/bench_backfill.py --days 104 --via inprocess \\
        --detectors isolation_forest,ecod                        # a 90-day backfill's reads
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

START = date(2026, 3, 2)
PROJECT = Path(__file__).resolve().parents[1]


class ReadCounter:
    """Counts ``ztad.ingest.load_day`` calls that found data, per day read."""

    def __init__(self) -> None:
        import ztad.ingest

        self.days: list[date] = []
        original = ztad.ingest.load_day

        def counting(source, day):
            result = original(source, day)
            self.days.append(day)
            return result

        ztad.ingest.load_day = counting

    def take(self) -> Counter:
        taken, self.days = Counter(self.days), []
        return taken


def _describe(reads: list[Counter]) -> str:
    later = reads[1:]
    most = max((sum(c.values()) for c in later), default=0)
    return (f"first day read {sum(reads[0].values())} partitions ({len(reads[0])} distinct days); "
            f"every later day read at most {most} partition(s)")


def backfill_in_process(logs: Path, home: Path, days: list[date], detectors, reads: ReadCounter):
    from ztad import pipeline
    from ztad.config import DetectionConfig, JobConfig, SourceConfig

    detection = DetectionConfig(detectors=detectors) if detectors else DetectionConfig()
    config = JobConfig(source=SourceConfig(root=str(logs)), home=home, detection=detection)
    per_day: list[Counter] = []
    began = time.perf_counter()
    pipeline.run_range(days[0], days[-1], config, progress=lambda *_: per_day.append(reads.take()))
    wall = time.perf_counter() - began
    flagged = sum(len(pipeline.scored_events(d, config).query("flagged")) for d in days)
    return wall, per_day, flagged, config


def backfill_through_the_dag(logs: Path, home: Path, days: list[date], detectors, reads: ReadCounter):
    sys.path.insert(0, str(PROJECT / "plugins"))
    from tests.support.airflow_local import run_day_in_process, use_local_airflow

    os.environ["ZTAD_HOME"] = str(home / "ztad")
    os.environ["AIRFLOW_VAR_ZTAD_SOURCE"] = json.dumps({"root": str(logs)})
    for name in ("AIRFLOW_CONN_ZTAD_FINDINGS", "ZTAD_DATABASE_URL"):
        os.environ.pop(name, None)
    use_local_airflow(home / "airflow", log_level="WARNING")
    conf = {"detectors": list(detectors)} if detectors else {}
    per_day: list[Counter] = []
    began = time.perf_counter()
    for day in days:
        outcome = run_day_in_process(day, conf)
        per_day.append(reads.take())
        if not outcome.succeeded:
            raise SystemExit(f"the DAG run of {day} failed: {outcome.tasks}")
    wall = time.perf_counter() - began

    from ztad.store import FindingsStore

    with FindingsStore(f"sqlite:///{home / 'ztad' / 'findings.db'}") as store:
        flagged = sum(len(store.findings(day=d)) for d in days)
    return wall, per_day, flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--clean-days", type=int, default=14)
    parser.add_argument("--via", choices=("inprocess", "dag", "both"), default="both")
    parser.add_argument("--detectors", default="", help="comma-separated; empty: ztad's default")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from ztad.synth import generate

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ztad-bench-backfill-"))
    logs = workdir / "logs"
    if not logs.exists():
        summary = generate(logs, start=START, days=args.days, users=args.users, seed=7,
                           clean_days=args.clean_days)
        print(f"generated {summary.events:,} events over {args.days} days into {logs}")
    days = [START + timedelta(days=k) for k in range(args.clean_days, args.days)]
    detectors = tuple(d for d in args.detectors.split(",") if d)
    print(f"backfill of {len(days)} days ({days[0]} .. {days[-1]}), detectors: "
          f"{', '.join(detectors) or 'default (isolation_forest, ocsvm, autoencoder, ecod)'}")
    reads = ReadCounter()

    flagged = {}
    if args.via in ("inprocess", "both"):
        wall, per_day, flagged["inprocess"], _ = backfill_in_process(logs, workdir / "cli", days, detectors, reads)
        print(f"in-process (pipeline.run_range = ztad run --start --end): {wall:.0f}s wall, "
              f"{wall / len(days):.1f}s per day, {flagged['inprocess']} findings; {_describe(per_day)}")
    if args.via in ("dag", "both"):
        wall, per_day, flagged["dag"] = backfill_through_the_dag(logs, workdir / "dag", days, detectors, reads)
        print(f"through the DAG (dag.test per day): {wall:.0f}s wall, {wall / len(days):.1f}s per day, "
              f"{flagged['dag']} findings; {_describe(per_day)}")
    if len(flagged) == 2:
        print(f"same number of findings both ways: {flagged['inprocess'] == flagged['dag']}")
    print(f"files in {workdir}")


if __name__ == "__main__":
    main()
