"""Findings and quarantine frames: what the store requires, and clear errors when it is not there."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from tests.ztad.store import sample
from ztad.store import REQUIRED_FINDING_COLUMNS, InvalidRowError, MissingColumnError
from ztad.store.conversion import finding_columns, frame_from_rows, quarantine_columns
from ztad.store.tables import findings as findings_table

NOW = datetime(2024, 3, 6, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("column", REQUIRED_FINDING_COLUMNS)
def test_each_missing_required_column_is_named(column):
    frame = sample.findings(["e1"]).drop(columns=[column])
    with pytest.raises(MissingColumnError, match=f"findings frame is missing required column.*'{column}'") as raised:
        finding_columns(frame, sample.run())
    assert raised.value.columns == [column]


def test_canonical_timestamp_is_accepted_as_event_time():
    frame = sample.findings(["e1"]).rename(columns={"event_time": "timestamp"})
    values = finding_columns(frame, sample.run(), now=NOW)
    assert values["event_time"] == [datetime(2024, 3, 5, 2, 0, tzinfo=timezone.utc)]


def test_defaults_come_from_the_run():
    frame = sample.findings(["e1", "e2"]).drop(columns=["finding_id", "day", "run_id", "model_version", "status"])
    values = finding_columns(frame, sample.run("run-z", model_version="m-9"), now=NOW)
    assert values["finding_id"] == ["2024-03-05:e1", "2024-03-05:e2"]
    assert values["run_id"] == ["run-z"] * 2 and values["model_version"] == ["m-9"] * 2
    assert values["status"] == ["new"] * 2 and values["created_at"] == [NOW] * 2
    assert values["severity"] == [None, None]


def test_numpy_and_missing_values_become_plain_python():
    frame = sample.findings(["e1", "e2"])
    frame["bytes_transferred"] = pd.array([5, None], dtype="Int64")
    frame["device_id"] = pd.array([None, "d"], dtype="string")
    values = finding_columns(frame, sample.run(), now=NOW)
    assert values["bytes_transferred"] == [5, None] and type(values["bytes_transferred"][0]) is int
    assert values["device_id"] == [None, "d"]
    assert type(values["score"][0]) is float and type(values["login_success"][0]) is bool


@pytest.mark.parametrize(
    ("change", "row", "field"),
    [
        (lambda f: f.drop(columns="finding_id").assign(event_id=["e1", "e2", "e1"]), 2, "event_id"),
        (lambda f: f.assign(user_id=pd.array(["u", None, "u"], dtype="string")), 1, "user_id"),
        (lambda f: f.assign(event_time=["2024-03-05T01:00:00Z", "yesterday", "2024-03-05T02:00:00Z"]), 1, "event_time"),
        (lambda f: f.assign(day=[sample.DAY, sample.DAY, sample.NEXT_DAY]), 2, "day"),
        (lambda f: f.assign(finding_id=["2024-03-05:e0", "x", "2024-03-05:e2"]), 1, "finding_id"),
        (lambda f: f.assign(bytes_transferred=["1", "2", "lots"]), 2, "bytes_transferred"),
    ],
    ids=["duplicate-event", "empty-user", "bad-time", "other-day", "bad-finding-id", "bad-bytes"],
)
def test_a_bad_row_is_named_with_field_and_reason(change, row, field):
    frame = change(sample.findings(["e0", "e1", "e2"]))
    with pytest.raises(InvalidRowError, match=f"findings row {row}, field '{field}'") as raised:
        finding_columns(frame, sample.run(), now=NOW)
    assert (raised.value.row, raised.value.field) == (row, field)


def test_quarantine_takes_day_and_run_from_the_run_and_keeps_raw_text():
    frame = sample.quarantine(2)
    frame.loc[1, "raw"] = None
    values = quarantine_columns(frame.astype({"raw": object}), sample.run("run-q"))
    assert values["day"] == [sample.DAY] * 2 and values["run_id"] == ["run-q"] * 2
    assert values["raw"] == ['{"ip_address": "999.1.1.0"}', None]
    assert values["source_row"] == [2, 3]


def test_structured_raw_rows_are_stored_as_json_text():
    frame = sample.quarantine(1).assign(raw=[{"user_id": "", "line": 3}])
    assert quarantine_columns(frame, sample.run())["raw"] == ['{"user_id": "", "line": 3}']


def test_nothing_to_write_is_fine():
    assert quarantine_columns(None, sample.run())["day"] == []
    assert finding_columns(pd.DataFrame(), sample.run())["finding_id"] == []


def test_frames_read_back_have_fixed_dtypes_even_when_empty():
    empty = frame_from_rows(findings_table, [])
    assert list(empty.columns) == [c.name for c in findings_table.columns]
    assert empty["event_time"].dtype == "datetime64[us, UTC]"
    assert empty["bytes_transferred"].dtype == "Int64"
    assert empty["login_success"].dtype == "boolean"
    assert empty["user_id"].dtype == "string"
    assert empty["score"].dtype == np.float64
