"""A findings store on each backend: a SQLite file, and a fresh PostgreSQL database."""

from __future__ import annotations

import pytest

from ztad.store import FindingsStore

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> str:
    """URL of an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'findings.db'}"
    return request.getfixturevalue("empty_postgres_url")


@pytest.fixture
def store(store_url: str):
    """A store with its schema created."""
    with FindingsStore(store_url) as findings_store:
        findings_store.create_schema()
        yield findings_store
