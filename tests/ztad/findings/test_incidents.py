"""Grouping a day's findings into incidents."""

from datetime import date

import pandas as pd
import pytest

from ztad.findings.incidents import IncidentInputError, build_incidents, incident_ids, source_addresses

DAY = date(2026, 3, 20)
SPRAYER = "203.0.113.7"


def _finding(user, ip, minute, codes, severity=50, success=False, location="Lagos, Nigeria"):
    return {
        "day": DAY,
        "user_id": user,
        "ip_address": ip,
        "event_time": pd.Timestamp("2026-03-20T02:00:00Z") + pd.Timedelta(minutes=minute),
        "reasons": [{"code": code, "text": f"{code} 3"} for code in codes],
        "severity": severity,
        "category": codes[0],
        "login_success": success,
        "location": location,
    }


def _findings():
    spray = [_finding(f"u{i:02d}", SPRAYER, i, ["password_spray", "new_city"], 55) for i in range(30)]
    spray.append(_finding("u07", SPRAYER, 31, ["password_spray"], 90, success=True))
    brute = [_finding("bob", "198.51.100.9", 60 + i, ["brute_force"], 45) for i in range(12)]
    brute.append(_finding("bob", "198.51.100.9", 75, ["success_after_failures"], 88, success=True))
    takeover = [
        _finding("carol", "192.0.2.10", 120, ["impossible_travel", "new_ip"], 92, success=True),
        _finding("carol", "192.0.2.11", 150, ["large_transfer"], 70, success=True, location="Madrid, Spain"),
    ]
    return pd.DataFrame(spray + brute + takeover)


def test_a_spray_is_one_source_incident_and_each_users_day_is_one_incident():
    findings = _findings()
    findings["incident_id"] = incident_ids(findings, DAY)
    incidents = build_incidents(findings, DAY, run_id="run-1")

    assert len(findings) == 46 and len(incidents) == 3
    by_id = incidents.set_index("incident_id")
    spray = by_id.loc[f"{DAY}:source:{SPRAYER}"]
    assert spray["kind"] == "source" and spray["source_ip"] == SPRAYER
    assert spray["finding_count"] == 31 and spray["user_count"] == 30
    assert spray["category"] == "password_spray"
    assert pd.isna(spray["user_id"]) and "u07" in spray["users"]
    assert "30 users: 30 failed and 1 successful logins 02:00-02:31 UTC; 1 success(es): u07" in spray["summary"]
    bob = by_id.loc[f"{DAY}:user:bob"]
    assert bob["kind"] == "user" and bob["finding_count"] == 13 and pd.isna(bob["source_ip"])
    carol = by_id.loc[f"{DAY}:user:carol"]
    assert carol["first_time"] == pd.Timestamp("2026-03-20T04:00:00Z")
    assert carol["last_time"] == pd.Timestamp("2026-03-20T04:30:00Z")
    assert carol["categories"] == {"impossible_travel": 1, "large_transfer": 1, "new_ip": 1}
    assert "from Lagos, Nigeria, Madrid, Spain" in carol["summary"]


def test_incident_severity_is_at_least_its_worst_finding_and_most_severe_come_first():
    findings = _findings()
    findings["incident_id"] = incident_ids(findings, DAY)
    incidents = build_incidents(findings, DAY)
    worst = findings.groupby("incident_id")["severity"].max()
    assert (incidents.set_index("incident_id")["severity"] >= worst).all()
    assert incidents["severity"].is_monotonic_decreasing
    assert set(incidents["severity_level"]) <= {"low", "medium", "high", "critical"}
    assert set(incidents["status"]) == {"new"}


def test_failures_from_one_address_against_several_users_make_it_a_source():
    findings = pd.DataFrame(
        [_finding("ann", "198.51.100.1", 0, ["brute_force"]), _finding("ben", "198.51.100.1", 5, ["failures"]),
         _finding("ann", "198.51.100.2", 9, ["brute_force"])]
    )
    assert source_addresses(findings) == {"198.51.100.1"}
    assert incident_ids(findings, DAY).tolist() == [
        f"{DAY}:source:198.51.100.1", f"{DAY}:source:198.51.100.1", f"{DAY}:user:ann"
    ]


def test_a_source_whose_findings_touch_one_user_belongs_to_that_users_incident():
    sprayed_once = _finding("dave", SPRAYER, 0, ["password_spray"], 60)
    findings = pd.DataFrame([sprayed_once, _finding("dave", "192.0.2.10", 30, ["new_ip"], 30)])
    assert source_addresses(findings) == set()
    findings["incident_id"] = incident_ids(findings, DAY)
    assert findings["incident_id"].tolist() == [f"{DAY}:user:dave"] * 2
    dave = build_incidents(findings, DAY).set_index("incident_id").loc[f"{DAY}:user:dave"]
    assert (dave["kind"], dave["user_id"], dave["finding_count"]) == ("user", "dave", 2)
    assert dave["categories"] == {"new_ip": 1, "password_spray": 1} and pd.isna(dave["source_ip"])


