"""``ztad run`` from the first day to the last of real-shaped logs in every format, on a fresh
home, as a user types it: every day recorded, nothing lost, the attacks as incidents.

The logs are :mod:`tests.fixtures.real_logs`: an internet-facing server's ``auth.log`` of 25
days, an NXLog Security export, an Okta and an Entra ID export (three days each, all of them
learning days, when the rules alone raise findings). Each run is a process of its own on a
home of its own: the runs on SQLite start together at the module's first test (the one on
PostgreSQL runs meanwhile), and each test checks its own.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fixtures.real_logs import (
    OPERATOR,
    RealLog,
    write_entra_export,
    write_okta_export,
    write_sshd_server_log,
    write_windows_nxlog,
)
from tests.ztad.test_cli_first_night import FAST, final_runs, finish, start_ztad
from ztad.store import FindingsStore

pytestmark = pytest.mark.slow

#: The exports run on the embedded SQLite default: their writers and file names.
ON_SQLITE = {
    "sshd": (write_sshd_server_log, "auth.log"),
    "okta": (write_okta_export, "okta.json"),
    "entra": (write_entra_export, "signins.json"),
}


def start_all_days(log: RealLog, home: Path, url: str | None = None) -> subprocess.Popen:
    """``ztad run`` over every day of ``log`` on the fresh ``home``, started and left running."""
    options = [arg for key, value in log.options.items() for arg in ("--option", f"{key}={value}")]
    database = ["--db", url] if url else []
    return start_ztad("run", "--logs", str(log.path), "--format", log.format, *options, "--start",
                      log.first_day.isoformat(), "--end", log.last_day.isoformat(), *FAST, *database,
                      home=home)


def all_days_done(log: RealLog, home: Path, process: subprocess.Popen, url: str | None = None):
    """The findings database's URL and its run records once ``process`` (:func:`start_all_days`)
    ended, after checking that every day is recorded and nothing lost."""
    done = finish(process)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    url = url or f"sqlite:///{home / 'findings.db'}"
    return url, every_day_recorded_and_nothing_lost(log, url)


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """``name -> (log, home, process)`` of each export of :data:`ON_SQLITE`, all started."""
    runs = {}
    for name, (write, file_name) in ON_SQLITE.items():
        folder = tmp_path_factory.mktemp(name)
        log = write(folder / file_name)
        runs[name] = (log, folder / "home", start_all_days(log, folder / "home"))
    yield runs
    for _, _, process in runs.values():  # one left by a test that failed before waiting for it
        if process.poll() is None:
            process.kill()
            process.communicate()


def every_day_recorded_and_nothing_lost(log: RealLog, url: str):
    runs = final_runs(url)
    days = [log.first_day + timedelta(days=n) for n in range((log.last_day - log.first_day).days + 1)]
    assert list(runs.index) == days
    assert set(runs["status"]) <= {"learning", "success"}
    accounted = runs[["rows_scored", "rows_quarantined", "rows_duplicate", "rows_skipped"]].sum(axis=1)
    assert (runs["rows_read"] == accounted).all()
    assert runs["rows_read"].sum() == log.records
    return runs


def incidents_of(url: str, day):
    with FindingsStore(url) as store:
        return store.incidents(day=day).set_index("incident_id")


@pytest.mark.postgres
@pytest.mark.usefixtures("started")  # the runs on SQLite go on meanwhile
def test_an_nxlog_security_export_from_its_first_day(tmp_path, empty_postgres_url):
    log = write_windows_nxlog(tmp_path / "security.json")
    home = tmp_path / "home"
    all_days_done(log, home, start_all_days(log, home, empty_postgres_url), empty_postgres_url)
    spray = log.attacks["spray"]
    incident = incidents_of(empty_postgres_url, spray["day"]).loc[f"{spray['day']}:source:{spray['ip']}"]
    assert incident["category"] == "password_spray" and set(spray["victims"]) <= set(incident["users"])
    with FindingsStore(empty_postgres_url) as store:
        findings = store.findings()
    assert not findings["user_id"].str.endswith("$").any()  # machine accounts are not people


def test_an_internet_facing_sshd_server_from_its_first_day(started):
    log, home, process = started["sshd"]
    url, runs = all_days_done(log, home, process)
    assert (runs["status"] == "success").any()  # the model took over by itself
    attack = log.attacks["brute_force"]
    victim = incidents_of(url, attack["day"]).loc[f"{attack['day']}:user:{attack['user']}"]
    assert victim["category"] == "success_after_failures" and victim["severity_level"] in ("high", "critical")
    for day in runs.index:
        incidents = incidents_of(url, day)
        assert incidents.loc[f"{day}:scanning", "severity_level"] == "low"  # the day's background noise
        assert f"{day}:user:{OPERATOR}" not in incidents.index  # its key probes are no guesses


def test_an_okta_export_from_its_first_day(started):
    log, home, process = started["okta"]
    url, runs = all_days_done(log, home, process)
    assert (runs["rows_skipped"] > 0).all()  # MFA challenges and profile updates are no sign-ins
    spray = log.attacks["spray"]
    incident = incidents_of(url, spray["day"]).loc[f"{spray['day']}:source:{spray['ip']}"]
    assert incident["category"] == "password_spray" and incident["user_count"] == len(spray["victims"])


def test_an_entra_id_export_from_its_first_day(started):
    log, home, process = started["entra"]
    url, runs = all_days_done(log, home, process)
    assert (runs["rows_skipped"] > 0).all()  # MFA interruptions: the outcome follows
    attack = log.attacks["brute_force"]
    incident = incidents_of(url, attack["day"]).loc[f"{attack['day']}:user:{attack['user']}"]
    assert incident["category"] == "success_after_failures"
