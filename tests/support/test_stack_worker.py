"""The stack's workers: their names, and the modules they load before forking their tasks."""

import json
import subprocess
import sys

from tests.support import stack, stack_worker


def test_a_worker_is_named_by_its_environment(monkeypatch):
    monkeypatch.setenv(stack.WORKER_NAME, "worker2")
    assert stack_worker.worker_hostname() == "worker2"
    monkeypatch.delenv(stack.WORKER_NAME)
    assert stack_worker.worker_hostname()


def test_the_celery_configuration_is_airflows_own():
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    assert stack_worker.CELERY_CONFIG == DEFAULT_CELERY_CONFIG


def test_the_preloaded_modules_are_ztads_task_modules_without_the_tools():
    names = stack_worker.preloaded_modules()
    assert "ztad.pipeline" in names and "ztad.pipeline.steps.score" in names and "shap" in names
    assert not [n for n in names if n.startswith(("ztad.evaluation", "ztad.synth", "ztad.cli"))]


def test_preloading_leaves_tensorflow_out():
    """TensorFlow is not safe to fork once loaded: the workers must not load it."""
    code = (
        "import json, sys\n"
        "from tests.support.stack_worker import preload\n"
        "preload()\n"
        "print(json.dumps(['tensorflow' in sys.modules, 'sklearn' in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=str(stack.REPO), timeout=300)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, True]
