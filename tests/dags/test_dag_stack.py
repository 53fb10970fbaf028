"""``ztad_daily`` on the real production stack: ``make stack`` started here, on free ports.

Airflow 3's api-server, scheduler, dag-processor and triggerer, two Celery workers (Redis),
metadata and findings on PostgreSQL, all separate processes (:mod:`tests.support.stack`). The
scenario drives it as its users do, through the REST API v2 with a JWT, the ``airflow`` CLI
and the call the UI's trigger form makes, and then compares with ``ztad run``:

1. unpausing ``ztad_daily`` makes the scheduler create the nightly run of yesterday, which has
   no logs: it fails, and its deadline (the Variable ``ztad_deadline``, set to ``00:00``) has
   passed, so the deadline callback reports it;
2. REST: day A with an explicit data interval, ``{"shards": 4}``;
3. UI: day B named by the Param ``day`` (the body the trigger form posts);
4. CLI: day C named by ``day``; while its ``write_findings`` writes, the Celery worker process
   that supervises it gets SIGKILL: the task is retried and the day ends complete, once;
5. a backfill over B, C and the next day D, created through the REST API: no day skipped, no
   day processed in another's place.

The scenario (:mod:`tests.dags.stack_scenario`) runs as a process of its own, started in the
background at the session's first test (:mod:`tests.fixtures.background_stack`): most of its
time is spent waiting for the stack, and the other tests use it. The checks below read what
it saw. The stack is stopped at its end, also when something fails.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.dags.stack_scenario import DAY_A, DAY_B, DAY_C, DAY_D, findings_by_day

pytestmark = [pytest.mark.stack, pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def scenario(stack_scenario):
    """What the scenario saw, once it ended; where its time and CPU went (figures)."""
    outcome = stack_scenario.outcome()
    print(f"\nstack scenario, seconds since the start: {outcome['marks']}")
    print(f"CPU seconds used: {outcome['cpu_seconds']}")
    return outcome


# --------------------------------------------------------------------------- the checks


def test_every_triggered_run_succeeded(scenario):
    for kind in ("rest", "ui", "cli"):
        assert scenario[kind]["state"] == "success", scenario[kind]
    assert [run["state"] for run in scenario["backfill_runs"]] == ["success"] * 3


def test_findings_in_postgres_equal_those_of_ztad_run(scenario):
    days = [DAY_A, DAY_B, DAY_C, DAY_D]
    expected = findings_by_day(scenario["reference_url"], days)
    # A quiet day (no finding) is compared too: the stack must flag nothing on it either.
    assert any(expected[day] for day in days), "ztad run flagged nothing: the comparison would be empty"
    assert scenario["findings"] == expected


def test_each_manual_run_processed_the_day_it_named(scenario):
    """REST (explicit interval), UI and CLI (Param ``day``): the runs table names their days,
    and the findings they wrote before the backfill were already those of ``ztad run``."""
    runs = scenario["runs_table"]
    assert runs[scenario["rest"]["dag_run_id"]] == (DAY_A, "success")
    assert runs[scenario["ui"]["dag_run_id"]] == (DAY_B, "success")
    assert runs[scenario["cli"]["dag_run_id"]] == (DAY_C, "success")
    assert scenario["ui"]["logical_date"] and scenario["cli"]["logical_date"] is None
    expected = findings_by_day(scenario["reference_url"], [DAY_B, DAY_C])
    assert scenario["first_pass"]["ui"][DAY_B] == expected[DAY_B]
    assert scenario["first_pass"]["cli"][DAY_C] == expected[DAY_C]


def test_the_backfill_over_manually_run_days_skips_none_and_runs_each_on_its_day(scenario):
    runs = scenario["backfill_runs"]
    logical_days = [date.fromisoformat(run["logical_date"][:10]) for run in runs]
    assert sorted(logical_days) == [DAY_B, DAY_C, DAY_D]
    table = scenario["runs_table"]
    for run, day in zip(runs, logical_days, strict=True):
        assert table[run["dag_run_id"]] == (day, "success"), run["dag_run_id"]


def test_the_sharded_run_spread_its_mapped_tasks_over_both_workers(scenario):
    tis = scenario["task_instances"][scenario["rest"]["dag_run_id"]]
    mapped = [ti for ti in tis if ti["task_id"] in ("update_baselines", "score")]
    assert sorted((ti["task_id"], ti["map_index"]) for ti in mapped) == [
        (task, index) for task in ("score", "update_baselines") for index in range(4)
    ]
    assert {ti["state"] for ti in mapped} == {"success"}
    assert {ti["hostname"] for ti in mapped} == {"worker1", "worker2"}


def test_a_write_whose_worker_process_was_killed_is_retried_and_the_day_lands_once(scenario):
    tries = sorted(scenario["write_tries"], key=lambda ti: ti["try_number"])
    assert [ti["try_number"] for ti in tries] == [1, 2]
    assert tries[0]["state"] != "success" and tries[1]["state"] == "success"
    assert tries[0]["pid"] in (scenario["killed"]["task_pid"], scenario["killed"]["supervisor_pid"])
    run_id = scenario["cli"]["dag_run_id"]
    findings = scenario["findings"][DAY_C]
    assert findings == findings_by_day(scenario["reference_url"], [DAY_C])[DAY_C]
    ids = scenario["day_c_finding_ids"]
    assert len(ids) == len(set(ids)) == len(findings)
    events = [e for e in scenario["asset_events"] if e["source_run_id"] == run_id]
    assert len(events) == 1 and events[0]["extra"]["day"] == DAY_C.isoformat()


def test_each_write_emitted_an_asset_event_and_triggered_the_report(scenario):
    events = scenario["asset_events"]
    assert {e["extra"]["day"] for e in events} == {d.isoformat() for d in (DAY_A, DAY_B, DAY_C, DAY_D)}
    reports = scenario["reports"]
    assert reports and {run["run_type"] for run in reports} == {"asset_triggered"}
    assert {run["state"] for run in reports} == {"success"}


def test_the_nightly_run_that_missed_its_deadline_was_recorded(scenario):
    scheduled = scenario["scheduled"]
    assert len(scheduled) == 1 and scheduled[0]["state"] == "failed"  # no logs for last night
    deadlines = scenario["deadlines"]
    assert [(d["run_id"], d["run_type"], d["missed"], d["state"]) for d in deadlines] == [
        (scheduled[0]["dag_run_id"], "scheduled", True, "success")
    ], "manual and backfill runs have no deadline; the nightly one missed it"
    message = f"ztad deadline missed: ztad_daily run {scheduled[0]['dag_run_id']}"
    assert message in deadlines[0]["output"]
    assert message in scenario["triggerer_log"]