def test_ids_depend_on_day_and_entity_only():
    findings = _findings()
    shuffled = findings.sample(frac=1.0, random_state=3)
    assert sorted(incident_ids(findings, DAY)) == sorted(incident_ids(shuffled, DAY))


def test_no_findings_no_incidents():
    empty = _findings().iloc[:0].assign(incident_id=pd.Series(dtype="string"))
    assert build_incidents(empty, DAY).empty


def test_missing_columns_are_named():
    with pytest.raises(IncidentInputError, match="severity"):
        incident_ids(_findings().drop(columns=["severity"]), DAY)
    with pytest.raises(IncidentInputError, match="incident_id"):
        build_incidents(_findings(), DAY)


def test_a_workstation_without_addresses_is_a_source_but_not_an_ip():
    findings = pd.DataFrame(
        [dict(_finding(f"u{i:02d}", None, i, ["password_spray"]), device_id="WS666") for i in range(12)]
        + [dict(_finding("carol", None, 40, ["new_device"]), device_id="carol-laptop")]
    )
    findings["incident_id"] = incident_ids(findings, DAY)
    incidents = build_incidents(findings, DAY).set_index("incident_id")
    spray = incidents.loc[f"{DAY}:source:workstation WS666"]
    assert spray["kind"] == "source" and spray["user_count"] == 12 and pd.isna(spray["source_ip"])
    assert spray["summary"].startswith("workstation WS666 against 12 users")
    assert incidents.loc[f"{DAY}:user:carol", "finding_count"] == 1


def _scan(user, ip, minute):
    finding = _finding(user, ip, minute, ["failures"], 45, location=None)
    return {**finding, "detectors": ["rule:background_scanning"]}


def test_background_scanning_is_one_low_incident_listing_the_sources():
    scans = [_scan("root", "45.33.12.7", m) for m in range(6)] + [_scan("(empty)", "61.177.172.1", 9)]
    scans += [_scan("admin", "185.2.3.4", 20 + m) for m in range(2)]
    brute = [{**_finding("bob", "198.51.100.9", 60 + i, ["brute_force"], 60), "detectors": ["rule:brute_force"]}
             for i in range(10)]
    findings = pd.DataFrame(scans + brute)
    findings["incident_id"] = incident_ids(findings, DAY)
    incidents = build_incidents(findings, DAY).set_index("incident_id")
    assert sorted(incidents.index) == [f"{DAY}:scanning", f"{DAY}:user:bob"]
    scanning = incidents.loc[f"{DAY}:scanning"]
    assert scanning["kind"] == "scanning" and scanning["category"] == "background_scanning"
    assert scanning["severity_level"] == "low" and scanning["severity"] <= 39
    assert pd.isna(scanning["source_ip"]) and pd.isna(scanning["user_id"])
    assert scanning["finding_count"] == 9 and scanning["users"] == ["(empty)", "admin", "root"]
    assert scanning["summary"] == (
        "background scanning: 3 never-seen sources, 9 failed attempts 02:00-02:21 UTC against (empty), admin, "
        "root, none got in: 45.33.12.7 (6), 185.2.3.4 (2), 61.177.172.1 (1)"
    )
    assert incidents.loc[f"{DAY}:user:bob", "severity_level"] != "low"


def test_a_users_places_are_listed_most_frequent_first_then_in_the_order_first_seen():
    places = ["Oslo, Norway", "Lima, Peru", "Lima, Peru", None, "Oslo, Norway", "Quito, Ecuador",
              "Kyiv, Ukraine", "Kyiv, Ukraine", "Kyiv, Ukraine"]
    findings = pd.DataFrame(
        [_finding("dana", "192.0.2.20", i, ["new_city"], location=place) for i, place in enumerate(places)]
        + [_finding("erin", "192.0.2.21", 3, ["off_hours"], location=None)]
    )
    findings["incident_id"] = incident_ids(findings, DAY)
    by_id = build_incidents(findings, DAY).set_index("incident_id")
    dana = by_id.loc[f"{DAY}:user:dana"]
    assert dana["finding_count"] == 9 and dana["first_time"] == pd.Timestamp("2026-03-20T02:00:00Z")
    assert "from Kyiv, Ukraine, Oslo, Norway, Lima, Peru; worst finding 50" in dana["summary"]
    erin = by_id.loc[f"{DAY}:user:erin"]
    assert "from" not in erin["summary"] and erin["summary"].startswith("erin: 1 finding(s) 02:03-02:03 UTC")


def test_a_summary_does_not_depend_on_the_order_of_its_findings():
    rows = [
        _finding("dana", "192.0.2.20", 0, ["off_hours"]),
        _finding("dana", "192.0.2.20", 5, ["new_ip"]),
    ]
    summaries = []
    for ordered in (rows, rows[::-1]):
        findings = pd.DataFrame(ordered)
        findings["incident_id"] = incident_ids(findings, DAY)
        summaries.append(build_incidents(findings, DAY, run_id="run-1")["summary"].iloc[0])

    assert summaries[0] == summaries[1]
    assert "new ip (1), off hours (1)" in summaries[0]
