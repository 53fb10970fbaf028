"""The dashboard in a real headless Chromium, on the incidents of a real nightly run.

Every page is opened in the browser and a screenshot of it written under the test's tmp
folder; triage from the page must change the database row, and the next night's run must read
it as feedback (on a copy of the run). The pages are also read on PostgreSQL, without a browser.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.fixtures.served import API_TOKEN, SERVED_DAYS
from tests.ztad.service.browser import chromium, serving
from tests.ztad.service.conftest import SETTINGS, TRIAGE_HEADERS, client_of
from ztad.feedback import read_verdicts
from ztad.pipeline.workfiles import day_dir, read_parquet
from ztad.service.api import create_app
from ztad.store import FindingsStore

#: Chromium needs a real server and the browser: the CI must run it.
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(served_sqlite):
    """A signed-in browser on the dashboard of the SQLite run; yields ``(driver, base_url)``."""
    from selenium.webdriver.common.by import By

    app = create_app(served_sqlite.config, SETTINGS, dashboard=True)
    with serving(app) as url, chromium() as driver:
        driver.get(f"{url}/ui")
        assert "/ui/login" in driver.current_url  # no token, no page
        driver.find_element(By.ID, "token").send_keys(API_TOKEN)
        driver.find_element(By.ID, "sign-in").click()
        yield driver, url


def _open_incidents(served) -> pd.DataFrame:
    incidents = FindingsStore(served.config.resolved_database_url).incidents()
    return incidents[incidents["status"].isin(["new", "investigating"])]


def test_the_queue_lists_the_open_incidents_of_the_run(browser, served_sqlite, tmp_path):
    from selenium.webdriver.common.by import By

    driver, url = browser
    driver.get(f"{url}/ui")
    rows = driver.find_elements(By.CSS_SELECTOR, "#queue tr.incident-row")
    links = [r.find_element(By.TAG_NAME, "a").text for r in rows]
    open_now = _open_incidents(served_sqlite)
    assert sorted(links) == sorted(open_now["incident_id"]) and links
    assert open_now.set_index("incident_id").loc[links[0], "severity"] == open_now["severity"].max()
    assert driver.save_screenshot(str(tmp_path / "queue.png"))


def test_opening_an_incident_shows_its_reasons(browser, served_sqlite, tmp_path):
    from selenium.webdriver.common.by import By

    driver, url = browser
    driver.get(f"{url}/ui")
    first = driver.find_element(By.CSS_SELECTOR, "#queue tr.incident-row a")
    incident_id = first.text
    first.click()
    shown = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "li.reason")]
    findings = FindingsStore(served_sqlite.config.resolved_database_url).findings()
    stored = [
        f"{r['code']} {r['text']}"
        for rs in findings[findings["incident_id"] == incident_id]["reasons"]
        for r in rs
    ]
    assert shown and sorted(shown) == sorted(stored)
    assert driver.find_elements(By.CSS_SELECTOR, "svg[aria-label='the user\\'s day'] circle")
    assert driver.find_elements(By.CSS_SELECTOR, "table.top-features tr")
    assert driver.save_screenshot(str(tmp_path / "incident.png"))


def test_triage_from_the_page_changes_the_row_and_the_next_run_reads_it(browser, served_sqlite, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver, url = browser
    day = SERVED_DAYS[-1]
    incident_id = _open_incidents(served_sqlite).query("day == @day")["incident_id"].iloc[0]
    driver.get(f"{url}/ui/incidents/{incident_id}")
    Select(driver.find_element(By.ID, "triage-status")).select_by_value("false_positive")
    driver.find_element(By.ID, "triage-assignee").clear()
    driver.find_element(By.ID, "triage-assignee").send_keys("ana")
    driver.find_element(By.ID, "triage-note").send_keys("business trip, confirmed by phone")
    driver.find_element(By.ID, "triage-save").click()
    assert driver.find_element(By.ID, "saved").is_displayed()
    assert driver.find_element(By.ID, "status").text == "false_positive"
    engine = sa.create_engine(served_sqlite.config.resolved_database_url)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT status, assignee, notes FROM incidents WHERE incident_id = :i"),
            {"i": incident_id},
        ).one()
    engine.dispose()
    assert (row.status, row.assignee) == ("false_positive", "ana") and row.notes.endswith(
        "confirmed by phone"
    )
    # What the next run's feedback reads: the incident's findings are false positives now.
    store = FindingsStore(served_sqlite.config.resolved_database_url)
    findings = store.findings(day).query("incident_id == @incident_id")["finding_id"]
    verdicts = read_verdicts(store).set_index("finding_id")
    assert len(findings) and (verdicts.loc[list(findings), "verdict"] == "false_positive").all()
    assert driver.save_screenshot(str(tmp_path / "triaged.png"))


def test_the_user_summary_and_health_pages(browser, served_sqlite, tmp_path):
    from selenium.webdriver.common.by import By

    driver, url = browser
    findings = FindingsStore(served_sqlite.config.resolved_database_url).findings()
    user = findings["user_id"].iloc[0]
    driver.get(f"{url}/ui/users/{user}")
    assert (
        len(driver.find_elements(By.CSS_SELECTOR, "#user-findings tr"))
        == 1 + (findings["user_id"] == user).sum()
    )
    assert driver.save_screenshot(str(tmp_path / "user.png"))
    driver.get(f"{url}/ui/summary")
    assert driver.find_elements(By.CSS_SELECTOR, "svg[aria-label='findings by category'] rect")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#budget tr")) == 1 + len(SERVED_DAYS)
    assert driver.save_screenshot(str(tmp_path / "summary.png"))
    driver.get(f"{url}/ui/health")
    assert served_sqlite.summaries[-1].model_version in driver.find_element(By.ID, "serving").text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#runs tr")) == 1 + len(SERVED_DAYS)
    assert driver.save_screenshot(str(tmp_path / "health.png"))


def test_an_uploaded_csv_is_scored_with_reasons(browser, served_sqlite, tmp_path):
    from selenium.webdriver.common.by import By

    driver, url = browser
    events = read_parquet(day_dir(served_sqlite.config, SERVED_DAYS[-1]) / "events.parquet")
    scored = read_parquet(day_dir(served_sqlite.config, SERVED_DAYS[-1]) / "scored.parquet")
    sample = pd.concat([events[scored["flagged"].to_numpy()].head(5), events.head(20)])
    path = tmp_path / "events.csv"
    sample.rename(columns={"resource": "resource_accessed"})[
        [
            "timestamp",
            "user_id",
            "device_id",
            "ip_address",
            "location",
            "login_success",
            "resource_accessed",
            "bytes_transferred",
            "event_label",
        ]
    ].to_csv(path, index=False)
    driver.get(f"{url}/ui/upload")
    driver.find_element(By.ID, "upload-file").send_keys(str(path))
    driver.find_element(By.ID, "upload-score").click()
    assert "ignored columns: event_label" in driver.find_element(By.ID, "upload-result").text
    rows = driver.find_elements(By.CSS_SELECTOR, "#predictions tr.prediction")
    assert len(rows) == len(sample)
    alerts = driver.find_elements(By.CSS_SELECTOR, "#predictions tr.prediction.alert td:last-child")
    assert alerts and all(cell.text for cell in alerts)
    assert driver.save_screenshot(str(tmp_path / "upload.png"))


@pytest.mark.postgres
def test_the_pages_read_postgresql(served_postgres):
    with client_of(served_postgres.config, dashboard=True) as client:
        client.cookies.set("ztad_token", API_TOKEN)
        incidents = FindingsStore(served_postgres.config.resolved_database_url).incidents()
        queue = client.get("/ui")
        assert queue.status_code == 200
        assert all(i in queue.text for i in incidents["incident_id"])
        one = client.get(f"/ui/incidents/{incidents['incident_id'].iloc[0]}")
        assert one.status_code == 200 and 'class="reason"' in one.text
        for page in ("/ui/summary", "/ui/health", "/ui/upload", f"/ui/users/{incidents['users'].iloc[0][0]}"):
            assert client.get(page).status_code == 200, page
        triaged = client.post(
            f"/ui/incidents/{incidents['incident_id'].iloc[0]}/triage",
            data={"assignee": "bob"},
            follow_redirects=False,
        )
        assert triaged.status_code == 303
        assert (
            client.get(f"/incidents/{incidents['incident_id'].iloc[0]}", headers=TRIAGE_HEADERS).json()[
                "assignee"
            ]
            == "bob"
        )


# --------------------------------------------------------------------------- triage as feedback


def _novelty_codes(reasons) -> set[str]:
    """The reasons an analyst's false positive allows from then on (a new place, device ...)."""
    from ztad.feedback.allowlist import KIND_OF_CODE

    return {r["code"] for r in reasons if r["code"] in KIND_OF_CODE}


