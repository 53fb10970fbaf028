"""A new user's first night: ``ztad run`` from the first day of real-format logs on a fresh
home, as a separate process (what a user types), on SQLite and PostgreSQL.

The first days are learning days (no model yet, the behavioural rules still flag); model
scoring starts by itself once the history can train one; a day without events is recorded
as empty and a day without logs as skipped (``--on-missing skip``); every record read is
accounted for; the output is one line per day and nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.fixtures import auth_logs as logs
from ztad.store import FindingsStore

LAST_LOG_DAY = logs.ATTACK_DAY
EMPTY_DAY = LAST_LOG_DAY + timedelta(days=1)  # an empty auth.log: no events
MISSING_DAY = LAST_LOG_DAY + timedelta(days=2)  # no partition at all
FAST = ["--detectors", "isolation_forest,ecod"]


def ztad(*args: str, home: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """``ztad <args>`` in a process of its own, as a user runs it."""
    return finish(start_ztad(*args, home=home), timeout)


def start_ztad(*args: str, home: Path) -> subprocess.Popen:
    """``ztad <args>`` started in a process of its own and left running: runs that do not
    depend on each other run side by side (:func:`finish` collects each)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZTAD_")}
    env["ZTAD_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "ztad.cli", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env,
    )


def finish(process: subprocess.Popen, timeout: float = 900) -> subprocess.CompletedProcess:
    """Wait for a started ``ztad`` and return what it did, as ``subprocess.run`` would."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def sshd_args(root: Path, first: date, last: date, *extra: str) -> list[str]:
    return ["run", "--logs", str(root), "--format", "sshd",
            "--option", f"year={logs.SSHD_OPTIONS['year']}", "--option", f"timezone={logs.SSHD_TIMEZONE}",
            "--start", first.isoformat(), "--end", last.isoformat(), *extra]


@pytest.fixture(scope="module")
def sshd_root(tmp_path_factory) -> Path:
    root = logs.write_sshd_logs(tmp_path_factory.mktemp("sshd"))
    (root / f"date={EMPTY_DAY.isoformat()}").mkdir()
    (root / f"date={EMPTY_DAY.isoformat()}" / "auth.log").write_text("")
    return root


def final_runs(url: str):
    with FindingsStore(url) as store:
        return store.runs().set_index("day")


@pytest.fixture(scope="module")
def fresh_homes(sshd_root, tmp_path_factory, request):
    """``backend -> (findings URL, started ztad run)``: every day from the first one on a fresh
    home, on SQLite with the default ensemble (TensorFlow included) and on PostgreSQL with the
    fast members, both started at once (two processes that do not depend on each other). What
    keeps PostgreSQL from being used (a skip, a failure under CI) is kept for its test."""
    runs: dict = {}
    extra = ["--on-missing", "skip"]
    sqlite_home = tmp_path_factory.mktemp("sqlite") / "home"
    runs["sqlite"] = (f"sqlite:///{sqlite_home / 'findings.db'}",
                      start_ztad(*sshd_args(sshd_root, logs.FIRST_DAY, MISSING_DAY, *extra), home=sqlite_home))
    try:
        url = request.getfixturevalue("module_postgres_database")
    except (pytest.skip.Exception, pytest.fail.Exception) as unavailable:
        runs["postgresql"] = unavailable
    else:
        args = sshd_args(sshd_root, logs.FIRST_DAY, MISSING_DAY, *extra, "--db", url, *FAST)
        runs["postgresql"] = (url, start_ztad(*args, home=tmp_path_factory.mktemp("postgresql") / "home"))
    yield runs
    for run in runs.values():  # one left by a test that failed before waiting for it
        if isinstance(run, tuple) and run[1].poll() is None:
            run[1].kill()
            run[1].communicate()


@pytest.fixture(scope="module")
def module_postgres_database(postgres_server_url):
    """A fresh PostgreSQL database for this module's fresh-home run."""
    from sqlalchemy.engine import make_url

    from tests.fixtures.postgres import _as_text, _create_database, _drop_database

    server = make_url(postgres_server_url)
    database = _create_database(server)
    yield _as_text(database)
    _drop_database(server, database.database)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_fresh_home_runs_every_day_from_the_first_one(fresh_homes, backend):
    if isinstance(fresh_homes[backend], BaseException):
        raise fresh_homes[backend]
    url, process = fresh_homes[backend]
    done = finish(process)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # quiet: no Alembic, TensorFlow or warning lines
    lines = done.stdout.splitlines()
    days = [logs.FIRST_DAY + timedelta(days=n) for n in range((MISSING_DAY - logs.FIRST_DAY).days + 1)]
    assert len(lines) == len(days) + 1 and lines[-1].startswith("findings database: ")
    assert lines[0].startswith(f"[1/{len(days)}] {logs.FIRST_DAY} learning: read ")
    assert "rules only, model after 0 of 7 history days" in lines[0]

    runs = final_runs(url)
    assert list(runs.index) == days  # one record per day, none left running
    expected = ["learning"] * logs.HISTORY_DAYS + ["success", "empty", "skipped"]
    assert list(runs["status"]) == expected
    learning = runs[runs["status"] == "learning"]
    assert learning["model_version"].isna().all() and learning["lacking"].str.contains("history days").all()
    assert runs.loc[LAST_LOG_DAY, "model_action"] == "trained"  # the model starts by itself
    assert "no log data" in runs.loc[MISSING_DAY, "message"]
    pulled = runs[runs["status"] != "skipped"]
    accounted = pulled[["rows_scored", "rows_quarantined", "rows_duplicate", "rows_skipped"]].sum(axis=1)
    assert (pulled["rows_read"] == accounted).all()  # nothing lost
    assert runs.loc[EMPTY_DAY, "rows_read"] == 0 and runs.loc[EMPTY_DAY, "rows_scored"] == 0

    with FindingsStore(url) as store:
        incidents = store.incidents(day=LAST_LOG_DAY).set_index("incident_id")
    assert incidents.loc[f"{LAST_LOG_DAY}:user:{logs.BRUTE_FORCE_VICTIM}", "category"] == "brute_force"
    assert incidents.loc[f"{LAST_LOG_DAY}:source:{logs.SPRAY_IP}", "category"] == "password_spray"


