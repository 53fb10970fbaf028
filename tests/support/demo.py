"""``make demo``: generate logs, run the real DAG for every scored day, show what it found.

Runs ``ztad_daily`` through Airflow (``dag.test``, in-process, with a SQLite metadata
database) on the embedded SQLite findings default, then prints findings per scenario, where
the database is, an example SQL query with its answer, and writes the evaluation report.

Everything lands in ``ztad-home/demo`` (override with ``ZTAD_DEMO_HOME``). Rerunning the demo
reuses the generated logs and replaces each day's findings.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

DEMO_START = date(2026, 3, 2)
DEMO_DAYS = 45
DEMO_USERS = 200
CLEAN_DAYS = 14

EXAMPLE_SQL = """\
SELECT day, user_id, location, resource, round(score, 2) AS score,
       json_extract(reasons, '$[0].text') AS first_reason
FROM findings
ORDER BY score DESC
LIMIT 5;"""


def _say(text: str = "") -> None:
    print(text, flush=True)


def _generate(logs: Path) -> None:
    from ztad.synth import generate

    if logs.exists():
        _say(f"reusing the generated logs in {logs}")
        return
    summary = generate(
        logs, start=DEMO_START, days=DEMO_DAYS, users=DEMO_USERS, seed=7, clean_days=CLEAN_DAYS
    )
    _say(f"generated {summary.events:,} events over {DEMO_DAYS} days for {DEMO_USERS} users in {logs}")


def _configure(home: Path, logs: Path) -> None:
    """Point the DAG at the demo logs and the SQLite default; quiet TensorFlow's start-up."""
    os.environ["ZTAD_HOME"] = str(home)
    os.environ["AIRFLOW_VAR_ZTAD_SOURCE"] = json.dumps({"root": str(logs)})
    for name in ("AIRFLOW_CONN_ZTAD_FINDINGS", "ZTAD_DATABASE_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The generated organisation's sensitive applications (payroll, admin console ...).
    from ztad.synth.catalogue import SENSITIVE_RESOURCES

    os.environ["ZTAD_SENSITIVE_RESOURCES"] = ",".join(SENSITIVE_RESOURCES)


def _run_dag(days: list[date], home: Path) -> None:
    from tests.support.airflow_local import run_day_in_process, use_local_airflow

    use_local_airflow(home / "airflow", log_level="WARNING")
    began = time.perf_counter()
    for index, day in enumerate(days, start=1):
        started = time.perf_counter()
        outcome = run_day_in_process(day)
        if not outcome.succeeded:
            raise SystemExit(f"the DAG run for {day} failed: {outcome.tasks}")
        _say(f"[{index}/{len(days)}] ztad_daily {day}: {outcome.state} in {time.perf_counter() - started:.0f}s")
    _say(f"the DAG scored {len(days)} days in {time.perf_counter() - began:.0f}s")


def _per_scenario(days: list[date], config) -> None:
    """How many events of each attack category and hard-negative kind were flagged."""
    import pandas as pd

    from ztad.pipeline import scored_events

    scored = pd.concat([scored_events(d, config) for d in days], ignore_index=True)
    kind = scored["event_label"].astype("string").fillna("unlabelled")
    normal = kind == "normal"
    kind = kind.mask(normal, "normal: " + scored["scenario"].astype("string").fillna("ordinary"))
    table = (
        scored.assign(kind=kind)
        .groupby("kind")["flagged"]
        .agg(events="size", flagged="sum")
        .assign(share=lambda t: (t["flagged"] / t["events"]).map("{:.1%}".format))
    )
    _say("\nfindings per scenario (attacks should be flagged, normal events should not):")
    _say(table.to_string())


def _show_database(database: Path) -> None:
    import sqlite3

    _say(f"\nfindings database: {database}")
    _say(f"try it:  sqlite3 {database}\n\n{EXAMPLE_SQL}\n")
    with sqlite3.connect(database) as connection:
        for row in connection.execute(EXAMPLE_SQL):
            _say("  " + " | ".join(str(value) for value in row))


def _report(home: Path, logs: Path, first_scored: date, config) -> None:
    from ztad.config import SourceConfig
    from ztad.evaluation.evaluate import evaluate

    report = home / "report"
    # The DAG's own (walk-forward) runs are evaluated as they are; `ztad evaluate` also scores
    # the days again with the detectors frozen at the cut-off, which would double the demo.
    metrics = evaluate(
        SourceConfig(root=str(logs)), cutoff=first_scored, split="time", report_dir=report,
        config=config, rerun=False, frozen=False,
    )
    final = metrics["ztad"]["final"]
    _say(f"\nevaluation: ROC-AUC {final['roc_auc']:.3f}, PR-AUC {final['pr_auc']:.3f}")
    _say(f"report: {report / 'report.html'}")


def main() -> int:
    """Run the whole demo; return the process exit code."""
    home = Path(os.environ.get("ZTAD_DEMO_HOME", "ztad-home/demo")).resolve()
    logs = home / "logs"
    first_scored = DEMO_START + timedelta(days=CLEAN_DAYS)
    days = [first_scored + timedelta(days=i) for i in range(DEMO_DAYS - CLEAN_DAYS)]
    _generate(logs)
    _configure(home, logs)
    _run_dag(days, home)

    from ztad.config import JobConfig, SourceConfig

    config = JobConfig(source=SourceConfig(root=str(logs)), home=home)
    _per_scenario(days, config)
    _show_database(home / "findings.db")
    _report(home, logs, first_scored, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
