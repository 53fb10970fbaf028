"""``ztad run`` from the first day to the last of real-shaped logs in every format, on a fresh
home, as a user types it: every day recorded, nothing lost, the attacks as incidents.

The logs are :mod:`tests.fixtures.real_logs`: an internet-facing server's ``auth.log`` of 25
days, an NXLog Security export, an Okta and an Entra ID export (three days each, all of them
learning days, when the rules alone raise findings).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.real_logs import (
    OPERATOR,
    RealLog,
    write_entra_export,
    write_okta_export,
    write_sshd_server_log,
    write_windows_nxlog,
)
from tests.ztad.test_cli_first_night import FAST, final_runs, ztad
from ztad.store import FindingsStore

pytestmark = pytest.mark.slow


def run_all_days(log: RealLog, tmp_path, url: str | None = None):
    """``ztad run`` over every day of ``log`` on a fresh home; the findings database's URL and
    its run records, after checking that every day is recorded and nothing lost."""
    home = tmp_path / "home"
    options = [arg for key, value in log.options.items() for arg in ("--option", f"{key}={value}")]
    database = ["--db", url] if url else []
    done = ztad("run", "--logs", str(log.path), "--format", log.format, *options, "--start",
                log.first_day.isoformat(), "--end", log.last_day.isoformat(), *FAST, *database, home=home)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    url = url or f"sqlite:///{home / 'findings.db'}"
    return url, every_day_recorded_and_nothing_lost(log, url)


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


def test_an_internet_facing_sshd_server_from_its_first_day(tmp_path):
    log = write_sshd_server_log(tmp_path / "auth.log")
    url, runs = run_all_days(log, tmp_path)
    assert (runs["status"] == "success").any()  # the model took over by itself
    attack = log.attacks["brute_force"]
    victim = incidents_of(url, attack["day"]).loc[f"{attack['day']}:user:{attack['user']}"]
    assert victim["category"] == "success_after_failures" and victim["severity_level"] in ("high", "critical")
    for day in runs.index:
        incidents = incidents_of(url, day)
        assert incidents.loc[f"{day}:scanning", "severity_level"] == "low"  # the day's background noise
        assert f"{day}:user:{OPERATOR}" not in incidents.index  # its key probes are no guesses


@pytest.mark.postgres
def test_an_nxlog_security_export_from_its_first_day(tmp_path, empty_postgres_url):
    log = write_windows_nxlog(tmp_path / "security.json")
    run_all_days(log, tmp_path, empty_postgres_url)
    spray = log.attacks["spray"]
    incident = incidents_of(empty_postgres_url, spray["day"]).loc[f"{spray['day']}:source:{spray['ip']}"]
    assert incident["category"] == "password_spray" and set(spray["victims"]) <= set(incident["users"])
    with FindingsStore(empty_postgres_url) as store:
        findings = store.findings()
    assert not findings["user_id"].str.endswith("$").any()  # machine accounts are not people


def test_an_okta_export_from_its_first_day(tmp_path):
    log = write_okta_export(tmp_path / "okta.json")
    url, runs = run_all_days(log, tmp_path)
    assert (runs["rows_skipped"] > 0).all()  # MFA challenges and profile updates are no sign-ins
    spray = log.attacks["spray"]
    incident = incidents_of(url, spray["day"]).loc[f"{spray['day']}:source:{spray['ip']}"]
    assert incident["category"] == "password_spray" and incident["user_count"] == len(spray["victims"])


def test_an_entra_id_export_from_its_first_day(tmp_path):
    log = write_entra_export(tmp_path / "signins.json")
    url, runs = run_all_days(log, tmp_path)
    assert (runs["rows_skipped"] > 0).all()  # MFA interruptions: the outcome follows
    attack = log.attacks["brute_force"]
    incident = incidents_of(url, attack["day"]).loc[f"{attack['day']}:user:{attack['user']}"]
    assert incident["category"] == "success_after_failures"
