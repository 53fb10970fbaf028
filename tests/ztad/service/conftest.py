"""Apps of the scoring service over the shared nightly runs (``tests/fixtures/served.py``)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.served import API_TOKEN, READ_TOKEN
from ztad.service.api import create_app
from ztad.service.auth import ServiceSettings
from ztad.store import RunRecord

SETTINGS = ServiceSettings(triage_token=API_TOKEN, read_token=READ_TOKEN)
TRIAGE_HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}
READ_HEADERS = {"Authorization": f"Bearer {READ_TOKEN}"}


def client_of(config, **options) -> TestClient:
    """A client of the app over ``config``'s state folder and database."""
    return TestClient(create_app(config, SETTINGS, **options))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request):
    """The shared run on each database."""
    return request.getfixturevalue(f"served_{request.param}")


@pytest.fixture(scope="module")
def client(served) -> TestClient:
    return client_of(served.config)


@pytest.fixture
def copied(served_sqlite, tmp_path):
    """A copy of the SQLite run's state folder and database, to add runs to."""
    home = tmp_path / "home"
    shutil.copytree(served_sqlite.config.home, home)
    return served_sqlite, served_sqlite.config.with_overrides(home=home)


def record_run(store, day, version, status="success") -> None:
    """A run of ``day`` with model ``version`` in ``store``'s runs table, finished now."""
    now = datetime.now(UTC)
    store.record_run(
        RunRecord(
            run_id=f"run-{day}-{status}",
            day=day,
            status=status,
            model_version=version,
            started_at=now,
            finished_at=now,
        )
    )
