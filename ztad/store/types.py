"""Column types that use PostgreSQL's native types and degrade gracefully on SQLite.

| type            | PostgreSQL    | SQLite                       |
|-----------------|---------------|------------------------------|
| ``UTCDateTime`` | ``timestamptz`` | ISO text, always in UTC    |
| ``IPAddress``   | ``inet``      | text                         |
| ``JSONDocument``| ``jsonb``     | JSON text                    |

Values come back the same on both: aware UTC datetimes, IP addresses as strings, and
decoded lists/dicts.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
from sqlalchemy import JSON, DateTime, Text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.types import TypeDecorator


def as_utc_datetime(value) -> datetime | None:
    """Return ``value`` (datetime, pandas Timestamp, ISO string) as an aware UTC datetime.

    Naive values are taken to be UTC already, which is what every ztad timestamp is.
    Nulls (``None``, ``NaT``, ``NA``) give ``None``.
    """
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    elif isinstance(value, np.datetime64):
        value = pd.Timestamp(value).to_pydatetime()
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or an ISO timestamp string, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def json_safe(value):
    """Return ``value`` with numpy/pandas scalars and arrays turned into plain JSON values.

    Non-finite floats become ``null``: JSON has no NaN and ``jsonb`` rejects it. Arrays
    (what lists become after a Parquet round trip) become lists.
    """
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _plain(value):
    """The JSON encoder's fallback: a value it cannot write (a numpy number or array, a null
    of pandas, a date) as :func:`json_safe` makes it."""
    plain = json_safe(value)
    if plain is value:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    return plain


#: Writes a document as ``json.dumps(..., allow_nan=False, ensure_ascii=False)`` does (the
#: engine's ``json_serializer``), turning what JSON lacks into JSON values as it goes.
_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, default=_plain)


def document_text(value) -> str | None:
    """The JSON text a document column stores for ``value``: the text of ``json_safe(value)``,
    written in one pass; ``None`` (SQL ``NULL``) where that is ``None``, as
    :class:`JSONDocument` stores it.

    Most documents hold plain values only, and the encoder writes them as they are, calling
    back for the numpy numbers, arrays, pandas nulls and dates it meets; a document holding a
    non-finite number (which the encoder refuses) is made JSON-safe first. A day's findings
    carry five documents each: walking each of them once in Python before encoding cost as
    much as the encoding. The text is the same, for documents whose keys are text or numbers
    (``json_safe`` writes a ``True`` key as ``"True"``, the encoder as ``"true"``).
    """
    if not isinstance(value, (dict, list, tuple)):
        value = json_safe(value)  # a null of any kind is SQL NULL, as the column type makes it
        if value is None:
            return None
    try:
        return _ENCODER.encode(value)
    except ValueError:  # NaN or infinity somewhere: null, as json_safe makes them
        return _ENCODER.encode(json_safe(value))


class UTCDateTime(TypeDecorator):
    """``timestamptz`` on PostgreSQL; on SQLite, UTC text. Always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        value = as_utc_datetime(value)
        if value is not None and dialect.name == "sqlite":
            # SQLite's DATETIME text has no offset: store UTC, re-attach it when reading.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return as_utc_datetime(value)


class IPAddress(TypeDecorator):
    """``inet`` on PostgreSQL (so that it validates and supports ``<<=`` subnet queries)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(INET())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value, dialect):
        return None if value is None else str(value)

    def process_result_value(self, value, dialect):
        return None if value is None else str(value)


class JSONDocument(TypeDecorator):
    """``jsonb`` on PostgreSQL, JSON text on SQLite; Python ``None`` is SQL ``NULL``."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value, dialect):
        return json_safe(value)
