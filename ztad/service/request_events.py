"""Canonical events straight from a request's validated fields, for ``/predict``.

A request's events arrive typed and checked by their model (:class:`ztad.service.predict.Event`):
times are datetimes, numbers are numbers within their ranges, flags are one of the accepted
forms, addresses are IP addresses, text holds no NUL character. What the log checks
(:func:`ztad.ingest.validation.validate`) would still do to them is little: strip text (blank
text is missing), write addresses in their normal form, read the flags, convert times to UTC.
Done here on the field values as they are, it costs a fraction of building a frame of input
columns and validating it column by column, most of a one-event request's time.

The result is the very frame validation gives (a test compares them). When an event needs
more than that (a time that falls outside years 1 to 9999 in UTC, a user id that strips to
nothing), :func:`canonical_events` gives ``None``, and validation judges the request: its
error names the event, field and reason as it always has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import frame_of
from ztad.ingest.validation import FEW_ROWS
from ztad.schema import CANONICAL_COLUMNS, LABEL_COLUMNS

#: Optional text fields of an event, copied stripped to the canonical column of the same name.
_TEXT_FIELDS = ("device_id", "location", "as_org", "department", "auth_method")
#: Canonical text columns a request never fills (evaluation labels).
_UNSENT_TEXT = ("event_label", "scenario", "attack_id")
#: Times as canonical events hold them.
_UTC_MICROS = pd.DatetimeTZDtype("us", "UTC")


def canonical_events(fields: Mapping[str, Sequence]) -> pd.DataFrame | None:
    """The canonical events of a request's field values (each field's values in event order,
    as :class:`ztad.service.predict.Event` holds them), or ``None`` when validation must judge
    them (some event is refused)."""
    from ztad.ingest import ids
    from ztad.ingest.validation import missing_text

    rows = len(fields["timestamp"])
    micros = _utc_micros(fields["timestamp"])
    users = _text(fields["user_id"])
    if _beyond_years(micros) or users.null_count:
        return None
    columns = {
        "event_id": _text(fields["event_id"]),
        "timestamp": _utc_times(micros),
        "user_id": users,
        "ip_address": _addresses(fields["ip_address"]),
        "latitude": _floats(fields["latitude"]),
        "longitude": _floats(fields["longitude"]),
        "asn": _whole_numbers(fields["asn"]),
        "login_success": _flags(fields["login_success"]),
        "resource": _text(given_resources(fields)),
        "bytes_transferred": _byte_counts(fields["bytes_transferred"]),
        "source_row": np.arange(1, rows + 1, dtype=np.int64),
        **{name: _text(fields[name]) for name in _TEXT_FIELDS},
        **{name: missing_text(rows) for name in _UNSENT_TEXT},
    }
    kept = {name: _as_pandas(columns[name]) for name in CANONICAL_COLUMNS}
    if rows <= FEW_ROWS:
        kept["event_id"] = _few_event_ids(columns, micros)
    else:
        kept["event_id"] = ids.event_id_array(kept, rows)  # the source's id, else one from the content
    # Built from its blocks as they are: a frame built from a dict pays per column, most of a
    # one-event request's frame.
    arrays = [columns[name] if isinstance(columns[name], np.ndarray) else kept[name] for name in CANONICAL_COLUMNS]
    return frame_of(arrays, CANONICAL_COLUMNS, pd.RangeIndex(rows))


def _few_event_ids(columns: Mapping, micros: np.ndarray) -> pd.arrays.ArrowStringArray:
    """The ids of a few events (the source's, else one hashed from the content, as
    :func:`ztad.ingest.ids.event_id_array` gives them), hashed from the columns' values as
    they are, before pandas arrays are built of them: reading those back cost more than the
    hashing."""
    import pyarrow as pa

    from ztad.ingest import ids

    given = columns["event_id"].to_pylist()
    if None not in given:
        return _as_pandas(columns["event_id"])
    plains = {
        name: micros if name == "timestamp" else _plain(columns[name])
        for name in ids.CONTENT_COLUMNS
        if name not in LABEL_COLUMNS
    }
    derived = ids.few_hex_digests(ids.plain_content_hashes(plains, len(micros)))
    return _as_pandas(pa.array([d if g is None else g for g, d in zip(given, derived)], pa.large_string()))


def _plain(values) -> np.ndarray:
    """A column's values as :func:`ztad.ingest.ids.plain_content_hashes` reads them."""
    import pyarrow as pa

    if isinstance(values, pa.Array):
        return np.array(["" if v is None else v for v in values.to_pylist()], dtype=object)
    return values.astype(np.uint8) if values.dtype == bool else values


