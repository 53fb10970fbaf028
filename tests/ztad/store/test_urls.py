"""Database URLs: the psycopg 3 driver, and passwords that never reach a message."""

from __future__ import annotations

import pytest

from ztad.store import UnsupportedDatabaseError, normalize_url, safe_url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://ztad:s3cr%40t@db.example:5432/findings",
        "postgres://ztad:s3cr@t@db.example/findings",
        "postgresql://ztad@db.example/findings?password=s3cr@t&sslmode=require",
        "host=db.example user=ztad password=s3cr@t dbname=findings",
        "postgresql://ztad:s3cr@t:x@db.example/findings",
    ],
)
def test_safe_url_masks_the_password(url):
    masked = safe_url(url)
    assert "s3cr" not in masked
    assert "***" in masked
    assert "db.example" in masked


def test_safe_url_keeps_urls_without_secrets_readable():
    assert safe_url("sqlite:////var/lib/ztad/findings.db") == "sqlite:////var/lib/ztad/findings.db"
    assert safe_url("postgresql+psycopg://postgres@127.0.0.1:5432/test") == (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_postgres_urls_use_psycopg3(scheme):
    url = normalize_url(f"{scheme}://ztad:pw@db.example:5433/findings")
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.password) == ("db.example", 5433, "findings", "pw")


def test_other_databases_are_refused_with_a_masked_url():
    with pytest.raises(UnsupportedDatabaseError, match=r"mysql.*\*\*\*") as raised:
        normalize_url("mysql+pymysql://ztad:s3cret@db.example/findings")
    assert "s3cret" not in str(raised.value)
