"""``POST /predict``: the nightly scoring path, answered at once."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.served import SERVED_DAYS
from tests.ztad.service.conftest import READ_HEADERS, client_of
from ztad.pipeline.workfiles import day_dir, read_parquet
from ztad.service.state import LatestRun
from ztad.store import FindingsStore

#: Canonical columns a client sends (labels are never model inputs).
SENT = (
    "event_id",
    "timestamp",
    "user_id",
    "device_id",
    "ip_address",
    "location",
    "latitude",
    "longitude",
    "asn",
    "as_org",
    "department",
    "login_success",
    "auth_method",
    "resource",
    "bytes_transferred",
)


def as_requests(events: pd.DataFrame) -> list[dict]:
    """Canonical events as JSON objects a client would post."""
    out = []
    for row in events[list(SENT)].astype(object).to_dict("records"):
        event = {}
        for key, value in row.items():
            if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                continue
            if isinstance(value, pd.Timestamp):
                value = value.isoformat()
            event[key] = value.item() if isinstance(value, np.generic) else value
        out.append(event)
    return out


@pytest.fixture(scope="module")
def replayed(served_sqlite):
    """The last served day's events posted to an app pinned to the state that day was judged in."""
    config = served_sqlite.config
    day = SERVED_DAYS[-1]
    runs = FindingsStore(config.resolved_database_url).runs(day)
    pinned = LatestRun(day, runs["model_version"].iloc[-1])
    events = read_parquet(day_dir(config, day) / "events.parquet")
    with client_of(config, pinned=pinned) as client:
        response = client.post(
            "/predict",
            params={"explain": "exact"},
            json={"events": as_requests(events)},
            headers=READ_HEADERS,
        )
        fast = client.post("/predict", json={"events": as_requests(events)}, headers=READ_HEADERS)
    assert response.status_code == 200, response.text
    assert fast.status_code == 200, fast.text
    return config, day, events, response.json(), fast.json()


def test_predict_gives_the_nightly_score_and_decision_of_every_event(replayed):
    config, day, events, body, _ = replayed
    nightly = read_parquet(day_dir(config, day) / "scored.parquet")
    predictions = pd.DataFrame(body["predictions"])
    assert list(predictions["event_id"]) == list(events["event_id"].astype(str))
    np.testing.assert_allclose(predictions["score"], nightly["score"], rtol=0, atol=1e-9)
    assert (predictions["decision"] == "alert").tolist() == nightly["flagged"].tolist()
    assert nightly["flagged"].sum() > 0


def test_predict_gives_the_nightly_reasons_top_features_and_severity(replayed):
    config, day, _, body, _ = replayed
    findings = FindingsStore(config.resolved_database_url).findings(day).set_index("event_id")
    alerts = {p["event_id"]: p for p in body["predictions"] if p["decision"] == "alert"}
    assert set(alerts) == set(findings.index)
    for event_id, prediction in alerts.items():
        finding = findings.loc[event_id]
        assert prediction["reasons"] == finding["reasons"]
        assert prediction["top_features"] == finding["top_features"]
        assert prediction["severity"] == finding["severity"]
        assert prediction["category"] == finding["category"]
        assert prediction["model_version"] == finding["model_version"]


def test_predict_says_which_attribution_method_its_top_features_rest_on(replayed):
    config, day, _, exact, fast = replayed
    findings = FindingsStore(config.resolved_database_url).findings(day).set_index("event_id")
    nightly = {i: a["isolation_forest"]["method"] for i, a in findings["attributions"].items()}
    exact_methods = {
        p["event_id"]: p["attribution_method"] for p in exact["predictions"] if p["decision"] == "alert"
    }
    assert exact_methods == nightly
    assert "tree_shap" in nightly.values()
    alerts = [p for p in fast["predictions"] if p["decision"] == "alert"]
    assert {p["attribution_method"] for p in alerts} == {"tree_path"}
    assert all(p["attribution_method"] is None for p in fast["predictions"] if p["decision"] != "alert")
    # Only the attribution differs: the same scores, decisions, reasons and severities.
    for path, shap in zip(fast["predictions"], exact["predictions"]):
        for key in ("score", "decision", "reasons", "severity", "category"):
            assert path[key] == shap[key]


