"""Loading every day of one flat sshd log: the whole file read for each day, against its index.

Writes an ``auth.log`` of ``--lines`` lines (20,000 a day, as ``bench_sources.py`` writes
them), then loads each of its days with ``ztad.ingest.load_day`` twice: without an index
folder (the file is parsed whole for every day, as before the index) and with one (the
first day builds the index in one pass, every later day reads its own part), and once more
with the index already built (what every run after the first sees). Prints wall times and
the size of the index; asserts nothing. The machine is shared, so wall times vary.

Usage::

    .venv/bin/python bench/bench_flat_index.py                   # 200,000 lines, 10 days
    .venv/bin/python bench/bench_flat_index.py --lines 40000     # 2 days, a few seconds
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from bench_sources import write_sshd

from ztad.config import SourceConfig
from ztad.ingest import available_days, load_day

LINES_PER_DAY = 20_000


def timed_loads(source: SourceConfig, days: list[date], index_dir: Path | None) -> tuple[float, int]:
    """Seconds to load every day, and the events loaded."""
    started, events = time.perf_counter(), 0
    for day in days:
        events += len(load_day(source, day, index_dir).events)
    return time.perf_counter() - started, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines of the sshd file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ztad-bench-flat-") as tmp:
        folder = Path(tmp)
        path = folder / "auth.log"
        write_sshd(path, args.lines)
        source = SourceConfig(str(path), format="sshd", options={"year": "2026"})
        days = available_days(source)
        size_mb = path.stat().st_size / 1e6
        print(f"auth.log: {args.lines:,} lines, {size_mb:.1f} MB, {len(days)} days")
        whole, events = timed_loads(source, days, None)
        print(f"whole file read per day : {whole:7.2f} s ({events:,} events)")
        first, indexed_events = timed_loads(source, days, folder / "index")
        print(f"index built, then parts : {first:7.2f} s ({indexed_events:,} events)")
        again, _ = timed_loads(source, days, folder / "index")
        print(f"index already built     : {again:7.2f} s")
        index_mb = sum(p.stat().st_size for p in (folder / "index").rglob("*") if p.is_file()) / 1e6
        print(f"index size              : {index_mb:7.1f} MB; per day: {again / max(len(days), 1):.3f} s")


if __name__ == "__main__":
    main()