def _two_incidents_of_new_places(store, day) -> tuple[str, str]:
    """Two open incidents of ``day``, of two users, each flagged for something new to its user."""
    findings = store.findings(day)
    findings = findings[findings["status"].isin(["new", "investigating"])]
    novel = findings[[bool(_novelty_codes(r)) for r in findings["reasons"]]]
    chosen = novel.groupby("incident_id")["user_id"].first().drop_duplicates()
    assert len(chosen) >= 2, "the run needs two incidents of something new to their users"
    return chosen.index[0], chosen.index[1]


def _replay_next_day(config, logs, day, store, incident_ids) -> pd.DataFrame:
    """Write the incidents' events again, one day later, into the next day's partition."""
    events = read_parquet(day_dir(config, day) / "events.parquet")
    findings = store.findings(day)
    ids = findings[findings["incident_id"].isin(incident_ids)]["event_id"]
    again = events[events["event_id"].isin(ids)].copy()
    again["timestamp"] = again["timestamp"] + pd.Timedelta(days=1)
    again["incident_id"] = again["event_id"].map(findings.set_index("event_id")["incident_id"])
    columns = ["timestamp", "user_id", "device_id", "ip_address", "location", "login_success"]
    out = again[columns].assign(
        resource_accessed=again["resource"], bytes_transferred=again["bytes_transferred"]
    )
    folder = logs / f"date={(day + pd.Timedelta(days=1)).isoformat()}"
    out.assign(timestamp=again["timestamp"].map(lambda t: t.isoformat())).to_csv(
        folder / "replayed.csv", index=False
    )
    return again


