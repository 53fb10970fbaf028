"""Database URLs: the driver the store uses, and a form that is safe to print."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ztad.store.errors import UnsupportedDatabaseError

#: Backends the store writes to.
SUPPORTED_BACKENDS = ("postgresql", "sqlite")

_MASK = "***"
_USERINFO_PASSWORD = re.compile(r"(?P<head>//[^:/@\s]*:)\S*(?P<tail>@)")
# ``?password=`` in URLs and ``password=`` in libpq keyword strings ("host=... password=...").
_QUERY_PASSWORD = re.compile(r"(?P<head>\b(?:ssl)?password\s*=\s*)(?:'[^']*'|[^&\s]+)", re.IGNORECASE)


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and point PostgreSQL URLs at the psycopg 3 driver.

    ``postgres://`` and ``postgresql://`` (as Airflow connections and many tools write
    them) would otherwise select psycopg2, which is not a dependency.

    Raises
    ------
    UnsupportedDatabaseError
        For anything but PostgreSQL and SQLite.
    """
    try:
        parsed = make_url(str(url) if not isinstance(url, URL) else url)
    except ArgumentError as error:
        raise UnsupportedDatabaseError(
            f"not a database URL: {safe_url(str(url))!r} ({error}); expected "
            "postgresql+psycopg://user@host:5432/db or sqlite:///path/findings.db"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in SUPPORTED_BACKENDS:
        raise UnsupportedDatabaseError(
            f"the findings store supports PostgreSQL and SQLite, not {backend!r} "
            f"({safe_url(parsed)}); use postgresql+psycopg://... or sqlite:///..."
        )
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def safe_url(url: str | URL) -> str:
    """Return ``url`` as text with any password replaced by ``***``, for messages and logs.

    Works on strings SQLAlchemy cannot parse too, so that an error about a malformed URL
    never prints the secret it holds.
    """
    if isinstance(url, URL):
        return _mask_query(url.render_as_string(hide_password=True))
    text = str(url)
    try:
        return _mask_query(make_url(text).render_as_string(hide_password=True))
    except (ArgumentError, ValueError):
        return _mask_query(_USERINFO_PASSWORD.sub(rf"\g<head>{_MASK}\g<tail>", text))


def _mask_query(text: str) -> str:
    """Mask ``password=`` parameters, which ``hide_password`` leaves alone."""
    return _QUERY_PASSWORD.sub(rf"\g<head>{_MASK}", text)
