"""Shared fixtures: a real PostgreSQL database, small generated log sets and a served nightly run.

In CI (``CI`` set) a test that needs PostgreSQL, Airflow, the Airflow stack or Chromium may not be
skipped: a skip of such a test is turned into a failure, so that a missing service can never pass
silently.
"""

import os

import pytest

from tests.fixtures.logs import *  # noqa: F401,F403
from tests.fixtures.postgres import *  # noqa: F401,F403
from tests.fixtures.served import *  # noqa: F401,F403

MUST_RUN_IN_CI = ("postgres", "airflow", "stack", "browser")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped:
        return
    if any(item.get_closest_marker(name) for name in MUST_RUN_IN_CI):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which is not allowed for {MUST_RUN_IN_CI}: {report.longrepr}"
