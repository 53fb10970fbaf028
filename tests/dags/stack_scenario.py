"""The scenario of the stack test (``tests/dags/test_dag_stack.py``), run as a process of its own.

``ztad_daily`` on the real production stack: ``make stack`` started here, on free ports.
Airflow 3's api-server, scheduler, dag-processor and triggerer, two Celery workers (Redis),
metadata and findings on PostgreSQL, all separate processes (:mod:`tests.support.stack`). The
scenario drives it as its users do, through the REST API v2 with a JWT, the ``airflow`` CLI
and the call the UI's trigger form makes, and ``ztad run`` scores the same days into a
database of its own for the comparison (see the test module for the steps).

Most of the scenario's time is spent waiting for other processes (the scheduler's loops, the
workers' tasks, the reference ``ztad run``), so the test session starts it in the background
at its first test and lets the other tests use the idle time
(:mod:`tests.fixtures.background_stack`); the stack tests then read what it saw. As a
process of its own it shares nothing with the tests that run meanwhile: no environment, no
patched module, no interpreter lock.

    python -m tests.dags.stack_scenario <request.json> <outcome.pickle>

``request.json`` names the small logs, the reference findings database, the PostgreSQL server
and the folders to use (:func:`settings_for`); ``outcome.pickle`` receives
``{"outcome": {...}}``, ``{"unavailable": reason}`` or ``{"error": traceback}``. SIGTERM ends
the scenario early and still stops the stack and drops its databases.

The runs use the Isolation Forest and ECOD ensemble, so that no task loads TensorFlow (the
autoencoder is trained for real by the in-process DAG tests); ``ztad run`` uses the same. The
scenario is meant to take at most :data:`BUDGET` seconds on its own (about 225 s measured);
it prints how long each step took and how much CPU the stack and the scenario used. Waits
give up after :data:`GIVE_UP` seconds.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.fixtures.logs import SMALL_LOGS
from tests.support import stack as stack_module
from ztad.store import FindingsStore

#: Seconds the whole scenario is meant to take, stack start and stop included; the scenario
#: prints where its time went (a figure, not an assertion: the machine may be busy).
BUDGET = 300
#: Seconds after which every wait gives up, so that a stuck stack fails instead of hanging.
GIVE_UP = 900
DETECTORS = ["isolation_forest", "ecod"]
FIRST = SMALL_LOGS["start"] + timedelta(days=SMALL_LOGS["clean_days"])
DAY_A, DAY_B, DAY_C, DAY_D = (FIRST + timedelta(days=offset) for offset in range(4))


class Unavailable(Exception):
    """A service the scenario needs is missing (the test skips, which fails under CI)."""


def settings_for(request: dict) -> stack_module.StackSettings:
    """The stack of the scenario described by ``request`` (also used to stop what is left of it)."""
    name = request["name"]
    server = make_url(request["postgres_server_url"]).set(drivername="postgresql", database="postgres")
    return stack_module.StackSettings(
        home=Path(request["home"]), postgres=server.render_as_string(hide_password=False),
        metadata_db=f"{name}_airflow", findings_db=f"{name}_findings", logs=request["logs"], api_port=0,
        variables={"ztad_deadline": "00:00"},
        # A retried task waits 2 s, not the DAG's 2 minutes (Airflow caps the backoff here).
        # The DAG files are parsed once at start; no re-parsing while the scenario runs.
        extra_env={
            "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
        },
    )


def run(request: dict) -> dict:
    """Start the stack and ``ztad run`` side by side, drive the stack, stop it; what it saw."""
    problem = redis_problem()
    if problem:
        raise Unavailable(f"no Redis for Celery at 127.0.0.1:6379 ({problem})")
    clock = Clock(GIVE_UP)
    settings = settings_for(request)
    reference_home = Path(request["reference_home"])
    reference = reference_run(Path(request["logs"]), request["reference_url"], reference_home)
    started: dict = {}
    starter = threading.Thread(target=lambda: started.update(stack=_up(stack_module, settings, started)))
    starter.start()
    try:
        starter.join(timeout=clock.left())
        if "error" in started or "stack" not in started:
            raise RuntimeError(f"the stack did not start: {started.get('error', 'timeout')}")
        stack = started["stack"]
        clock.mark("stack ready")
        outcome = drive(stack, clock)
        reference.wait(timeout=clock.left())
        output = (reference_home / "output.log").read_text(errors="replace")
        assert reference.returncode == 0, output[-3000:]
        clock.mark("ztad run done")
        outcome["cpu_seconds"] = cpu_seconds(settings)
        outcome["triggerer_log"] = (settings.log_dir / "triggerer.log").read_text(errors="replace")
        outcome["startup_seconds"] = stack.ready_after
    finally:
        starter.join(timeout=60)
        reference.kill()
        stack_module.down(settings, grace=10)
        stack_module.drop_databases(settings)
        clock.mark("stack stopped")
        print(f"stack scenario, seconds since the start: {clock.marks}", flush=True)
    outcome["reference_url"] = request["reference_url"]
    outcome["scenario_seconds"] = clock.elapsed()
    outcome["marks"] = clock.marks
    print(f"CPU seconds used: {outcome['cpu_seconds']}", flush=True)
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Run the scenario of ``argv[0]`` (request JSON); pickle the result to ``argv[1]``."""
    request_path, result_path = argv if argv is not None else sys.argv[1:]
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    request = json.loads(Path(request_path).read_text())
    try:
        result = {"outcome": run(request)}
    except Unavailable as missing:
        result = {"unavailable": str(missing)}
    except BaseException:  # noqa: BLE001 - handed to the tests, which report it
        result = {"error": traceback.format_exc()}
    partial = Path(f"{result_path}.partial")
    partial.write_bytes(pickle.dumps(result))
    partial.replace(result_path)
    return 0


