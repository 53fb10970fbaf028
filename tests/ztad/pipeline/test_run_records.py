"""Run records from the runner's side: the running row, a failure's counts, the fallback log,
and a real PostgreSQL outage in the middle of the day's write."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date

import pandas as pd
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.fixtures import auth_logs as logs
from ztad.config import JobConfig, SourceConfig
from ztad.pipeline.run_records import (
    FALLBACK_LOG,
    fallback_path,
    record_failure,
    record_outcome,
    replay_fallback,
    start_run,
)
from ztad.pipeline.workfiles import day_dir, write_json
from ztad.store import FindingsStore

DAY = date(2026, 3, 9)


def _config(tmp_path, url: str | None = None) -> JobConfig:
    source = SourceConfig(root=str(tmp_path / "logs"))
    return JobConfig(source=source, home=tmp_path / "home", database_url=url)


def test_a_run_is_recorded_as_running_when_it_starts(tmp_path):
    config = _config(tmp_path)
    started = start_run(DAY, config, "run-1")
    with FindingsStore(config.resolved_database_url) as store:
        (run,) = store.runs().to_dict("records")
    assert run["status"] == "running" and run["run_id"] == "run-1"
    assert run["started_at"] == started and pd.isna(run["finished_at"])


def test_a_dry_run_writes_no_run_row(tmp_path):
    config = _config(tmp_path)
    start_run(DAY, config, "run-1", dry_run=True)
    assert not (config.home / "findings.db").exists()


def test_a_failure_keeps_the_counts_of_the_steps_this_run_finished(tmp_path):
    config = _config(tmp_path)
    folder = day_dir(config, DAY)
    write_json(folder / "score.json", {"rows_scored": 5, "rows_flagged": 1})  # an earlier run's
    start_run(DAY, config, "run-2")
    skipped = [{"path": "a.bz2", "size_bytes": 9}]
    write_json(folder / "pull.json", {"rows_read": 10, "rows_quarantined": 2, "rows_duplicate": 1,
                                      "rows_skipped": 3, "files_skipped": skipped})
    assert record_failure(DAY, config, "run-2", RuntimeError("the model step broke"))

    with FindingsStore(config.resolved_database_url) as store:
        (run,) = store.runs().to_dict("records")
    assert run["status"] == "failed" and run["message"] == "RuntimeError: the model step broke"
    counts = ("rows_read", "rows_quarantined", "rows_duplicate", "rows_skipped")
    assert [run[name] for name in counts] == [10, 2, 1, 3] and run["files_skipped"] == skipped
    assert pd.isna(run["rows_scored"])  # the earlier run's score is not this one's


def test_records_the_database_refuses_wait_in_the_fallback_log_and_are_replayed(tmp_path):
    down = _config(tmp_path, "postgresql+psycopg://ztad@127.0.0.1:9/ztad?connect_timeout=2")
    assert not record_outcome(DAY, down, "run-1", "failed", "boom", rows_read=7)
    (line,) = fallback_path(down).read_text().splitlines()
    assert json.loads(line)["rows_read"] == 7

    config = _config(tmp_path)  # the database is back (the same home)
    with FindingsStore(config.resolved_database_url) as store:
        store.create_schema()
        assert replay_fallback(store, config) == 1
        (run,) = store.runs().to_dict("records")
    assert (run["run_id"], run["status"], run["rows_read"], run["message"]) == ("run-1", "failed", 7, "boom")
    assert not fallback_path(config).exists()


def test_a_replayed_record_never_overwrites_a_finished_run(tmp_path):
    config = _config(tmp_path)
    down = _config(tmp_path, "postgresql+psycopg://ztad@127.0.0.1:9/ztad?connect_timeout=2")
    record_outcome(DAY, down, "run-1", "failed", "old news")
    record_outcome(DAY, config, "run-1", "success", "")
    with FindingsStore(config.resolved_database_url) as store:
        assert replay_fallback(store, config) == 0
        assert list(store.runs()["status"]) == ["success"]


# --------------------------------------------------------------------------- the outage

#: Holds the day's write open: the run row is the last row the write step upserts.
SLOW_WRITE = (
    "CREATE FUNCTION hold_the_write() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_sleep(120); RETURN NEW; END $$",
    "CREATE TRIGGER hold_the_write BEFORE INSERT ON runs FOR EACH ROW "
    "WHEN (NEW.status IN ('success', 'learning', 'empty')) EXECUTE FUNCTION hold_the_write()",
)


@pytest.fixture
def cluster():
    """A throwaway PostgreSQL cluster of this test's own, which the test stops and restarts."""
    from tests.fixtures.postgres import _binaries, _TemporaryCluster

    binaries = _binaries()
    if binaries is None:
        pytest.skip("no initdb/pg_ctl to start a throwaway PostgreSQL cluster")
    server = _TemporaryCluster(binaries)
    try:
        url = server.start()
    except (subprocess.SubprocessError, OSError) as error:
        server.stop()
        pytest.skip(f"a throwaway PostgreSQL cluster did not start: {error}")
    server.url = url.render_as_string(hide_password=False)
    try:
        yield server
    finally:
        server.stop()


