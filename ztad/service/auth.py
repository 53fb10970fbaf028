"""Bearer tokens and their scopes.

Two scopes: ``read`` (predictions, findings, incidents, health, metrics) and ``triage``
(``read`` and changing status, assignee and notes). Tokens come from the configuration
(:class:`ServiceSettings`): ``ZTAD_API_TOKEN`` holds both scopes, ``ZTAD_API_READ_TOKEN``
only ``read``; or both come from an Airflow connection (``ZTAD_API_TOKEN_CONNECTION``,
:mod:`ztad.service.token_connection`). No token is a 401, a token without the scope a 403. Tokens are compared in
constant time and never logged; the dashboard keeps the one an analyst signs in with in an
HTTP-only cookie, checked here the same way.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

READ, TRIAGE = "read", "triage"
#: The cookie the dashboard keeps the token in.
COOKIE = "ztad_token"


class MissingTokenError(ValueError):
    """The service was started without any token: it would be open to anyone."""


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of ``ztad serve`` and ``ztad dashboard``.

    Attributes
    ----------
    triage_token
        Grants ``read`` and ``triage`` (``ZTAD_API_TOKEN``).
    read_token
        Grants ``read`` only (``ZTAD_API_READ_TOKEN``); optional.
    check_seconds
        How often, at most, the service looks for a newer nightly run
        (``ZTAD_API_RELOAD_SECONDS``, default 30).

    Both tokens come instead from an Airflow connection when one is named
    (``ZTAD_API_TOKEN_CONNECTION`` or ``token_connection``): its password and its extra
    ``read_token``.
    """

    triage_token: str | None = None
    read_token: str | None = None
    check_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ=None, token_connection: str | None = None) -> ServiceSettings:
        """Settings from the environment; ``token_connection`` (``--token-connection``) names
        the Airflow connection holding the tokens, over ``ZTAD_API_TOKEN_CONNECTION``."""
        environ = os.environ if environ is None else environ
        seconds = environ.get("ZTAD_API_RELOAD_SECONDS", "30")
        try:
            check = float(seconds)
        except ValueError:
            raise ValueError(f"ZTAD_API_RELOAD_SECONDS={seconds!r}: expected a number of seconds") from None
        triage, read = environ.get("ZTAD_API_TOKEN") or None, environ.get("ZTAD_API_READ_TOKEN") or None
        connection = token_connection or environ.get("ZTAD_API_TOKEN_CONNECTION") or None
        if connection:
            from ztad.service.token_connection import tokens_from_connection

            if triage or read:
                raise ValueError(
                    f"tokens are given twice: by ZTAD_API_TOKEN / ZTAD_API_READ_TOKEN and by the Airflow "
                    f"connection {connection!r}; keep one"
                )
            tokens = tokens_from_connection(connection, environ)
            triage, read = tokens.triage, tokens.read
        return cls(triage, read, check)

    def require_token(self) -> None:
        """Refuse to serve without a token (fail closed)."""
        if not (self.triage_token or self.read_token):
            raise MissingTokenError(
                "no API token: set ZTAD_API_TOKEN (read and triage) and optionally "
                "ZTAD_API_READ_TOKEN (read only), or name an Airflow connection holding them "
                "(--token-connection / ZTAD_API_TOKEN_CONNECTION)"
            )

    def scopes_of(self, token: str | None) -> frozenset[str]:
        """The scopes ``token`` grants (none for an unknown token)."""
        if not token:
            return frozenset()
        if self.triage_token and hmac.compare_digest(token.encode(), self.triage_token.encode()):
            return frozenset((READ, TRIAGE))
        if self.read_token and hmac.compare_digest(token.encode(), self.read_token.encode()):
            return frozenset((READ,))
        return frozenset()

    def __repr__(self) -> str:  # never show a token
        return f"ServiceSettings(check_seconds={self.check_seconds})"


def bearer_token(authorization: str | None, cookie: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, else of the dashboard's cookie."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return cookie or None
