"""Microsoft Entra ID sign-in logs (Graph export) -> sign-in events."""

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.ztad.ingest.formats.accounting import assert_every_record_counted
from ztad.ingest import get_reader
from ztad.ingest.formats.entra import read

SAMPLE = Path(__file__).parents[3] / "data" / "sources" / "entra_signins.json"
RECORDS = 5  # sign-ins in the sample page


def load(path, **options):
    batches = list(read(str(path), options))
    events = pd.concat([b.frame for b in batches], ignore_index=True)
    quarantine = pd.concat([b.quarantine for b in batches], ignore_index=True)
    return events.set_index("source_row"), quarantine, len(batches)


@pytest.fixture(scope="module")
def sample():
    return load(SAMPLE)


def test_graph_page_maps_every_field(sample):
    events, _, _ = sample
    alice = events.loc[1]
    assert alice["timestamp"] == pd.Timestamp("2026-03-02 08:15:04", tz="UTC")
    assert alice["user_id"] == "alice@contoso.com"
    assert alice["ip_address"] == "81.2.69.160"
    assert alice["location"] == "London, United Kingdom"  # countryOrRegion "GB" spelled out
    assert (alice["latitude"], alice["longitude"]) == (51.5142, -0.0931)
    assert alice["resource_accessed"] == "Office 365 Exchange Online"
    assert alice["device_id"] == "Windows 10 / Edge 124.0.2478"  # unregistered: os / browser
    assert alice["event_id"] == "entra:66ea54eb-6301-4ee5-be62-ff5a759b0100"


def test_error_code_zero_is_success_and_others_failure(sample):
    events, _, _ = sample
    assert bool(events.loc[1, "login_success"]) is True
    bob = events.loc[2]
    assert bool(bob["login_success"]) is False  # 50126, bad password
    assert bob["location"] == "Seattle, United States"


def test_interrupted_sign_ins_are_skipped_unless_configured(sample):
    events, quarantine, _ = sample
    assert 3 not in events.index and 3 not in set(quarantine["source_row"])  # 50074, MFA prompt
    counted, _, _ = load(SAMPLE, interrupt_codes="50140")
    assert bool(counted.loc[3, "login_success"]) is False


def test_registered_device_and_resource_fallback(sample):
    events, _, _ = sample
    dave = events.loc[4]
    assert dave["device_id"] == "e3a9c1d2-7b6f-4e5d-9c8b-1a2f3e4d5c6b"
    assert dave["resource_accessed"] == "Microsoft Graph"  # empty appDisplayName
    assert pd.isna(dave["location"]) and pd.isna(dave["latitude"])


def test_sign_in_without_time_is_quarantined(sample):
    _, quarantine, _ = sample
    row = quarantine.set_index("source_row").loc[5]
    assert row["field"] == "createdDateTime"
    assert json.loads(row["raw"])["userPrincipalName"] == "erin@contoso.com"


@pytest.mark.parametrize("layout", ["array", "lines"])
def test_plain_array_and_json_lines_give_the_same_events(tmp_path, sample, layout):
    records = json.loads(SAMPLE.read_text())["value"]
    path = tmp_path / f"signins-{layout}.json"
    text = json.dumps(records) if layout == "array" else "\n".join(json.dumps(r) for r in records)
    path.write_text(text)
    events, quarantine, _ = load(path)
    pd.testing.assert_frame_equal(events, sample[0])
    assert quarantine["source_row"].tolist() == [5]


def test_truncated_export_quarantines_the_cut_record(tmp_path):
    text = SAMPLE.read_text()
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"66ea54eb-6301-4ee5-be62-ff5a759b0103"') + 60])
    events, quarantine, _ = load(path)
    assert list(events.index) == [1, 2]
    assert quarantine["source_row"].tolist() == [4]
    assert quarantine["reason"].iloc[0].startswith("malformed JSON")


def test_large_export_is_read_in_several_batches(tmp_path):
    template = json.loads(SAMPLE.read_text())["value"][1]
    records = []
    for i in range(2000):
        template["id"] = f"00000000-0000-0000-0000-{i:012d}"
        records.append(json.loads(json.dumps(template)))
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"value": records}))
    batches = list(read(str(path), {"chunk_bytes": "65536"}))
    assert len(batches) > 10
    assert max(len(b.frame) for b in batches) < 500
    assert sorted(pd.concat([b.frame["source_row"] for b in batches])) == list(range(1, 2001))


def test_the_reader_is_found_by_format_name():
    assert get_reader("entra") is read


def test_every_record_is_an_event_quarantined_or_counted_as_skipped():
    assert_every_record_counted(list(read(str(SAMPLE), {})), RECORDS)