def _as_pandas(values):
    """A column as the pandas array a canonical frame holds (text as Arrow-backed strings)."""
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return pd.arrays.ArrowStringArray(values)
    if isinstance(values, np.ndarray):
        return pd.arrays.NumpyExtensionArray(values)
    return values


def _text(values: Sequence):
    """Text values (``str`` or ``None``) stripped, blank ones missing, as an Arrow array (a few
    stripped by Python first: one conversion to Arrow rather than two)."""
    import pyarrow as pa

    from ztad.ingest.validation import stripped, stripped_text

    if len(values) <= FEW_ROWS:
        return pa.array(stripped(values), pa.large_string())
    if _none_given(values):  # a field no event gives: nothing to convert or strip
        return pa.nulls(len(values), pa.large_string())
    return stripped_text(pa.array(values, pa.large_string()))


def _none_given(values: Sequence) -> bool:
    """Whether every value is ``None``: a field no event of the request gives (counted in C,
    a few microseconds for a thousand events)."""
    return values.count(None) == len(values)


def _utc_micros(times: Sequence) -> np.ndarray:
    """Datetimes as microseconds since the epoch in UTC (one without a zone is UTC), converted by
    Arrow: pandas reads datetime objects one by one, a millisecond per thousand events."""
    import pyarrow as pa

    return pa.array(times, type=pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()


def _utc_times(micros: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """UTC times (``datetime64[us, UTC]``) of microseconds since the epoch."""
    return pd.arrays.DatetimeArray._from_sequence(micros.view("datetime64[us]"), dtype=_UTC_MICROS)


def _beyond_years(micros: np.ndarray) -> bool:
    """Whether some time falls outside years 1 to 9999 in UTC (validation refuses it)."""
    from ztad.ingest.validation import beyond_years

    return bool(beyond_years(micros).any())


def _addresses(addresses: Sequence):
    """Addresses in their normal form, ``-`` and none as missing: the model holds either the text
    of a dotted quad already in normal form or an address object, which writes its own."""
    return _text([None if a is None or a == "-" else str(a) for a in addresses])


def _flags(values: Sequence) -> np.ndarray:
    """``login_success`` as flags: ``True``, ``1`` and the text ``1`` or ``true`` in any case
    are a success (anything else the model accepts is a failure)."""
    from ztad.ingest.validation import TRUE_TEXT

    if all(type(value) is bool for value in values):
        return np.array(values, dtype=bool)
    return np.array(
        [value.lower() in TRUE_TEXT if type(value) is str else value == 1 for value in values], dtype=bool
    )


def given_resources(fields: Mapping[str, Sequence]) -> list:
    """Each event's ``resource_accessed`` where given, else its ``resource``."""
    return [a if a is not None else r for a, r in zip(fields["resource_accessed"], fields["resource"])]


def _byte_counts(values: Sequence) -> np.ndarray:
    """Whole numbers of bytes, none given as 0."""
    return np.array([0 if v is None else v for v in values], dtype=np.int64)


def _floats(values: Sequence) -> np.ndarray:
    """Numbers as float64, NaN where none is given."""
    if _none_given(values):
        return np.full(len(values), np.nan)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _whole_numbers(values: Sequence) -> pd.arrays.IntegerArray:
    """Whole numbers (below 2**63) as ``Int64``, missing where none is given."""
    if _none_given(values):
        return pd.arrays.IntegerArray(np.zeros(len(values), dtype=np.int64), np.ones(len(values), dtype=bool))
    missing = np.array([v is None for v in values], dtype=bool)
    numbers = np.array([0 if v is None else v for v in values], dtype=np.int64)
    return pd.arrays.IntegerArray(numbers, missing)