@pytest.mark.slow
def test_learning_days_still_raise_the_rules_findings(tmp_path):
    from dataclasses import replace

    from ztad import pipeline
    from ztad.config import DetectionConfig, JobConfig, SourceConfig

    root = logs.write_sshd_logs(tmp_path / "ssh")
    config = JobConfig(
        source=SourceConfig(root=str(root), format="sshd", options=logs.SSHD_OPTIONS),
        home=tmp_path / "home",
        detection=replace(DetectionConfig(), min_training_days=30, detectors=("isolation_forest", "ecod")),
    )
    (summary,) = pipeline.run_range(logs.ATTACK_DAY, logs.ATTACK_DAY, config)

    assert summary.status == "learning" and summary.model_version is None
    assert summary.lacking.startswith("7 of 30 history days")
    with FindingsStore(config.resolved_database_url) as store:
        incidents = store.incidents(day=logs.ATTACK_DAY).set_index("incident_id")
        (run,) = store.runs(day=logs.ATTACK_DAY).to_dict("records")
    assert incidents.loc[f"{logs.ATTACK_DAY}:user:{logs.BRUTE_FORCE_VICTIM}", "category"] == "brute_force"
    assert incidents.loc[f"{logs.ATTACK_DAY}:source:{logs.SPRAY_IP}", "category"] == "password_spray"
    assert run["status"] == "learning" and run["lacking"] == summary.lacking and pd.isna(run["threshold"])


def test_a_missing_day_fails_with_one_line_and_stops_the_backfill(sshd_root, tmp_path):
    first = MISSING_DAY
    done = ztad(*sshd_args(sshd_root, first, first + timedelta(days=1)), home=tmp_path / "home")

    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"ztad: error: no log data for {first}") and f"date={first}" in line
    runs = final_runs(f"sqlite:///{tmp_path / 'home' / 'findings.db'}")
    assert list(runs.index) == [first] and list(runs["status"]) == ["failed"]


