"""Shared fixtures: a real PostgreSQL database, small generated log sets, a served nightly run and
the stack scenario, which starts in the background at the session's first test when the session
runs the stack tests (:mod:`tests.fixtures.background_stack`).

In CI (``CI`` set) a test that needs PostgreSQL, Airflow, the Airflow stack or Chromium may not be
skipped: a skip of such a test is turned into a failure, so that a missing service can never pass
silently.
"""

import contextlib
import os

import pytest

from tests.fixtures.airflow import *  # noqa: F401,F403
from tests.fixtures.background_stack import *  # noqa: F401,F403
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


@pytest.fixture(scope="session", autouse=True)
def stack_scenario_in_the_background(request):
    """Start the stack scenario at the session's first test if the session runs it: the other
    tests then use the time it spends waiting. Whatever keeps it from starting is raised
    again to the stack tests, which request the same fixture, and to no other test.

    Split among pytest-xdist workers (``make test``), every worker collects every test but
    runs only some: there the stack test starts the scenario itself when it runs, while the
    other worker goes on with the rest, so that a single stack ever runs."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if any(item.get_closest_marker("stack") for item in request.session.items):
        with contextlib.suppress(Exception, pytest.skip.Exception, pytest.fail.Exception):
            request.getfixturevalue("stack_scenario")
