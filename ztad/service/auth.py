"""Bearer tokens and their scopes.

Two scopes: ``read`` (predictions, findings, incidents, health, metrics) and ``triage``
(``read`` and changing status, assignee and notes). Tokens come from the configuration
(:class:`ServiceSettings`): ``ZTAD_API_TOKEN`` holds both scopes, ``ZTAD_API_READ_TOKEN``
only ``read``. No token is a 401, a token without the scope a 403. Tokens are compared in
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
    """

    triage_token: str | None = None
    read_token: str | None = None
    check_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ=None) -> "ServiceSettings":
        environ = os.environ if environ is None else environ
        seconds = environ.get("ZTAD_API_RELOAD_SECONDS", "30")
        try:
            check = float(seconds)
        except ValueError:
            raise ValueError(f"ZTAD_API_RELOAD_SECONDS={seconds!r}: expected a number of seconds") from None
        return cls(environ.get("ZTAD_API_TOKEN") or None, environ.get("ZTAD_API_READ_TOKEN") or None, check)

    def require_token(self) -> None:
        """Refuse to serve without a token (fail closed)."""
        if not (self.triage_token or self.read_token):
            raise MissingTokenError(
                "no API token: set ZTAD_API_TOKEN (read and triage) and optionally "
                "ZTAD_API_READ_TOKEN (read only)"
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