def test_verbose_shows_the_traceback(sshd_root, tmp_path):
    done = ztad("-v", *sshd_args(sshd_root, MISSING_DAY, MISSING_DAY), home=tmp_path / "home")
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("ztad: error: no log data")


@pytest.mark.slow
def test_on_missing_wait_scores_the_day_once_its_logs_arrive(tmp_path):
    source = logs.write_sshd_logs(tmp_path / "source")
    root = tmp_path / "logs"
    root.mkdir()
    day = logs.FIRST_DAY
    home = tmp_path / "home"

    def deliver_once_the_run_started() -> None:
        deadline = time.monotonic() + 300
        while not (home / "work" / f"day={day}" / "started.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)
        (source / f"date={day}").rename(root / f"date={day}")

    arrive = threading.Thread(target=deliver_once_the_run_started)
    arrive.start()
    done = ztad(*sshd_args(root, day, day, "--on-missing", "wait", "--wait-timeout", "2", *FAST), home=home)
    arrive.join()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"[1/1] {day} learning: read ")
    assert "waiting up to 120 s" in done.stderr  # it said what it was waiting for


def test_a_bad_setting_is_one_line_naming_it(tmp_path):
    done = ztad("run", "--day", "2026-03-02", "--logs", str(tmp_path), "--rule", "spray_min_users=many",
                home=tmp_path / "home")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("ztad: error: ") and "spray_min_users" in done.stderr


def test_an_unreachable_database_is_one_line_and_the_run_waits_in_the_fallback_log(sshd_root, tmp_path):
    from ztad.pipeline.run_records import FALLBACK_LOG

    home = tmp_path / "home"
    url = "postgresql+psycopg://ztad@127.0.0.1:9/ztad?connect_timeout=2"  # port 9: nothing listens
    started = time.monotonic()
    done = ztad(*sshd_args(sshd_root, logs.FIRST_DAY, logs.FIRST_DAY, "--db", url), home=home)

    assert done.returncode == 2 and time.monotonic() - started < 120
    (line,) = done.stderr.splitlines()
    assert line.startswith("ztad: error: the findings database postgresql+psycopg://ztad@127.0.0.1:9/ztad")
    assert "unreachable" in line and FALLBACK_LOG in line
    assert '"status": "failed"' in (home / FALLBACK_LOG).read_text()


@pytest.mark.slow
@pytest.mark.postgres
def test_windows_security_events_from_the_first_day(tmp_path, empty_postgres_url):
    root = logs.write_windows_logs(tmp_path / "windows")
    days = [logs.FIRST_DAY + timedelta(days=n) for n in range(logs.HISTORY_DAYS + 1)]
    done = ztad("run", "--logs", str(root), "--format", "windows", "--start", str(days[0]),
                "--end", str(days[-1]), "--db", empty_postgres_url, *FAST, home=tmp_path / "home")

    assert done.returncode == 0 and done.stderr == "", done.stderr
    runs = final_runs(empty_postgres_url)
    assert list(runs.index) == days
    assert list(runs["status"]) == ["learning"] * logs.HISTORY_DAYS + ["success"]
    accounted = runs[["rows_scored", "rows_quarantined", "rows_duplicate", "rows_skipped"]].sum(axis=1)
    assert (runs["rows_read"] == accounted).all()
    with FindingsStore(empty_postgres_url) as store:
        incidents = store.incidents(day=logs.ATTACK_DAY).set_index("incident_id")
    day = logs.ATTACK_DAY
    assert incidents.loc[f"{day}:user:{logs.WINDOWS_BRUTE_FORCE_VICTIM}", "category"] == "brute_force"
    assert incidents.loc[f"{day}:user:{logs.NTLM_VICTIM}", "category"] == "brute_force"
    spray = incidents.loc[f"{day}:source:workstation {logs.NTLM_SPRAY_WORKSTATION}"]
    assert spray["category"] == "password_spray"
