"""Time ``read_verdicts`` over every finding of a large findings database.

Builds (with ``--build``) a store through the project's migrations and bulk insert: a 90-day
backfill's worth of findings (850,000 by default), nearly all ``new``, a few hundred judged
false positive or confirmed, one incident per user and day (a few dozen of them judged), a
tenth of the findings in no incident. Then prints the best CPU and wall time of three reads
of all verdicts, the number of verdicts and a digest of them (equal digests, equal rows)::

    .venv/bin/python bench/bench_verdicts.py --url sqlite:////tmp/verdicts.db --build
    .venv/bin/python bench/bench_verdicts.py --url postgresql+psycopg://postgres@127.0.0.1:5432/verdicts --build

Run it again without ``--build`` to time another version of the code on the same store.
A PostgreSQL database is analysed after the build, as autovacuum would have done it.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np

DAYS = 90
START = date(2026, 1, 1)
USERS_PER_DAY = 2_000
JUDGED_FINDINGS = {"false_positive": 300, "confirmed": 100, "investigating": 200, "resolved": 200}
JUDGED_INCIDENTS = {"false_positive": 40, "confirmed": 15, "investigating": 20}


def _findings(count: int, rng: np.random.Generator) -> dict[str, list]:
    """Column-wise findings: day, user, incident (a tenth none) and a status, mostly ``new``."""
    days = np.sort(rng.integers(0, DAYS, count))
    users = rng.integers(0, USERS_PER_DAY, count)
    day_list = [START + timedelta(days=int(d)) for d in days]
    status = np.full(count, "new", dtype=object)
    picked = rng.choice(count, sum(JUDGED_FINDINGS.values()), replace=False)
    status[picked] = np.repeat(list(JUDGED_FINDINGS), list(JUDGED_FINDINGS.values()))
    incident = [f"{d.isoformat()}:user:u{u}" for d, u in zip(day_list, users)]
    for position in np.flatnonzero(rng.random(count) < 0.1):
        incident[position] = None
    midnight = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "finding_id": [f"{d.isoformat()}:e{n}" for n, d in enumerate(day_list)],
        "day": day_list,
        "event_id": [f"e{n}" for n in range(count)],
        "event_time": [midnight + timedelta(days=int(d), seconds=int(s)) for d, s in zip(days, rng.integers(0, 86_400, count))],
        "user_id": [f"u{u}" for u in users],
        "device_id": [f"WS-{u}" for u in users],
        "ip_address": [f"10.{u // 250}.{u % 250}.7" for u in users],
        "location": ["Lisbon, Portugal"] * count,
        "resource": ["payroll"] * count,
        "score": rng.random(count).tolist(),
        "reasons": [[{"code": "new_location", "text": "first sign-in from Lisbon"}]] * count,
        "status": status.tolist(),
        "incident_id": incident,
    }


def _incidents(findings: dict[str, list], rng: np.random.Generator) -> dict[str, list]:
    """One incident per (day, user) the findings name, a few dozen of them judged."""
    ids = sorted({i for i in findings["incident_id"] if i is not None})
    status = np.full(len(ids), "new", dtype=object)
    picked = rng.choice(len(ids), sum(JUDGED_INCIDENTS.values()), replace=False)
    status[picked] = np.repeat(list(JUDGED_INCIDENTS), list(JUDGED_INCIDENTS.values()))
    days = [date.fromisoformat(i.split(":")[0]) for i in ids]
    times = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in days]
    return {
        "incident_id": ids, "day": days, "kind": ["user"] * len(ids), "user_id": [i.split(":")[-1] for i in ids],
        "first_time": times, "last_time": times, "finding_count": [1] * len(ids), "user_count": [1] * len(ids),
        "status": status.tolist(),
    }


def build(store, count: int) -> None:
    from ztad.store import tables
    from ztad.store.bulk import insert_rows

    store.create_schema()
    rng = np.random.default_rng(7)
    findings = _findings(count, rng)
    with store.engine.begin() as connection:
        insert_rows(connection, tables.incidents, _incidents(findings, rng))
        insert_rows(connection, tables.findings, findings)
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


def time_reads(store, repeats: int = 3) -> None:
    from ztad.feedback.verdicts import read_verdicts

    cpu_times, wall_times = [], []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        verdicts = read_verdicts(store)
        cpu_times.append(time.process_time() - cpu)
        wall_times.append(time.perf_counter() - wall)
    ordered = verdicts.sort_values("finding_id").astype(str).to_csv(index=False)
    print(f"{len(verdicts)} verdicts { {k: int(v) for k, v in verdicts['verdict'].value_counts().items()} }, digest "
          f"{hashlib.sha256(ordered.encode()).hexdigest()[:16]}; best of {repeats}: cpu {min(cpu_times) * 1000:.1f} ms, "
          f"wall {min(wall_times) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="findings database (SQLite file or PostgreSQL)")
    parser.add_argument("--build", action="store_true", help="fill the (empty) database first")
    parser.add_argument("--findings", type=int, default=850_000)
    args = parser.parse_args()

    from ztad.store import FindingsStore

    with FindingsStore(args.url) as store:
        if args.build:
            build(store, args.findings)
        time_reads(store)


if __name__ == "__main__":
    main()