def _stop_on_sigterm(signum, frame) -> None:
    raise SystemExit(f"stopped by signal {signum}")


class Clock:
    """The scenario's time budget: what is left of it bounds every wait."""

    def __init__(self, budget: float):
        self.began = time.monotonic()
        self.budget = budget
        self.marks: dict[str, float] = {}

    def mark(self, what: str) -> None:
        """Note when ``what`` was done, in seconds since the start."""
        self.marks[what] = round(self.elapsed(), 1)

    def left(self) -> float:
        return max(1.0, self.budget - (time.monotonic() - self.began))

    def elapsed(self) -> float:
        return time.monotonic() - self.began


def day_interval(day: date) -> dict:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "logical_date": start.isoformat().replace("+00:00", "Z"),
        "data_interval_start": start.isoformat().replace("+00:00", "Z"),
        "data_interval_end": (start + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
    }


def ui_trigger_body(conf: dict) -> dict:
    """What Airflow 3.3's trigger form posts: its logical date field defaults to now, the data
    interval fields are empty, and the run configuration is the JSON typed into it."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "conf": conf, "data_interval_end": None, "data_interval_start": None,
        "logical_date": now, "partition_key": None,
    }


def cli_trigger(stack, conf: dict) -> str:
    """``airflow dags trigger ztad_daily --conf ...`` against the stack; the new run's id."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "trigger", "ztad_daily", "--conf", json.dumps(conf),
         "--output", "json"],
        check=False, env=stack.env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    listed = next(json.loads(line) for line in done.stdout.splitlines() if line.startswith("[{"))
    return listed[0]["dag_run_id"]


def reference_run(logs: Path, database: str, home: Path) -> subprocess.Popen:
    """``ztad run`` over days A to D, into its own database, in the background (its output
    in ``home/output.log``)."""
    command = [
        str(Path(sys.executable).parent / "ztad"), "run", "--logs", str(logs), "--home", str(home),
        "--db", database, "--start", DAY_A.isoformat(), "--end", DAY_D.isoformat(),
        "--detectors", ",".join(DETECTORS),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ZTAD_"))}
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "output.log", "wb") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


def findings_by_day(url: str, days) -> dict[date, dict[str, float]]:
    """``finding_id -> score`` (rounded) of each day."""
    with FindingsStore(url) as store:
        return {
            day: {row.finding_id: round(row.score, 9) for row in store.findings(day=day).itertuples()}
            for day in days
        }