def test_an_unknown_user_takes_the_cold_start_path(served_sqlite):
    event = {
        "timestamp": "2026-03-18T10:00:00Z",
        "user_id": "someone-new",
        "ip_address": "198.51.100.7",
        "login_success": True,
        "location": "Madrid, Spain",
        "resource_accessed": "wiki",
    }
    known = dict(
        event,
        user_id=str(
            read_parquet(day_dir(served_sqlite.config, SERVED_DAYS[0]) / "events.parquet")["user_id"].iloc[0]
        ),
    )
    with client_of(served_sqlite.config) as client:
        body = client.post("/predict", json={"events": [event, known]}, headers=READ_HEADERS).json()
    new, old = body["predictions"]
    assert new["cold_start"] is True and new["maturity"] == 0.0
    assert old["cold_start"] is False
    assert body["baseline_day"] == (SERVED_DAYS[-1] + pd.Timedelta(days=1)).isoformat()


def test_reply_times_are_written_as_isoformat_writes_them():
    from ztad.service.predict import iso_times

    times = pd.Series(
        pd.to_datetime(
            [
                "2026-03-18T09:15:00Z",
                "2026-03-18T23:59:59.000001Z",
                "1969-12-31T23:59:59.5Z",
                "0001-01-01T00:00:00Z",
            ],
            utc=True,
            format="ISO8601",
        )
    ).astype("datetime64[us, UTC]")
    assert iso_times(times) == [t.isoformat() for t in times]



def test_the_reply_is_written_as_pydantic_writes_it():
    import pydantic_core

    from ztad.service.predict import predictions_json

    document = {
        "threshold": 2.5,
        "predictions": [
            {"score": float("nan"), "maturity": float("inf"), "share": -float("inf"), "tiny": 1e-7},
            {"text": 'São Paulo \u2028 \x00 "quoted" <b>', "reasons": (), "value": 2**53 - 1, "flag": True},
            {"severity": None, "sum": 0.1 + 0.2, "nested": {"top_features": [{"value": -0.0}]}},
        ],
    }
    assert predictions_json(document) == pydantic_core.to_json(document, inf_nan_mode="null")


def test_a_prediction_row_is_written_as_the_object_of_its_fields():
    import msgspec

    from ztad.service.predict import PREDICTION_FIELDS, PredictionRow, Predictions, predictions_json

    values = ("e1", "u1", "2026-03-18T09:15:00+00:00", 0.1 + 0.2, 0.25, "alert", 80, "high", "travel",
              [{"code": "x", "text": "y"}], (), ("ensemble",), "tree_path", False, float("nan"), "m-1")
    document = {"model_version": "m-1", "baseline_day": "2026-03-18", "threshold": 0.25,
                "predictions": [PredictionRow(*values)]}
    as_dicts = dict(document, predictions=[dict(zip(PREDICTION_FIELDS, values, strict=True))])
    assert predictions_json(document) == predictions_json(as_dicts)
    assert Predictions.model_validate(msgspec.to_builtins(document)).predictions[0].detectors == ["ensemble"]

#: Events as clients post them: offsets, naive and epoch times, sub-microsecond digits, IPv6,
#: placeholders, both names of the resource, flags in every accepted form.
POSTED = [
    {"timestamp": "2026-03-18T09:15:00.1234567+05:30", "user_id": " u1 ", "ip_address": "::FFFF:1.2.3.4",
     "login_success": "TRUE", "resource": " git ", "asn": 15169, "as_org": " Example ", "latitude": 1.5},
    {"timestamp": "2026-03-18T09:15:00", "user_id": "u2", "ip_address": "-", "login_success": 0,
     "resource_accessed": "wiki", "resource": "git", "bytes_transferred": 2**53 - 1},
    {"timestamp": 1773825300, "user_id": "u3", "login_success": False, "device_id": "  ", "event_id": "e1"},
    {"timestamp": "2026-03-18T09:15:00-08:00", "user_id": "u4", "ip_address": None, "login_success": "1",
     "location": "Madrid, Spain", "longitude": -3.7, "auth_method": "password", "department": "HR"},
]


