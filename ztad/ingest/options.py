"""Source options as the log adapters read them: text, flags, counts, lists and time zones.

Options come from the CLI or the DAG's source settings, so every value may arrive as text
("true", "3", "a, b"); these functions turn them into Python values and name the option in
the error when a value cannot be used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Bytes read per batch unless option ``chunk_bytes`` says otherwise.
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024


class SourceOptionError(ValueError):
    """A source option has a value the adapter cannot use; the message names the option."""


def option_str(options: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """Return option ``name`` as text, or ``default`` when it is absent or empty."""
    value = options.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return str(value).strip()


def option_bool(options: Mapping[str, Any], name: str, default: bool) -> bool:
    """Return option ``name`` as a bool; accepts true/false, yes/no, 1/0 in any case."""
    value = options.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise SourceOptionError(f"option {name!r} must be true or false, not {value!r}")


def option_int(options: Mapping[str, Any], name: str, default: int | None) -> int | None:
    """Return option ``name`` as a positive integer."""
    value = options.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SourceOptionError(f"option {name!r} must be a whole number, not {value!r}") from None
    if number <= 0:
        raise SourceOptionError(f"option {name!r} must be positive, not {value!r}")
    return number


def option_list(options: Mapping[str, Any], name: str) -> list[str] | None:
    """Return option ``name`` as a list of strings (a list, or comma-separated text)."""
    value = options.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def option_timezone(options: Mapping[str, Any], name: str = "timezone") -> str:
    """Return the IANA zone named by option ``name`` (default ``UTC``), checked to exist."""
    zone = option_str(options, name, "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceOptionError(
            f"option {name!r}: unknown time zone {zone!r}; use an IANA name such as Europe/Madrid"
        ) from None
    return zone


def chunk_bytes(options: Mapping[str, Any]) -> int:
    """Bytes read per batch (option ``chunk_bytes``)."""
    return option_int(options, "chunk_bytes", DEFAULT_CHUNK_BYTES)
