"""``ztad_daily`` through ``dag.test`` on a day of sshd ``auth.log`` files, into PostgreSQL.

The log source is configured as a deployment configures it: the Variable ``ztad_source``
names the partitions, the ``sshd`` format and its options (the year and zone that syslog
timestamps lack, and the GeoIP databases that locate addresses). The day holds a brute force
against one account and a password spray across many; each must become one incident.
"""

import json

import pytest

from tests.dags.test_dag_run import airflow_connection
from tests.fixtures import auth_logs as logs
from tests.fixtures.geoip import write_databases
from tests.support.airflow_local import run_day_in_process
from ztad.config import SourceConfig
from ztad.ingest import load_day
from ztad.store import FindingsStore

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def outcome(airflow_db, module_postgres_url, tmp_path_factory):
    """Run the attack day through the DAG (in two shards, the fast detectors); keep what it wrote."""
    root = logs.write_sshd_logs(tmp_path_factory.mktemp("sshd-logs"))
    city_db, asn_db = write_databases(tmp_path_factory.mktemp("geoip"))
    source = {
        "root": str(root),
        "format": "sshd",
        "options": {**logs.SSHD_OPTIONS, "geoip_city_db": city_db, "geoip_asn_db": asn_db},
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", airflow_connection(module_postgres_url))
        env.setenv("AIRFLOW_VAR_ZTAD_SOURCE", json.dumps(source))
        env.setenv("ZTAD_HOME", str(tmp_path_factory.mktemp("ztad-home")))
        env.delenv("ZTAD_DATABASE_URL", raising=False)
        run = run_day_in_process(logs.ATTACK_DAY, {"detectors": ["isolation_forest", "ecod"], "shards": 2})
    with FindingsStore(module_postgres_url) as store:
        yield {
            "loaded": load_day(SourceConfig(str(root), format="sshd", options=source["options"]), logs.ATTACK_DAY),
            "run": run,
            "runs": store.runs(day=logs.ATTACK_DAY),
            "incidents": store.incidents(day=logs.ATTACK_DAY).set_index("incident_id"),
            "findings": store.findings(day=logs.ATTACK_DAY),
        }


def test_every_task_succeeds_and_the_run_is_recorded(outcome):
    run = outcome["run"]
    assert run.state == "success", run.tasks
    assert set(run.tasks.values()) == {"success"}, run.tasks
    record = outcome["runs"].set_index("run_id").loc[run.run_id]
    assert record["status"] == "success" and record["rows_quarantined"] == 0
    # Every line is read; session, cron and sudo lines are counted as skipped, not scored.
    loaded = outcome["loaded"]
    assert record["rows_read"] == loaded.rows_read > record["rows_scored"] == len(loaded.events) > 0
    assert loaded.rows_skipped and loaded.accounted()


def test_the_brute_force_is_one_incident_of_its_victim(outcome):
    day = logs.ATTACK_DAY.isoformat()
    brute = outcome["incidents"].loc[f"{day}:user:{logs.BRUTE_FORCE_VICTIM}"]
    assert brute["category"] == "brute_force" and brute["finding_count"] >= 8
    findings = outcome["findings"]
    mine = findings[findings["incident_id"] == brute.name]
    assert set(mine["ip_address"]) == {logs.BRUTE_FORCE_IP}
    assert set(mine["location"]) == {"Changchun, China"}  # located with the Variable's GeoIP options


def test_the_password_spray_is_one_incident_of_its_source(outcome):
    day = logs.ATTACK_DAY.isoformat()
    spray = outcome["incidents"].loc[f"{day}:source:{logs.SPRAY_IP}"]
    assert spray["kind"] == "source" and spray["category"] == "password_spray"
    assert set(logs.SPRAY_VICTIMS) <= set(spray["users"])
    findings = outcome["findings"]
    assert not findings.loc[findings["ip_address"] == logs.SPRAY_IP, "incident_id"].ne(spray.name).any()