def runs_table(url: str) -> dict[str, tuple[date, str]]:
    """``run_id -> (day, status)`` of the findings database's ``runs`` table."""
    with FindingsStore(url) as store:
        frame = store.runs()
    return {row.run_id: (row.day, row.status) for row in frame.itertuples()}


def task_process(ti_id: str) -> tuple[int, int] | None:
    """``(pid, parent pid)`` of the process running task instance ``ti_id`` (its title is
    ``airflow worker -- <ti id>``; the parent is the Celery pool process supervising it)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if f"airflow worker -- {ti_id}" in title:
                stat = Path(f"/proc/{entry}/stat").read_text()
                return int(entry), int(stat[stat.rindex(")") + 2:].split()[1])
        except OSError:
            continue
    return None


def kill_supervisor_while_writing(api, stack, run_id: str, clock: Clock) -> dict:
    """Wait until ``write_findings`` of ``run_id`` has begun writing its day, then SIGKILL the
    worker process that supervises it. Returns what was killed."""
    log_folder = stack.settings.home / "airflow" / "logs" / "dag_id=ztad_daily" / f"run_id={run_id}"
    log = log_folder / "task_id=write_findings" / "attempt=1.log"
    deadline = time.monotonic() + clock.left()
    while time.monotonic() < deadline:
        tis = api.task_instances("ztad_daily", run_id)
        ti = next((t for t in tis if t["task_id"] == "write_findings"), None)
        found = task_process(ti["id"]) if ti and ti["state"] == "running" else None
        if found and log.exists() and "ztad write_findings for" in log.read_text(errors="replace"):
            task_pid, supervisor_pid = found
            os.kill(supervisor_pid, signal.SIGKILL)
            return {"ti": ti["id"], "task_pid": task_pid, "supervisor_pid": supervisor_pid}
        time.sleep(0.2)
    raise TimeoutError(f"write_findings of {run_id} never ran")


def redis_problem(url: str = "redis://127.0.0.1:6379/0") -> str | None:
    """``None`` when Redis answers at ``url``, else why not."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        return str(error)
    return None


def cpu_seconds(settings) -> dict[str, float]:
    """CPU time used so far by the stack's processes (with their ended task processes) and by
    this test with its own subprocesses (``ztad run``, the ``airflow`` CLI, the migrations)."""
    import resource

    from tests.support import processes

    ticks = os.sysconf("SC_CLK_TCK")
    stack = 0.0
    for recorded in processes.recorded(settings.run_dir):
        for pid in recorded.members():
            fields = processes._stat_fields(pid) or []
            stack += sum(int(value) for value in fields[11:15]) / ticks if fields else 0.0
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    test = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return {"stack": round(stack, 1), "test": round(test, 1)}


def _up(stack_module, settings, started: dict):
    try:
        return stack_module.up(settings)
    except BaseException as error:  # noqa: BLE001 - reported by run()
        started["error"] = error
        return None