def _restart(server) -> None:
    options = f"-p {server.port} -c listen_addresses=127.0.0.1 -k {server.folder} -c fsync=off"
    server._run("pg_ctl", "-D", str(server.data), "-l", str(server.log), "-o", options, "-w", "start")


def _sql(url: str, *statements: str) -> list:
    """Run ``statements`` in autocommit; the rows of the last one (a query), else []."""
    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database,
                         autocommit=True) as connection:
        for statement in statements:
            cursor = connection.execute(statement)
        return cursor.fetchall() if cursor.description else []


@pytest.mark.postgres
@pytest.mark.slow
def test_an_outage_mid_write_is_one_line_leaves_nothing_half_written_and_the_failure_is_recorded_later(
    tmp_path, cluster
):
    from tests.ztad.test_cli_first_night import FAST, sshd_args, ztad

    url = cluster.url
    with FindingsStore(url) as store:
        store.create_schema()
    _sql(url, *SLOW_WRITE)
    root = logs.write_sshd_logs(tmp_path / "ssh")
    home = tmp_path / "home"
    args = [*sshd_args(root, logs.ATTACK_DAY, logs.ATTACK_DAY, *FAST), "--db", url]
    env = {"ZTAD_HOME": str(home), "PATH": "/usr/bin:/bin"}
    run = subprocess.Popen([sys.executable, "-m", "ztad.cli", *args], env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while not _sql(url, "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'"):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the write step never started"
        time.sleep(0.5)
    # The findings, incidents and quarantine rows are inserted, not committed: the server dies.
    cluster._run("pg_ctl", "-D", str(cluster.data), "-m", "immediate", "-w", "stop")
    code = run.wait(300)
    out, err = run.communicate()

    assert code == 2 and "success" not in out
    (line,) = err.splitlines()
    assert line.startswith("ztad: error: the findings database postgresql+psycopg://postgres@127.0.0.1")
    assert "unreachable" in line and "Nothing of the day was half-written" in line
    (kept,) = [json.loads(text) for text in (home / FALLBACK_LOG).read_text().splitlines()]
    assert kept["status"] == "failed" and kept["rows_read"] > 0 and kept["rows_scored"] > 0

    _restart(cluster)
    with FindingsStore(url) as store:
        assert store.findings(day=logs.ATTACK_DAY).empty and store.incidents(day=logs.ATTACK_DAY).empty
        assert list(store.runs()["status"]) == ["running"]  # what the killed write left
    _sql(url, "DROP TRIGGER hold_the_write ON runs")

    again = ztad(*args, home=home)
    assert again.returncode == 0, again.stderr
    with FindingsStore(url) as store:
        runs = store.runs().set_index("run_id")
        assert not store.findings(day=logs.ATTACK_DAY).empty
    assert runs.loc[kept["run_id"], "status"] == "failed"  # replayed from the fallback log
    assert runs.loc[kept["run_id"], "rows_read"] == kept["rows_read"]
    assert sorted(runs["status"]) == ["failed", "success"]
    assert not (home / FALLBACK_LOG).exists()
