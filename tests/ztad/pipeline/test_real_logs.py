"""An internet-facing server's real-shaped ``auth.log`` through the whole pipeline.

The days around the brute force of :func:`tests.fixtures.real_logs.write_sshd_server_log` are
scored with the history before them: each day's background scanning is one low incident that
lists its scanners (the one-connection ones too), the brute force that got in is an incident of
its victim, apart from the scanning and at least "high", and the operator's refused keys raise
nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.real_logs import OPERATOR, SSHD_BRUTE_FORCE_DAY, write_sshd_server_log
from ztad import pipeline
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.ingest import load_day
from ztad.store import FindingsStore

pytestmark = pytest.mark.slow

#: Fast members keep this module quick; the autoencoder is trained by the DAG run tests.
FAST = DetectionConfig(detectors=("isolation_forest", "ecod"))
DAYS = (SSHD_BRUTE_FORCE_DAY - timedelta(days=1), SSHD_BRUTE_FORCE_DAY)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    log = write_sshd_server_log(tmp_path_factory.mktemp("logs") / "auth.log")
    source = SourceConfig(root=str(log.path), format=log.format, options=log.options)
    config = JobConfig(source=source, home=tmp_path_factory.mktemp("home"), detection=FAST)
    summaries = pipeline.run_range(DAYS[0], DAYS[1], config)
    with FindingsStore(config.resolved_database_url) as store:
        incidents = {day: store.incidents(day=day).set_index("incident_id") for day in DAYS}
        runs = store.runs()
    return log, source, summaries, incidents, runs


def test_every_line_of_each_day_is_counted(scored):
    _, source, summaries, _, runs = scored
    assert [s.day for s in summaries] == list(DAYS)
    for summary in summaries:
        loaded = load_day(source, summary.day)
        assert loaded.accounted() and loaded.rows_skipped > 0
        assert summary.rows_read == loaded.rows_read and summary.rows_scored == len(loaded.events)
    assert set(runs["status"]) == {"success"}


def test_each_days_background_scanning_is_one_low_incident_listing_its_scanners(scored):
    log, source, _, incidents, _ = scored
    for day in DAYS:
        scanning = incidents[day].loc[f"{day}:scanning"]
        assert (scanning["kind"], scanning["severity_level"], scanning["category"]) == (
            "scanning", "low", "background_scanning")
        events = load_day(source, day).events
        todays = set(events["ip_address"]) & set(log.attacks["one_connection_scanners"])
        assert todays and all(f"{ip} (6)" in scanning["summary"] for ip in todays)
        others = incidents[day].drop(index=f"{day}:scanning")
        assert not set(others["source_ip"].dropna()) & todays  # no incident of their own


def test_the_brute_force_that_got_in_stays_serious_and_key_probes_raise_nothing(scored):
    log, _, _, incidents, _ = scored
    day, attack = SSHD_BRUTE_FORCE_DAY, log.attacks["brute_force"]
    victim = incidents[day].loc[f"{day}:user:{attack['user']}"]
    # At least "high" on its own (a takeover pattern); the models' rarity decides "critical".
    assert victim["category"] == "success_after_failures" and victim["severity"] >= 65
    assert attack["ip"] not in incidents[day].loc[f"{day}:scanning", "summary"]
    for day in DAYS:
        assert f"{day}:user:{OPERATOR}" not in incidents[day].index
