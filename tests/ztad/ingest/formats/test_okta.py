"""Okta System Log (API JSON array or JSON lines) -> sign-in events."""

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.ztad.ingest.formats.accounting import assert_every_record_counted
from ztad.ingest import get_reader
from ztad.ingest.formats.okta import read

SAMPLE = Path(__file__).parents[3] / "data" / "sources" / "okta_system_log.json"
RECORDS = 9  # events in the sample array


def load(path, **options):
    batches = list(read(str(path), options))
    events = pd.concat([b.frame for b in batches], ignore_index=True)
    quarantine = pd.concat([b.quarantine for b in batches], ignore_index=True)
    return events.set_index("source_row"), quarantine, len(batches)


@pytest.fixture(scope="module")
def sample():
    return load(SAMPLE)


def test_session_start_maps_every_field(sample):
    events, _, _ = sample
    alice = events.loc[1]
    assert alice["timestamp"] == pd.Timestamp("2026-03-02 08:15:04.128", tz="UTC")
    assert alice["user_id"] == "alice@example.com"  # "Alice@example.com", case folded
    assert alice["ip_address"] == "81.2.69.160"
    assert alice["location"] == "London, United Kingdom"
    assert (alice["latitude"], alice["longitude"]) == (51.5142, -0.0931)  # Okta's own coordinates
    assert (alice["asn"], alice["as_org"]) == (20712, "andrews & arnold ltd")
    assert alice["device_id"].startswith("9f3c1e0b")  # device token hash
    assert alice["resource_accessed"] == "okta"
    assert alice["event_id"] == "okta:b7a6f3c2-1d4e-11f0-9a1b-3f5c7e9d2a10"


def test_single_sign_on_names_the_application(sample):
    events, _, _ = sample
    assert events.loc[2, "resource_accessed"] == "Salesforce.com"
    assert events.loc[2, "device_id"] == "Mac OS X / CHROME"  # no device id: the user agent


def test_success_failure_and_undecided_outcomes(sample):
    events, quarantine, _ = sample
    assert bool(events.loc[1, "login_success"]) is True
    assert bool(events.loc[3, "login_success"]) is False  # FAILURE, INVALID_CREDENTIALS
    assert bool(events.loc[4, "login_success"]) is True  # policy.evaluate_sign_on ALLOW
    assert events.loc[4, "device_id"] == "guo1a2b3c4d5e6f7g8h9"  # registered device
    assert bool(events.loc[8, "login_success"]) is False  # user.authentication.verify FAILURE
    # CHALLENGE (row 5) is undecided; user.account.lock (row 7) is not a sign-in.
    assert not {5, 7} & set(events.index) and not {5, 7} & set(quarantine["source_row"])


def test_missing_geography_leaves_the_place_empty(sample):
    events, _, _ = sample
    bob = events.loc[3]
    assert pd.isna(bob["location"]) and pd.isna(bob["latitude"])


def test_malformed_records_are_quarantined_with_record_numbers(sample):
    _, quarantine, _ = sample
    by_row = quarantine.set_index("source_row")
    assert list(by_row.index) == [6, 9]
    assert "$.client" in by_row.loc[6, "reason"]
    assert by_row.loc[9, "field"] == "published"
    assert json.loads(by_row.loc[9, "raw"])["published"] == "last tuesday"


def test_json_lines_give_the_same_events(tmp_path, sample):
    path = tmp_path / "okta.jsonl"
    path.write_text("\n".join(json.dumps(event) for event in json.loads(SAMPLE.read_text())) + "\n")
    events, quarantine, _ = load(path)
    pd.testing.assert_frame_equal(events, sample[0])
    assert quarantine["source_row"].tolist() == [6, 9]


def test_event_types_option_replaces_the_default(sample):
    events, _, _ = load(SAMPLE, event_types="user.session.*")
    assert list(events.index) == [1, 3]


def test_large_array_is_read_in_several_batches(tmp_path):
    template = json.loads(SAMPLE.read_text())[0]
    events = []
    for i in range(2000):
        template["uuid"] = f"00000000-0000-0000-0000-{i:012d}"
        template["outcome"]["result"] = "SUCCESS" if i % 3 else "FAILURE"
        events.append(json.loads(json.dumps(template)))
    path = tmp_path / "big.json"
    path.write_text(json.dumps(events, indent=2))
    batches = list(read(str(path), {"chunk_bytes": "65536"}))
    assert len(batches) > 10
    assert max(len(b.frame) for b in batches) < 500
    frame = pd.concat([b.frame for b in batches])
    assert sorted(frame["source_row"]) == list(range(1, 2001))
    assert (~frame["login_success"]).sum() == 667


def test_the_reader_is_found_by_format_name():
    assert get_reader("okta") is read


def test_every_record_is_an_event_quarantined_or_counted_as_skipped():
    assert_every_record_counted(list(read(str(SAMPLE), {})), RECORDS)