def _as_log_text(events) -> pd.DataFrame:
    """The events as a log reader would hand them to validation: their JSON text."""
    frame = pd.DataFrame([e.model_dump(mode="json", exclude_none=True) for e in events])
    given = frame.pop("resource")
    frame["resource_accessed"] = frame["resource_accessed"].fillna(given)
    return frame


@pytest.mark.parametrize("picked", [slice(None), slice(0, 1), slice(2, 3), slice(1, 4)])
def test_a_request_gives_the_canonical_events_its_json_text_gives(picked):
    from ztad.ingest.validation import validate
    from ztad.service.predict import Event, events_frame

    events = [Event.model_validate(e) for e in POSTED]
    expected, quarantine = validate(_as_log_text(events).iloc[picked].reset_index(drop=True), "request")
    assert quarantine.empty
    pd.testing.assert_frame_equal(events_frame(events[picked]), expected)


def test_many_events_give_the_canonical_events_their_json_text_gives():
    """Beyond a few events, text is stripped and ids are written by Arrow and NumPy instead."""
    from ztad.ingest.validation import FEW_ROWS, validate
    from ztad.service.predict import Event, events_frame

    posted = [dict(e, event_id=f" {i} " if i % 3 else "  ") for i, e in enumerate(POSTED * FEW_ROWS)]
    events = [Event.model_validate(e) for e in posted]
    expected, quarantine = validate(_as_log_text(events), "request")
    assert quarantine.empty and len(expected) > FEW_ROWS
    pd.testing.assert_frame_equal(events_frame(events), expected)


def test_fields_no_event_of_many_gives_are_missing_as_validation_leaves_them():
    from ztad.ingest.validation import FEW_ROWS, validate
    from ztad.service.predict import Event, events_frame

    posted = [{k: v for k, v in e.items() if k != "event_id"} for e in POSTED[1:3] * FEW_ROWS]
    events = [Event.model_validate(e) for e in posted]
    assert all(e.as_org is None and e.asn is None and e.latitude is None and e.event_id is None for e in events)
    expected, quarantine = validate(_as_log_text(events), "request")
    assert quarantine.empty and len(expected) > FEW_ROWS
    pd.testing.assert_frame_equal(events_frame(events), expected)


def test_a_time_beyond_year_9999_in_utc_is_refused_with_its_position():
    from ztad.service.predict import BadEventError, Event, events_frame

    late = dict(POSTED[2], timestamp="9999-12-31T23:30:00-01:00")
    with pytest.raises(BadEventError) as refused:
        events_frame([Event.model_validate(e) for e in (POSTED[0], late)])
    assert (refused.value.index, refused.value.field) == (1, "timestamp")
    assert refused.value.reason.startswith("timestamp out of range")


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "255.255.255.255", "010.0.0.1", "256.1.1.1", "1.2.3", "1.2.3.4\n", " 1.2.3.4", "\u0663.1.2.3",
     "::FFFF:1.2.3.4", "2001:DB8::1", "-", None, "x", 167772161],
)
def test_an_event_s_address_reads_as_an_ip_address_field_reads_it(address):
    from typing import Literal

    from pydantic import IPvAnyAddress, TypeAdapter, ValidationError

    from ztad.service.predict import Event

    def read(validate):
        try:
            value = validate()
        except ValidationError as error:
            return [(e["type"], e["msg"]) for e in error.errors()]
        return value if value is None else str(value)

    plain = TypeAdapter(IPvAnyAddress | Literal["-"] | None)
    event = {"timestamp": "2026-03-18T09:15:00Z", "user_id": "u1", "login_success": True, "ip_address": address}
    assert read(lambda: Event.model_validate(event).ip_address) == read(lambda: plain.validate_python(address))
