"""Peak memory and wall time of one night at growing day sizes, each night in its own process.

For each day size (millions of events on the scored weekday) it generates an organisation once
(``ztad generate``, kept in ``--workdir`` and reused by later runs), then runs the nights a
user runs, each as its own ``ztad run`` process with the default settings:

* ``first``: an empty state folder; builds the baselines of the history and trains;
* ``usual``: the same day again, the model loaded;
* ``retrain``: the same day with ``--retrain``.

Each row gives the wall time of every step (from the run's ``timings.json``), the process's
wall time, CPU time and peak RSS (``wait4``), and the multiple of the floor: the same day's partition
read by pyarrow into Arrow, and nothing else. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_scale.py --sizes 0.1,1 --workdir /tmp/ztad-scale
    .venv/bin/python bench/bench_scale.py --sizes 3 --nights usual --workdir /tmp/ztad-scale
    .venv/bin/python bench/bench_scale.py --sizes 10 --history-days 3 --workdir /tmp/ztad-scale -- --min-training-days 3
    .venv/bin/python bench/bench_scale.py --sizes 1 --workdir /shared/scale --homes /tmp/my-homes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ZTAD = Path(sys.executable).with_name("ztad")
#: First generated day (a Monday): with ``--history-days 14`` the scored day is a Monday too.
START = date(2026, 3, 2)
#: Events per user on a generated weekday (weekends are about a tenth of it).
WEEKDAY_EVENTS_PER_USER = 12.2
STEPS = ("pull", "update_baselines", "prepare_detectors", "score", "write_findings")
NIGHTS = ("first", "usual", "retrain")


def generate(logs: Path, size: float, history_days: int) -> None:
    """Write the organisation's logs once: ``history_days`` clean days, then the scored day.

    Logs already generated are reused only if they were generated with the same number of
    users and history days: otherwise the scored day would not be the one they end on."""
    users = max(100, round(size * 1e6 / WEEKDAY_EVENTS_PER_USER))
    recorded = logs / "generated.json"
    if recorded.exists():
        kept = json.loads(recorded.read_text())
        if kept != {"users": users, "history_days": history_days}:
            raise SystemExit(f"{logs} holds {kept['users']} users and {kept['history_days']} history "
                             f"days, not {users} and {history_days}: use another --workdir")
        return
    shutil.rmtree(logs, ignore_errors=True)
    subprocess.run(
        [str(ZTAD), "generate", "--out", str(logs), "--start", START.isoformat(),
         "--days", str(history_days + 1), "--clean-days", str(history_days), "--users", str(users),
         "--seed", "1"],
        check=True, stdout=subprocess.DEVNULL,
    )
    (logs / "generated.json").write_text(json.dumps({"users": users, "history_days": history_days}))


def floor(partition: Path) -> tuple[float, int]:
    """The fastest of three reads of the day's partition by pyarrow into Arrow, and its rows,
    read in a process of its own: Arrow's pool would keep the reads' memory (gibibytes at
    10M events) in this process beside the measured nights."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1) as pool:
        return pool.submit(_read_partition, partition).result()


def _read_partition(partition: Path) -> tuple[float, int]:
    from pyarrow import csv

    files = sorted(p for p in partition.iterdir() if p.is_file())
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        rows = sum(csv.read_csv(f).num_rows for f in files)
        best = min(best, time.perf_counter() - began)
    return best, rows


def user_environment(workdir: Path) -> dict[str, str]:
    """The environment of the measured processes: with compiled bytecode, as an installed ztad
    has it. A shell that sets ``PYTHONDONTWRITEBYTECODE`` would make every night compile
    TensorFlow and Keras from source again (tens of seconds); the cache goes to a folder of the
    bench's own, not into the virtual environment."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return environment


def warm_up(environment: dict[str, str]) -> None:
    """Import what a night imports once, so that the bytecode cache is written before timing."""
    subprocess.run(
        [sys.executable, "-c", "import keras, sklearn, shap, sqlalchemy, ztad.cli, ztad.pipeline"],
        env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def run_night(logs: Path, home: Path, day: date, night: str, extra: list[str], environment: dict) -> dict:
    """One ``ztad run`` in its own process: wall time, CPU time (user + system: on a shared
    machine the steadier measure of the two), peak RSS and the step timings."""
    if night == "first":
        shutil.rmtree(home, ignore_errors=True)
    command = [str(ZTAD), "run", "--logs", str(logs), "--home", str(home), "--day", day.isoformat(), *extra]
    if night == "retrain":
        command.append("--retrain")
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=environment)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    out, err = process.stdout.read(), process.stderr.read()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{err[-3000:]}")
    timings = json.loads((home / "work" / f"day={day.isoformat()}" / "timings.json").read_text())
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_gib": usage.ru_maxrss / 1024**2,
            "timings": timings, "output": out.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.1,1,3,10", help="millions of events on the scored day")
    parser.add_argument("--nights", default=",".join(NIGHTS), help="which nights, in this order")
    parser.add_argument("--history-days", type=int, default=14, help="generated days before the scored day")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ztad-scale"))
    parser.add_argument("--homes", type=Path,
                        help="where the nights' state folders go (default: beside the logs in --workdir), "
                             "so that logs generated once can be shared read-only")
    parser.add_argument("--label", default="", help="a name for this code version in the table")
    parser.add_argument("--json", type=Path, help="also append every row to this JSON-lines file")
    parser.add_argument("ztad_args", nargs="*", help="more `ztad run` options, after --")
    args = parser.parse_args()

    day = START + timedelta(days=args.history_days)
    environment = user_environment(args.workdir)
    warm_up(environment)
    header = ["size", "night", "events", *STEPS, "wall s", "cpu s", "x floor", "peak RSS GiB"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header), flush=True)
    for size in (float(s) for s in args.sizes.split(",")):
        folder = args.workdir / f"{size:g}M"
        logs = folder / "logs"
        generate(logs, size, args.history_days)
        seconds, events = floor(logs / f"date={day.isoformat()}")
        for night in args.nights.split(","):
            home = folder / "home" if args.homes is None else args.homes / f"{size:g}M" / "home"
            home.parent.mkdir(parents=True, exist_ok=True)
            result = run_night(logs, home, day, night, args.ztad_args, environment)
            steps = [f"{result['timings'].get(step, float('nan')):.1f}" for step in STEPS]
            row = [f"{size:g}M", night, f"{events:,}", *steps, f"{result['wall']:.1f}", f"{result['cpu']:.1f}",
                   f"{result['wall'] / seconds:.0f}", f"{result['rss_gib']:.2f}"]
            print("| " + " | ".join(row) + " |", flush=True)
            if args.json:
                with args.json.open("a") as out:
                    out.write(json.dumps({"label": args.label, "size": size, "night": night,
                                          "events": events, "floor": seconds, **result}) + "\n")


if __name__ == "__main__":
    main()
