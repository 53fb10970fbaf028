"""The canonical auth-event schema every source is turned into.

Every reader (the origin CSV, Parquet, JSON Lines, and later vendor adapters) produces a
DataFrame with exactly these columns and dtypes, so that validation, baselines, features,
detectors and the findings store only ever see one shape.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns an input file must carry (after any column mapping), in the origin CSV's names.
REQUIRED_INPUT_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "user_id",
    "ip_address",
    "login_success",
)

#: Columns an input file may carry; absent ones are filled with nulls.
OPTIONAL_INPUT_COLUMNS: tuple[str, ...] = (
    "device_id",
    "location",
    "access_time",
    "resource_accessed",
    "bytes_transferred",
    "event_label",
    "department",
    "latitude",
    "longitude",
    "event_id",
    "scenario",
    "asn",
    "as_org",
    "auth_method",
    "attack_id",
)

#: Canonical column -> pandas dtype. Timestamps are always UTC.
CANONICAL_DTYPES: dict[str, str] = {
    "event_id": "string",
    "timestamp": "datetime64[us, UTC]",
    "user_id": "string",
    "device_id": "string",
    "ip_address": "string",
    "location": "string",
    "latitude": "float64",
    "longitude": "float64",
    "asn": "Int64",
    "as_org": "string",
    "department": "string",
    "login_success": "bool",
    "auth_method": "string",
    "resource": "string",
    "bytes_transferred": "int64",
    "event_label": "string",
    "scenario": "string",
    "attack_id": "string",
    "source_row": "int64",
}

CANONICAL_COLUMNS: tuple[str, ...] = tuple(CANONICAL_DTYPES)

#: :data:`CANONICAL_DTYPES` as pandas dtypes, resolved once rather than per column per call.
_PANDAS_DTYPES = {column: pd.api.types.pandas_dtype(dtype) for column, dtype in CANONICAL_DTYPES.items()}

#: The network of the event's IP address, where known: ``asn`` (autonomous system number) and
#: ``as_org`` (its organisation), from the source itself (Okta, Entra ID) or from a GeoIP ASN
#: database (:mod:`ztad.ingest.geoip`). They describe the address rather than the event, so they are
#: not part of an event's identity (:mod:`ztad.ingest.ids`).
NETWORK_COLUMNS: tuple[str, ...] = ("asn", "as_org")

#: How the attempt authenticated, where the log says: ``password``, ``publickey``,
#: ``keyboard-interactive``, ``hostbased`` (sshd)... Missing when unknown. A failed public key
#: is a client trying its keys, not a password guess, so the failure rules leave such
#: failures out (:data:`KEY_METHODS`). Not part of an event's identity (:mod:`ztad.ingest.ids`),
#: so event ids stay those earlier releases derived.
METHOD_COLUMNS: tuple[str, ...] = ("auth_method",)

#: Methods whose failures are not credential guesses (a client offering its keys in turn).
KEY_METHODS: tuple[str, ...] = ("publickey", "hostbased")

#: ``event_label``, ``scenario`` (a hard-negative marker such as ``business_travel`` on
#: normal events) and ``attack_id`` (which attack an anomalous event belongs to, so that an
#: attack of several events counts once) are for evaluation only: never model inputs, and not
#: part of an event's identity (relabelling a data set keeps every event id,
#: :mod:`ztad.ingest.ids`).
LABEL_COLUMNS: tuple[str, ...] = ("event_label", "scenario", "attack_id")

#: The trusted label. In labelled data every other label is an anomaly (zero trust).
NORMAL_LABEL = "normal"


def empty_events() -> pd.DataFrame:
    """Return an empty DataFrame with the canonical columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in CANONICAL_DTYPES.items()})


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly the canonical columns, in order, with canonical dtypes.

    Missing optional columns are added as nulls. The caller is responsible for having
    validated values first; this only fixes shape and types. The frame is built from the
    columns' arrays, without copying those of the very dtype (storage and missing value alike)
    and without aligning indexes: it holds the rows in ``frame``'s order, numbered from 0.
    """
    n = len(frame)
    if _canonical_already(frame):
        # No values copied (copy on write); columns already in order are not even looked up.
        in_order = tuple(frame.columns) == CANONICAL_COLUMNS
        out = frame.copy(deep=False) if in_order else frame.reindex(columns=list(CANONICAL_COLUMNS))
        out.index = pd.RangeIndex(n)
        return out
    out = {}
    for column, dtype in CANONICAL_DTYPES.items():
        if column in frame.columns:
            values = frame[column]
            out[column] = (values if values.dtype == _PANDAS_DTYPES[column] else values.astype(dtype)).array
        elif dtype == "float64":
            out[column] = np.full(n, np.nan)
        elif dtype in ("string", "Int64"):
            out[column] = pd.array([None] * n, dtype=dtype)
        else:
            raise KeyError(f"canonical column {column!r} is required but missing")
    return pd.DataFrame(out, index=pd.RangeIndex(n), copy=False)


def _canonical_already(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` holds every canonical column, each of its canonical dtype, and no
    other column, in whatever order (what validation builds): it is then only reordered,
    rather than taken apart column by column and built again, a fixed cost of about a
    millisecond that a request of one event paid."""
    columns = frame.columns
    return len(columns) == len(CANONICAL_DTYPES) and dict(zip(columns, frame.dtypes)) == _PANDAS_DTYPES


def is_anomaly_label(labels: pd.Series) -> pd.Series:
    """True where a label marks an anomaly: anything but ``normal`` (zero trust).

    Null labels are unknown and return ``<NA>``.
    """
    lowered = labels.astype("string").str.strip().str.lower()
    return (lowered != NORMAL_LABEL).astype("boolean").mask(lowered.isna())


def label_categories(label: str) -> list[str]:
    """Split a combined label such as ``impossible_travel+large_data_transfer`` into parts."""
    return [part.strip() for part in str(label).split("+") if part.strip()]
