"""Peak memory and CPU time of the write step alone (and of the score step before it, with
``--score``), on a day a night already prepared.

A ``ztad run`` of the day leaves its work files (events, features, scores, attributions) in
the state folder. This copies that folder, then runs the write step on the copy in this
process (the findings written again, the day learnt again) and prints its peak RSS, what the
process held before it, its CPU and wall time::

    .venv/bin/python bench/bench_write_step.py --home H --logs L --day 2026-03-16 --copy-to C [--score]

With ``--score`` the score step runs first on the copy (the day's model loaded, its features
scored and the flagged rows explained again), with its own CPU and wall time and the peak RSS
after it. Run each measurement in a process of its own: ``ru_maxrss`` is the process's peak.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from datetime import date
from pathlib import Path


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="state folder a night of the day left")
    parser.add_argument("--logs", required=True, help="the log root the night read")
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--copy-to", type=Path, required=True, help="where the state folder is copied (replaced)")
    parser.add_argument("--score", action="store_true", help="run the score step first and time it too")
    args = parser.parse_args()

    from ztad.config import JobConfig
    from ztad.pipeline import score, write_findings

    shutil.rmtree(args.copy_to, ignore_errors=True)
    shutil.copytree(args.home, args.copy_to)
    config = JobConfig.from_env().with_overrides(home=args.copy_to.resolve())
    config = config.with_overrides(source=type(config.source)(root=args.logs))
    if args.score:
        cpu, wall = time.process_time(), time.perf_counter()
        scored = score(args.day, config)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"{scored['rows_scored']} events scored, {scored['rows_flagged']} flagged; score step: cpu {cpu:.1f} s, "
              f"wall {wall:.1f} s, peak RSS {_peak_gib():.2f} GiB", flush=True)
    before = _peak_gib()
    cpu, wall = time.process_time(), time.perf_counter()
    result = write_findings(args.day, config, run_id=f"bench-write-{args.day}")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{result['findings']} findings; write step: cpu {cpu:.1f} s, wall {wall:.1f} s, "
          f"peak RSS {_peak_gib():.2f} GiB (before the step {before:.2f} GiB)")


if __name__ == "__main__":
    main()
