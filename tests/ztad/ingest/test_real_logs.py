"""Real-shaped logs of every format load with nothing lost, and their attacks are there.

The logs are written by :mod:`tests.fixtures.real_logs`; each is one export file holding many
days, read day by day as the job reads it.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tests.fixtures.real_logs import (
    OPERATOR,
    OPERATOR_IP,
    RealLog,
    write_entra_export,
    write_okta_export,
    write_sshd_server_log,
    write_windows_nxlog,
)
from ztad.config import SourceConfig
from ztad.ingest import LoadResult, load_day, load_range

BUILDERS = {
    "sshd": (write_sshd_server_log, "auth.log"),
    "windows": (write_windows_nxlog, "security.json"),
    "okta": (write_okta_export, "okta.json"),
    "entra": (write_entra_export, "signins.json"),
}


@pytest.fixture(scope="module", params=list(BUILDERS))
def real_log(request, tmp_path_factory) -> RealLog:
    write, name = BUILDERS[request.param]
    return write(tmp_path_factory.mktemp(request.param) / name)


def source_of(log: RealLog) -> SourceConfig:
    return SourceConfig(root=str(log.path), format=log.format, options=log.options)


def days_of(log: RealLog) -> list:
    return [log.first_day + timedelta(days=n) for n in range((log.last_day - log.first_day).days + 1)]


@pytest.fixture(scope="module")
def loaded(real_log) -> tuple[RealLog, list[LoadResult], LoadResult]:
    source = source_of(real_log)
    per_day = [load_day(source, day) for day in days_of(real_log)]
    everything = load_range(source, real_log.first_day, real_log.last_day + timedelta(days=1))
    return real_log, per_day, everything


def test_every_record_is_scored_quarantined_a_duplicate_or_skipped(loaded):
    log, per_day, everything = loaded
    for result in [*per_day, everything]:
        assert result.accounted()
        assert result.quarantine.empty, result.quarantine[["source_row", "reason"]].head().values.tolist()
    assert everything.rows_read == log.records
    assert sum(result.rows_read for result in per_day) == log.records  # each record on one day only
    assert all(len(result.events) for result in per_day)


def test_the_attacks_events_are_there(loaded):
    log, _, everything = loaded
    events = everything.events
    for name, attack in log.attacks.items():
        if name in ("brute_force", "spray"):
            day = events["timestamp"].dt.date == attack["day"]
            if "workstation" in attack:
                mine = events[day & (events["device_id"] == attack["workstation"])]
            else:
                mine = events[day & (events["ip_address"] == attack["ip"])]
            failures = mine[~mine["login_success"]]
            if name == "brute_force":
                assert (failures["user_id"] == attack["user"]).sum() == attack["failures"]
                assert mine["login_success"].sum() == 1  # and then it got in
            else:
                assert sorted(failures["user_id"].unique()) == sorted(attack["victims"])
    if log.format == "windows":
        assert not set(events["user_id"]) & set(log.attacks["machine_accounts"])
        assert events["user_id"].str.endswith("$").sum() == 0


def test_sshd_scanners_key_probes_and_empty_names_are_read_as_such(tmp_path):
    log = write_sshd_server_log(tmp_path / "auth.log")
    events = load_range(source_of(log), log.first_day, log.last_day + timedelta(days=1)).events
    operator = events[events["ip_address"] == OPERATOR_IP]
    probes = operator[~operator["login_success"] & (operator["user_id"] == OPERATOR)]
    assert len(probes) and set(probes["auth_method"]) == {"publickey"}
    assert "(empty)" in set(operator["user_id"])  # the monitoring probe
    per_source = events[~events["login_success"]].groupby("ip_address").size()
    one_connection = per_source.reindex(log.attacks["one_connection_scanners"])
    assert (one_connection >= 6).all()  # six attempts each, whatever rsyslog folded
    scanners = set(log.attacks["scanners"])
    assert scanners <= set(events["ip_address"])  # every scanner leaves an attempt
    assert events.loc[events["ip_address"].isin(scanners), "login_success"].sum() == 0
    daily = events[events["ip_address"] == log.attacks["persistent_scanner"]]
    assert daily["timestamp"].dt.date.nunique() == (log.last_day - log.first_day).days + 1


def test_nxlog_times_are_the_records_utc_times(tmp_path):
    log = write_windows_nxlog(tmp_path / "security.json")
    events = load_day(source_of(log), log.first_day).events
    # Logons are written at 08:xx in the agent's zone (UTC-5 in early March): 13:xx UTC.
    logons = events[events["resource"] == "fs01.corp.example.com"]
    assert logons["timestamp"].dt.hour.isin([13, 14, 17, 18]).all()
    assert pd.api.types.is_datetime64_any_dtype(events["timestamp"])
