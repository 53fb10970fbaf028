"""How the stack's Celery workers differ from Airflow's defaults.

Each task runs in a process forked from a worker's pool process. A worker that imports ztad's
modules (pandas, pyarrow, scikit-learn, SHAP ...) once, before it starts its pool, hands them
to every task for free: a task then spends its time on the day, not on ~10 s of imports.
TensorFlow is left out: it is not safe to fork once loaded, and only the autoencoder needs it.

Used through ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=tests.support.stack_worker.CELERY_CONFIG``
(Airflow's own settings, unchanged) and ``[core] hostname_callable`` (:func:`worker_hostname`).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import socket

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

from tests.support.stack import WORKER_NAME

#: Airflow's Celery configuration, unchanged.
CELERY_CONFIG = dict(DEFAULT_CELERY_CONFIG)

#: ztad's packages that no task imports (nothing in production imports them).
NOT_PRELOADED = ("ztad.evaluation", "ztad.synth", "ztad.cli", "ztad.store.migrations")
#: What the supervisor and the task runner load for their first task (about 8 s of a fresh
#: pool process), with the DAG files' operators (Airflow puts the plugins folder on sys.path).
AIRFLOW_MODULES = (
    "airflow.sdk.execution_time.supervisor", "airflow.sdk.execution_time.task_runner",
    "airflow.dag_processing.bundles.manager", "airflow.providers.postgres.hooks.postgres",
    "ztad_airflow.operators", "ztad_airflow.sensors", "ztad_airflow.report", "ztad_airflow.deadlines",
)
#: Libraries the tasks import lazily, inside functions.
LIBRARIES = ("shap", "matplotlib.pyplot", "psycopg", "alembic.command")


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers: their name, so that task instances tell
    which of several workers on one machine ran them."""
    return os.environ.get(WORKER_NAME) or socket.getfqdn()


def preloaded_modules() -> list[str]:
    """The modules a worker imports before it forks: Airflow's task machinery, ztad's task
    modules and their libraries."""
    import ztad

    found = [
        module.name for module in pkgutil.walk_packages(ztad.__path__, "ztad.")
        if not module.name.startswith(NOT_PRELOADED)
    ]
    return [*AIRFLOW_MODULES, *found, *LIBRARIES]


@worker_init.connect
def preload(**_) -> None:
    """Import :func:`preloaded_modules` in the worker's main process (Celery's ``worker_init``)."""
    for name in preloaded_modules():
        importlib.import_module(name)