def test_a_false_positive_triaged_in_the_browser_is_read_by_the_next_run(served_sqlite, tmp_path):
    """The next night's real run reads the page's verdict: the allowlist holds the user's
    pattern, and the same events seen again the next day are no longer new to the user (the
    false positive joined the trusted history); an untriaged twin still is."""
    import dataclasses
    import shutil

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from ztad import pipeline
    from ztad.config import SourceConfig

    # A copy of the shared run (state folder, SQLite database, logs): the next day runs on it.
    home, logs = tmp_path / "home", tmp_path / "logs"
    shutil.copytree(served_sqlite.config.home, home)
    shutil.copytree(served_sqlite.config.source.root, logs)
    config = dataclasses.replace(served_sqlite.config, home=home, source=SourceConfig(root=str(logs)))
    store = FindingsStore(config.resolved_database_url)
    # The first day has incidents of new places and devices: the next night is the second
    # day, run again on the copy.
    day, next_day = SERVED_DAYS[0], SERVED_DAYS[1]
    triaged, untouched = _two_incidents_of_new_places(store, day)
    replayed = _replay_next_day(config, logs, day, store, [triaged, untouched])

    with serving(create_app(config, SETTINGS, dashboard=True)) as url, chromium() as driver:
        driver.get(f"{url}/ui/login")
        driver.find_element(By.ID, "token").send_keys(API_TOKEN)
        driver.find_element(By.ID, "sign-in").click()
        # The sign-in sets the cookie when its answer arrives: wait for it before moving on.
        WebDriverWait(driver, 60).until(lambda d: "/ui/login" not in d.current_url)
        driver.get(f"{url}/ui/incidents/{triaged}")
        Select(driver.find_element(By.ID, "triage-status")).select_by_value("false_positive")
        driver.find_element(By.ID, "triage-note").send_keys("a trip the user told us about")
        driver.find_element(By.ID, "triage-save").click()
        # The save reloads the page: read the status once the new page says it was saved.
        assert driver.find_element(By.ID, "saved").is_displayed()
        assert driver.find_element(By.ID, "status").text == "false_positive"
        assert driver.save_screenshot(str(tmp_path / "false_positive.png"))

    assert pipeline.run_day(next_day, config).status == "success"
    engine = sa.create_engine(config.resolved_database_url)
    with engine.connect() as connection:
        allowed = connection.execute(
            sa.text("SELECT user_id, valid_from, source_finding_id FROM feedback_allowlist")
        ).all()
        raised = pd.read_sql(
            sa.text("SELECT user_id, event_time, reasons FROM findings WHERE day = :d"),
            connection,
            params={"d": next_day},
        )
    engine.dispose()
    sources = set(store.findings(day).query("incident_id == @triaged")["finding_id"])
    mine = [row for row in allowed if row.source_finding_id in sources]
    user_of = replayed.groupby("incident_id")["user_id"].first()
    assert mine and {row.user_id for row in mine} == {user_of[triaged]}
    assert {str(row.valid_from)[:10] for row in mine} == {next_day.isoformat()}

    def novelties_next_day(incident_id) -> set[str]:
        """Novelty reasons of the next day's findings on the incident's replayed events."""
        times = set(replayed.loc[replayed["incident_id"] == incident_id, "timestamp"].dt.tz_localize(None))
        mine = raised[raised["user_id"] == user_of[incident_id]]
        hits = [pd.Timestamp(t).tz_localize(None) in times for t in mine["event_time"]]
        reasons = [json.loads(r) if isinstance(r, str) else r for r in mine.loc[hits, "reasons"]]
        return set().union(*(_novelty_codes(r) for r in reasons))

    assert novelties_next_day(untouched)  # nobody triaged it: still new to its user
    assert not novelties_next_day(triaged)
