"""The API on findings of a real nightly run, on SQLite and on PostgreSQL."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.fixtures.served import API_TOKEN, READ_TOKEN, SERVED_DAYS
from tests.ztad.service.conftest import READ_HEADERS, TRIAGE_HEADERS, client_of
from ztad.service.auth import MissingTokenError, ServiceSettings
from ztad.store import FindingsStore

LAST_DAY = SERVED_DAYS[-1].isoformat()
READ_ROUTES = ("/findings", "/incidents", "/health", "/metrics")


def _store(served) -> FindingsStore:
    return FindingsStore(served.config.resolved_database_url)


@pytest.mark.parametrize("route", READ_ROUTES)
def test_no_token_or_a_wrong_one_is_refused(client, route):
    assert client.get(route).status_code == 401
    assert client.get(route, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(route, headers={"Authorization": f"Basic {API_TOKEN}"}).status_code == 401
    assert client.get(route, headers=READ_HEADERS).status_code == 200


def test_a_read_only_token_cannot_triage(client, served):
    incident_id = _store(served).incidents(SERVED_DAYS[-1])["incident_id"].iloc[0]
    response = client.patch(f"/incidents/{incident_id}", json={"assignee": "eve"}, headers=READ_HEADERS)
    assert response.status_code == 403
    assert pd.isna(
        _store(served).incidents(SERVED_DAYS[-1]).set_index("incident_id").loc[incident_id, "assignee"]
    )


def test_the_service_refuses_to_start_without_a_token(served):
    from ztad.service.api import create_app

    with pytest.raises(MissingTokenError, match="ZTAD_API_TOKEN"):
        create_app(served.config, ServiceSettings())


def test_incidents_are_those_of_the_run_most_severe_first(client, served):
    stored = _store(served).incidents()
    body = client.get("/incidents", params={"limit": 500}, headers=READ_HEADERS).json()
    assert body["total"] == len(stored) > 0
    assert {i["incident_id"] for i in body["items"]} == set(stored["incident_id"])
    severities = [i["severity"] for i in body["items"]]
    assert severities == sorted(severities, reverse=True)


def test_incidents_filter_by_day_severity_and_user_and_page(client, served):
    stored = _store(served).incidents()
    day = stored[stored["day"].astype(str) == LAST_DAY]
    page = client.get("/incidents", params={"day": LAST_DAY, "limit": 2}, headers=READ_HEADERS).json()
    assert page["total"] == len(day) and len(page["items"]) == min(2, len(day))
    second = client.get(
        "/incidents", params={"day": LAST_DAY, "limit": 2, "offset": 2}, headers=READ_HEADERS
    ).json()
    assert not {i["incident_id"] for i in page["items"]} & {i["incident_id"] for i in second["items"]}
    level = stored["severity_level"].iloc[0]
    by_level = client.get("/incidents", params={"severity": level, "limit": 500}, headers=READ_HEADERS).json()
    assert by_level["total"] == int((stored["severity_level"] == level).sum())
    user = stored.dropna(subset=["user_id"])["user_id"].iloc[0]
    mine = client.get("/incidents", params={"user": user}, headers=READ_HEADERS).json()["items"]
    assert mine and all(user == i["user_id"] or user in i["users"] for i in mine)


def test_findings_filter_by_user_and_status(client, served):
    stored = _store(served).findings()
    user = stored["user_id"].iloc[0]
    body = client.get("/findings", params={"user": user, "limit": 500}, headers=READ_HEADERS).json()
    assert body["total"] == int((stored["user_id"] == user).sum())
    assert all(f["user_id"] == user and f["reasons"] for f in body["items"])
    confirmed = client.get("/findings", params={"status": "resolved"}, headers=READ_HEADERS).json()
    assert confirmed["total"] == int((stored["status"] == "resolved").sum())


def test_bad_filters_are_422_naming_the_parameter(client):
    response = client.get("/incidents", params={"severity": "huge"}, headers=READ_HEADERS)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "severity"]
    response = client.get("/findings", params={"limit": 0}, headers=READ_HEADERS)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "limit"]


def test_one_incident_comes_with_its_findings_and_reasons(client, served):
    incident_id = _store(served).incidents()["incident_id"].iloc[0]
    body = client.get(f"/incidents/{incident_id}", headers=READ_HEADERS).json()
    assert body["incident_id"] == incident_id
    assert body["findings"] and all(
        f["incident_id"] == incident_id and f["reasons"] for f in body["findings"]
    )
    assert body["finding_count"] == len(body["findings"])
    missing = client.get("/incidents/2026-01-01:user:nobody", headers=READ_HEADERS)
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


def test_triage_by_patch_follows_the_rules_of_ztad_triage(client, served):
    incidents = _store(served).incidents(SERVED_DAYS[-1])
    incident_id = incidents["incident_id"].iloc[-1]
    body = {"status": "investigating", "assignee": "ana", "note": "calling the user"}
    response = client.patch(f"/incidents/{incident_id}", json=body, headers=TRIAGE_HEADERS)
    assert response.status_code == 200, response.text
    client.patch(f"/incidents/{incident_id}", json={"note": "no answer"}, headers=TRIAGE_HEADERS)
    engine = sa.create_engine(served.config.resolved_database_url)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT status, assignee, notes FROM incidents WHERE incident_id = :i"),
            {"i": incident_id},
        ).one()
        findings = (
            connection.execute(
                sa.text("SELECT DISTINCT status FROM findings WHERE incident_id = :i"), {"i": incident_id}
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert row.status == "investigating" and row.assignee == "ana"
    assert row.notes.splitlines()[0].endswith("calling the user") and row.notes.endswith("no answer")
    assert findings == ["investigating"]  # the findings follow their incident


def test_bad_triage_is_422_and_an_unknown_id_404(client):
    bad = client.patch("/incidents/x", json={"status": "done"}, headers=TRIAGE_HEADERS)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "status"]
    empty = client.patch("/findings/x", json={}, headers=TRIAGE_HEADERS)
    assert empty.status_code in (404, 422)
    unknown = client.patch("/findings/2026-01-01:nothing", json={"note": "x"}, headers=TRIAGE_HEADERS)
    assert unknown.status_code == 404 and "ztad triage list" in unknown.json()["detail"]


def test_health_names_the_model_and_the_last_run(client, served):
    body = client.get("/health", headers=READ_HEADERS).json()
    last = served.summaries[-1]
    assert body["status"] == "ok" and body["database"] is True
    assert body["model_version"] == last.model_version
    assert body["last_run"]["day"] == LAST_DAY and body["last_run"]["status"] == "success"


def test_metrics_count_requests_and_give_the_age_of_the_last_run(client):
    client.get("/findings", headers=READ_HEADERS)
    text = client.get("/metrics", headers=READ_HEADERS).text
    assert 'ztad_api_requests_total{method="GET",route="/findings",status="200"}' in text
    assert "ztad_api_request_seconds_bucket" in text
    age = [line for line in text.splitlines() if line.startswith("ztad_last_run_age_seconds ")]
    assert age and float(age[0].split()[1]) >= 0


def test_metrics_count_refused_and_unmatched_requests_too(client):
    client.get("/findings")
    client.get("/no-such-route", headers=READ_HEADERS)
    text = client.get("/metrics", headers=READ_HEADERS).text
    assert 'ztad_api_requests_total{method="GET",route="/findings",status="401"}' in text
    assert 'ztad_api_requests_total{method="GET",route="unmatched",status="404"}' in text


def test_predict_refuses_a_bad_event_naming_its_field(client):
    event = {
        "timestamp": "2026-03-18T10:00:00Z",
        "user_id": "u1",
        "ip_address": "999.1.1.1",
        "login_success": 1,
    }
    response = client.post(
        "/predict", json={"events": [dict(event, ip_address="10.0.0.1"), event]}, headers=READ_HEADERS
    )
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "events", 1, "ip_address"] and "IP" in detail["msg"]
    missing = client.post("/predict", json={"events": [{"user_id": "u1"}]}, headers=READ_HEADERS)
    assert missing.status_code == 422
    assert {tuple(d["loc"]) for d in missing.json()["detail"]} == {
        ("body", "events", 0, "timestamp"), ("body", "events", 0, "login_success")
    }
    one = client.post("/predict", json=event, headers=READ_HEADERS)
    assert one.status_code == 422 and [d["loc"] for d in one.json()["detail"]] == [["body", "ip_address"]]


def test_one_event_gets_one_prediction(client, served):
    event = {
        "timestamp": "2026-03-18T03:00:00Z",
        "user_id": "u0001",
        "ip_address": "203.0.113.9",
        "login_success": False,
        "location": "Lagos, Nigeria",
    }
    body = client.post("/predict", json=event, headers=READ_HEADERS).json()
    (prediction,) = body["predictions"]
    assert prediction["decision"] in ("alert", "normal", "suppressed")
    assert prediction["model_version"] == served.summaries[-1].model_version
    assert prediction["threshold"] == body["threshold"]


def test_a_few_events_are_scored_on_the_event_loop_and_more_in_a_worker_thread(client, monkeypatch):
    import threading

    from ztad.service import api

    event = {"timestamp": "2026-03-18T09:00:00Z", "user_id": "u0001", "login_success": True}
    threads, answer = [], api._answer

    def answered_on(*args):
        threads.append(threading.current_thread().name)
        return answer(*args)

    monkeypatch.setattr(api, "_answer", answered_on)
    assert client.post("/predict", json=event, headers=READ_HEADERS).status_code == 200  # the state loaded
    assert client.post("/predict", json=event, headers=READ_HEADERS).status_code == 200
    few = {"events": [event] * api.INLINE_EVENTS}
    many = {"events": [event] * (api.INLINE_EVENTS + 1)}
    assert client.post("/predict", json=few, headers=READ_HEADERS).status_code == 200
    assert client.post("/predict", json=many, headers=READ_HEADERS).status_code == 200
    workers = ["AnyIO worker thread" in name for name in threads[1:]]
    assert workers == [False, False, True]


def test_tokens_are_never_logged(served, caplog):
    caplog.set_level(logging.DEBUG)
    with client_of(served.config) as client:
        client.get("/incidents", headers=READ_HEADERS)
        client.get("/incidents", headers={"Authorization": "Bearer wrong-token-value"})
        client.patch("/incidents/x", json={"note": "n"}, headers=TRIAGE_HEADERS)
    assert caplog.records
    assert not any(t in caplog.text for t in (API_TOKEN, READ_TOKEN, "wrong-token-value"))
    assert API_TOKEN not in repr(ServiceSettings(API_TOKEN, READ_TOKEN))
