"""Run ``ztad_daily`` inside this process, through Airflow (``dag.test``), with no scheduler.

This is how the demo and the end-to-end tests drive the real DAG::

    use_local_airflow(Path("ztad-home/demo/airflow"))   # before anything imports airflow
    for day in days:
        outcome = run_day_in_process(day)

:func:`use_local_airflow` points Airflow at a home folder with a SQLite metadata database and
this project's ``dags/`` and ``plugins/``, and migrates that database (``airflow db migrate``).

Each day is run on a freshly parsed DAG: ``dag.test`` renders templates into the task objects
themselves, so a reused DAG object would carry one run's ``Params`` (a retrain, a dry run)
into the next run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ztad_airflow.intervals import day_start

#: The project checkout (or image) holding ``dags/`` and ``plugins/``.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def airflow_environment(
    home: Path, database_url: str | None = None, log_level: str = "INFO"
) -> dict[str, str]:
    """Environment variables of an Airflow installation in ``home`` that runs this project's DAGs.

    :param home: ``AIRFLOW_HOME``; the SQLite metadata database goes there by default.
    :param database_url: Airflow's metadata database, if not ``<home>/airflow.db``.
    :param log_level: Airflow's logging level (``WARNING`` keeps a demo readable).
    """
    home = Path(home).resolve()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url or f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": log_level,
    }


def use_local_airflow(home: Path, log_level: str = "INFO") -> Path:
    """Configure this process for a local Airflow in ``home`` and migrate its metadata database.

    Must run before anything in the process imports ``airflow``, which reads its settings once.

    :param home: the Airflow home folder (created if missing).
    :param log_level: Airflow's logging level.
    :raises RuntimeError: when Airflow was already imported, or the migration fails.
    """
    if "airflow.settings" in sys.modules:
        raise RuntimeError(
            "Airflow is already imported in this process; call use_local_airflow() first"
        )
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_environment(home, log_level=log_level))
    migrate_metadata_db()
    return home


def migrate_metadata_db() -> None:
    """Create or upgrade Airflow's metadata database with the CLI, as a deployment does."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=os.environ.copy(), capture_output=True, text=True, timeout=900,
    )
    if done.returncode != 0:
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        raise RuntimeError(f"airflow db migrate failed:\n{output}")


@dataclass(frozen=True)
class RunOutcome:
    """What one in-process run did: its run id, final state and each task's state (a mapped
    task's instances as ``score[0]``, ``score[1]`` ...)."""

    day: date
    run_id: str
    state: str
    tasks: dict[str, str | None] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.state == "success"


def run_day_in_process(
    day: date, conf: dict | None = None, dag_id: str = "ztad_daily"
) -> RunOutcome:
    """Run ``dag_id`` for the UTC ``day`` with ``dag.test`` and return what happened.

    The run names its day as a manual run must, with the Param ``day``; its logical date is
    the start of the day, as a scheduled run of that day has.

    :param day: the day to process.
    :param conf: run configuration, i.e. values of the DAG's ``Params``.
    :param dag_id: the DAG to run, parsed from the configured DAGs folder.
    :raises LookupError: when the DAGs folder does not hold ``dag_id`` or fails to import.
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    if dag_id not in bag.dags:
        raise LookupError(
            f"DAG {dag_id!r} not found in {bag.dag_folder}; import errors: {bag.import_errors}"
        )
    run_conf = {"day": day.isoformat(), **(conf or {})}
    run = without_deadline(bag.dags[dag_id]).test(logical_date=day_start(day), run_conf=run_conf)
    return RunOutcome(
        day=day,
        run_id=run.run_id,
        state=_state(run.state),
        tasks={task_key(ti): _state(ti.state) for ti in run.get_task_instances()},
    )


def without_deadline(dag):
    """``dag`` without its deadline alerts, as ``dag.test`` can run it.

    In Airflow 3.3 ``dag.test`` hands the run a DAG whose deadline alerts are still serialized
    documents, where a succeeding run looks up stored alert ids, and the run fails. With no
    scheduler, no deadline could be watched anyway; the stack test checks the real one.
    """
    dag.deadline = None
    return dag


def task_key(ti) -> str:
    """``task_id``, or ``task_id[i]`` for the ``i``-th task of a mapped (per shard) step."""
    index = getattr(ti, "map_index", -1)
    return ti.task_id if index is None or index < 0 else f"{ti.task_id}[{index}]"


def _state(value) -> str | None:
    return None if value is None else str(getattr(value, "value", value))
