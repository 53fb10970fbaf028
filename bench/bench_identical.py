"""Whether a code change keeps the findings of the demo data set: record a backfill, compare two.

``record`` generates the demo logs once (45 days, 200 users, seed 7: 14 clean days, then 31
days with attacks), scores the 31 days from an empty state folder with ``ztad run --start
--end`` (the demo's sensitive resources, the SQLite default) and keeps, in one JSON file, every
finding (its id, score, per-detector scores, severity, category and reasons) and every event's
final score from the scored work files. ``compare`` reads two such files and says whether they
hold the same finding ids, and how far apart the scores are. An optimisation must leave them
identical (scores within 1e-9).

    .venv/bin/python bench/bench_identical.py record --workdir /tmp/ztad-same --out before.json
    # ... change the code ...
    .venv/bin/python bench/bench_identical.py record --workdir /tmp/ztad-same --out after.json
    .venv/bin/python bench/bench_identical.py compare before.json after.json
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

START = date(2026, 3, 2)
DAYS, USERS, CLEAN_DAYS, SEED = 45, 200, 14, 7
ZTAD = Path(sys.executable).with_name("ztad")
FINDING_COLUMNS = ("finding_id", "score", "detector_scores", "severity", "category", "reasons")


def record(workdir: Path, out: Path) -> None:
    """Backfill the scored days from an empty state and keep their findings and scores."""
    from ztad.synth import generate
    from ztad.synth.catalogue import SENSITIVE_RESOURCES

    logs = workdir / "logs"
    if not logs.exists():
        generate(logs, start=START, days=DAYS, users=USERS, seed=SEED, clean_days=CLEAN_DAYS)
    home = workdir / "home"
    shutil.rmtree(home, ignore_errors=True)
    first, last = START + timedelta(days=CLEAN_DAYS), START + timedelta(days=DAYS - 1)
    subprocess.run(
        [str(ZTAD), "run", "--logs", str(logs), "--home", str(home), "--start", first.isoformat(),
         "--end", last.isoformat(), "--sensitive-resources", ",".join(SENSITIVE_RESOURCES)],
        check=True,
    )
    with sqlite3.connect(home / "findings.db") as connection:
        rows = connection.execute(f"SELECT {', '.join(FINDING_COLUMNS)} FROM findings ORDER BY finding_id")
        findings = {row[0]: dict(zip(FINDING_COLUMNS[1:], row[1:])) for row in rows}
    scores = {}
    for folder in sorted((home / "work").glob("day=*")):
        import pandas as pd

        events = pd.read_parquet(folder / "events.parquet", columns=["event_id"])["event_id"]
        scored = pd.read_parquet(folder / "scored.parquet", columns=["score"])["score"]
        scores.update(zip(events.astype(str), scored.astype(float)))
    out.write_text(json.dumps({"findings": findings, "scores": scores}))
    print(f"{len(findings):,} findings, {len(scores):,} scored events -> {out}")


def _far(a, b) -> float:
    """How far apart two scores are (0 for two missing ones, inf for one missing)."""
    a = float("nan") if a is None else a
    b = float("nan") if b is None else b
    if math.isnan(a) and math.isnan(b):
        return 0.0
    return abs(a - b) if not (math.isnan(a) or math.isnan(b)) else math.inf


def compare(before: Path, after: Path, tolerance: float) -> int:
    """Say how two recordings differ; exit code 1 when they are not the same within ``tolerance``."""
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    only_a = sorted(set(a["findings"]) - set(b["findings"]))
    only_b = sorted(set(b["findings"]) - set(a["findings"]))
    common = set(a["findings"]) & set(b["findings"])
    finding_gap = max((_far(a["findings"][k]["score"], b["findings"][k]["score"]) for k in common), default=0.0)
    other = sorted(
        k for k in common
        if any(a["findings"][k][c] != b["findings"][k][c] for c in ("severity", "category", "reasons"))
    )
    detector_gap = 0.0
    for k in common:
        da, db = (json.loads(x["findings"][k]["detector_scores"] or "{}") for x in (a, b))
        if set(da) != set(db):
            detector_gap = math.inf
            continue
        detector_gap = max([detector_gap, *(_far(da[m], db[m]) for m in da)])
    events = set(a["scores"]) | set(b["scores"])
    score_gap = max((_far(a["scores"].get(k), b["scores"].get(k)) for k in events), default=0.0)
    print(f"findings: {len(a['findings']):,} before, {len(b['findings']):,} after; "
          f"only before {len(only_a)}, only after {len(only_b)}")
    print(f"largest score difference: findings {finding_gap:.3g}, detectors {detector_gap:.3g}, "
          f"all {len(events):,} events {score_gap:.3g}; other fields differ in {len(other)} findings")
    for k in (only_a + only_b + other)[:10]:
        print(f"  differs: {k}")
    same = not only_a and not only_b and not other and max(finding_gap, detector_gap, score_gap) <= tolerance
    print("identical" if same else "NOT identical")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="backfill the demo data set and keep its findings")
    rec.add_argument("--workdir", type=Path, default=Path("/tmp/ztad-same"))
    rec.add_argument("--out", type=Path, required=True)
    cmp = commands.add_parser("compare", help="compare two recordings")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args()
    if args.command == "record":
        record(args.workdir, args.out)
        return 0
    return compare(args.before, args.after, args.tolerance)


if __name__ == "__main__":
    raise SystemExit(main())
