from datetime import date

import pytest

from tests.support.airflow_local import RunOutcome, run_day_in_process


def test_an_unknown_dag_is_a_clear_error():
    with pytest.raises(LookupError, match="DAG 'no_such_dag' not found in .*dags"):
        run_day_in_process(date(2026, 3, 2), dag_id="no_such_dag")


def test_an_outcome_knows_whether_the_run_succeeded():
    assert RunOutcome(date(2026, 3, 2), "r1", "success").succeeded
    assert not RunOutcome(date(2026, 3, 2), "r2", "failed", {"pull": "failed"}).succeeded


def test_the_environment_points_airflow_at_this_projects_dags_and_plugins(tmp_path):
    from tests.support.airflow_local import PROJECT_ROOT, airflow_environment

    env = airflow_environment(tmp_path / "airflow", log_level="WARNING")
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}"
    assert (PROJECT_ROOT / "dags" / "ztad_daily.py").is_file()
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT_ROOT / "dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(PROJECT_ROOT / "plugins")
    assert env["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "WARNING"


def test_configuring_after_airflow_was_imported_is_refused(tmp_path):
    import airflow.settings  # noqa: F401  (already imported by the tests' own setup)

    from tests.support.airflow_local import use_local_airflow

    with pytest.raises(RuntimeError, match="already imported"):
        use_local_airflow(tmp_path / "airflow")
    assert not (tmp_path / "airflow").exists()


def test_the_tasks_of_a_mapped_step_are_told_apart_by_their_shard():
    from types import SimpleNamespace

    from tests.support.airflow_local import task_key

    assert task_key(SimpleNamespace(task_id="score", map_index=2)) == "score[2]"
    assert task_key(SimpleNamespace(task_id="score", map_index=-1)) == "score"
    assert task_key(SimpleNamespace(task_id="pull")) == "pull"


def test_without_deadline_drops_the_alerts_that_dag_test_cannot_run(dag_for_deadline):
    from tests.support.airflow_local import without_deadline

    assert dag_for_deadline.deadline
    assert without_deadline(dag_for_deadline).deadline is None


@pytest.fixture
def dag_for_deadline():
    from airflow.dag_processing.dagbag import DagBag

    from tests.support.airflow_home import DAGS_FOLDER

    return DagBag(dag_folder=str(DAGS_FOLDER / "ztad_daily.py")).dags["ztad_daily"]