def drive(stack, clock: Clock) -> dict:
    """Everything the scenario does to the stack; what it saw, for the tests below."""
    api = stack.client()
    for dag_id in ("ztad_daily", "ztad_report"):
        api.wait_for_dag(dag_id, timeout=clock.left())
    api.set_paused("ztad_report", False)
    api.set_paused("ztad_daily", False)  # the scheduler creates last night's run
    clock.mark("DAGs parsed and unpaused")

    rest = api.trigger("ztad_daily", {
        "dag_run_id": f"rest_{DAY_A}", **day_interval(DAY_A),
        "conf": {"shards": 4, "detectors": DETECTORS}, "note": "REST API v2, explicit data interval",
    })
    rest = api.wait_for_run("ztad_daily", rest["dag_run_id"], timeout=clock.left())
    clock.mark("REST run (4 shards)")
    ui = api.trigger("ztad_daily", ui_trigger_body({"day": DAY_B.isoformat(), "detectors": DETECTORS}))
    ui = api.wait_for_run("ztad_daily", ui["dag_run_id"], timeout=clock.left())
    clock.mark("UI run")
    first_pass = {"ui": findings_by_day(stack.findings_url, [DAY_B])}

    cli_run_id = cli_trigger(stack, {"day": DAY_C.isoformat(), "detectors": DETECTORS})
    killed = kill_supervisor_while_writing(api, stack, cli_run_id, clock)
    cli = api.wait_for_run("ztad_daily", cli_run_id, timeout=clock.left())
    clock.mark("CLI run, killed and retried")
    first_pass["cli"] = findings_by_day(stack.findings_url, [DAY_C])

    backfill = api.create_backfill({
        "dag_id": "ztad_daily", "from_date": f"{DAY_B}T00:00:00Z", "to_date": f"{DAY_D}T00:00:00Z",
        "max_active_runs": 1, "reprocess_behavior": "none", "run_backwards": False,
        "dag_run_conf": {"detectors": DETECTORS},
    })
    api.wait_for_backfill(backfill["id"], timeout=clock.left())
    backfill_runs = [
        api.wait_for_run("ztad_daily", run["dag_run_id"], timeout=clock.left())
        for run in api.runs("ztad_daily", run_type="backfill")
    ]
    clock.mark("backfill of 3 days")
    reports = _wait_for_reports(api, stack, clock)
    clock.mark("reports")
    return {
        "rest": rest, "ui": ui, "cli": cli, "backfill": backfill, "backfill_runs": backfill_runs,
        "killed": killed, "first_pass": first_pass, "reports": reports,
        "scheduled": api.runs("ztad_daily", run_type="scheduled"),
        "task_instances": {run["dag_run_id"]: api.task_instances("ztad_daily", run["dag_run_id"])
                           for run in (rest, ui, cli, *backfill_runs)},
        "write_tries": api.tries("ztad_daily", cli_run_id, "write_findings"),
        "asset_events": api.asset_events(),
        "findings": findings_by_day(stack.findings_url, [DAY_A, DAY_B, DAY_C, DAY_D]),
        "day_c_finding_ids": _finding_ids(stack.findings_url, DAY_C),
        "runs_table": runs_table(stack.findings_url),
        "deadlines": _deadlines(stack.metadata_url, clock),
    }


def _finding_ids(url: str, day: date) -> list[str]:
    with FindingsStore(url) as store:
        return store.findings(day=day)["finding_id"].tolist()


def _wait_for_reports(api, stack, clock: Clock) -> list[dict]:
    """The ``ztad_report`` runs, once every day's report is written."""
    folder = Path(stack.env["ZTAD_HOME"]) / "reports"
    wanted = [folder / f"daily-{day}.html" for day in (DAY_A, DAY_B, DAY_C, DAY_D)]
    deadline = time.monotonic() + clock.left()
    while time.monotonic() < deadline:
        runs = api.runs("ztad_report")
        finished = all(run["state"] in ("success", "failed") for run in runs)
        if finished and all(path.exists() for path in wanted):
            return runs
        time.sleep(1)
    raise TimeoutError(f"reports missing: {[str(p) for p in wanted if not p.exists()]}")


def _deadlines(metadata_url: str, clock: Clock) -> list[dict]:
    """Airflow's deadline rows with their callbacks, once no callback is still pending."""
    from sqlalchemy import create_engine, text

    query = text(
        "SELECT r.run_id, r.run_type, d.missed, c.state, c.output FROM deadline d "
        "JOIN dag_run r ON r.id = d.dagrun_id JOIN callback c ON c.id = d.callback_id"
    )
    engine = create_engine(metadata_url)
    try:
        deadline = time.monotonic() + min(60.0, clock.left())
        while True:
            with engine.connect() as connection:
                rows = [dict(row._mapping) for row in connection.execute(query)]
            settled = rows and all(row["state"] in ("success", "failed") for row in rows)
            if settled or time.monotonic() > deadline:
                return rows
            time.sleep(1)
    finally:
        engine.dispose()




if __name__ == "__main__":
    sys.exit(main())
