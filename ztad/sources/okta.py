"""Okta sign-ins from the System Log, as its API returns them (a JSON array) or as JSON lines.

Each System Log ``LogEvent`` has ``uuid``, ``published``, ``eventType``, ``actor``,
``client`` (``ipAddress``, ``device``, ``userAgent``, ``geographicalContext`` with city,
country and ``geolocation.lat/lon``), ``outcome`` (``result``, ``reason``), ``target``,
``securityContext`` (``asNumber``, ``asOrg``...) and ``debugContext.debugData``.

Which events
------------
``user.session.start``, ``user.authentication.*`` and ``policy.evaluate_sign_on`` (option
``event_types``: comma-separated names, ``*`` as a wildcard, replaces the default).
``outcome.result`` SUCCESS or ALLOW is a success, FAILURE or DENY a failure; CHALLENGE,
SKIPPED and UNKNOWN are steps of a sign-in that has not been decided yet and are skipped, as
are other event types.

Columns
-------
``user_id`` is ``actor.alternateId`` (the login) in lower case; ``ip_address`` is
``client.ipAddress``; ``location`` is "City, Country" with Okta's own coordinates in
``latitude``/``longitude``, and ``asn``/``as_org`` come from ``securityContext``.
``device_id`` is the registered device (``device.id``) when Okta Verify reports one, else
the device token hash (``debugData.dtHash``), else the operating system and browser of the
user agent (a coarse but stable stand-in). ``resource_accessed`` is the application signed
into (the ``AppInstance`` target), or option ``resource`` (default ``okta``) for sign-ins to
Okta itself. ``event_id`` is ``okta:<uuid>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain, compress

import msgspec
import numpy as np
import pandas as pd

from ztad.geoip import format_place
from ztad.sources.mapping import (
    batch,
    concat_quarantine,
    iter_json_records,
    option_list,
    option_str,
    os_and_browser,
    parse_times,
    pluck_many,
    quarantine_records,
    regex_matches,
    text_column,
)
from ztad.sources.readers import RawBatch

Scalar = str | int | float | bool | None

DEFAULT_EVENT_TYPES = ("user.session.start", "user.authentication.*", "policy.evaluate_sign_on")
SUCCESS_RESULTS = ("SUCCESS", "ALLOW")
FAILURE_RESULTS = ("FAILURE", "DENY")


class _Geolocation(msgspec.Struct, gc=False):
    lat: float | None = None
    lon: float | None = None


class _GeographicalContext(msgspec.Struct, gc=False):
    city: Scalar = None
    state: Scalar = None
    country: Scalar = None
    geolocation: _Geolocation | None = None


class _UserAgent(msgspec.Struct, gc=False):
    rawUserAgent: Scalar = None
    os: Scalar = None
    browser: Scalar = None


class _Client(msgspec.Struct, gc=False):
    ipAddress: Scalar = None
    device: Scalar = None
    userAgent: _UserAgent | None = None
    geographicalContext: _GeographicalContext | None = None


class _Actor(msgspec.Struct, gc=False):
    alternateId: Scalar = None
    type: Scalar = None


class _Outcome(msgspec.Struct, gc=False):
    result: Scalar = None
    reason: Scalar = None


class _Target(msgspec.Struct, gc=False):
    type: Scalar = None
    displayName: Scalar = None


class _SecurityContext(msgspec.Struct, gc=False):
    asNumber: Scalar = None
    asOrg: Scalar = None


class _DebugData(msgspec.Struct, gc=False):
    dtHash: Scalar = None


class _DebugContext(msgspec.Struct, gc=False):
    debugData: _DebugData | None = None


class _Device(msgspec.Struct, gc=False):
    id: Scalar = None


class LogEvent(msgspec.Struct, gc=False):
    """The parts of an Okta System Log event that ztad reads (others are skipped)."""

    uuid: Scalar = None
    published: Scalar = None
    eventType: Scalar = None
    actor: _Actor | None = None
    client: _Client | None = None
    outcome: _Outcome | None = None
    target: list[_Target] | None = None
    securityContext: _SecurityContext | None = None
    debugContext: _DebugContext | None = None
    device: _Device | None = None


PATHS = {
    "uuid": "uuid",
    "published": "published",
    "event_type": "eventType",
    "user": "actor.alternateId",
    "ip": "client.ipAddress",
    "city": "client.geographicalContext.city",
    "country": "client.geographicalContext.country",
    "lat": "client.geographicalContext.geolocation.lat",
    "lon": "client.geographicalContext.geolocation.lon",
    "os": "client.userAgent.os",
    "browser": "client.userAgent.browser",
    "result": "outcome.result",
    "asn": "securityContext.asNumber",
    "as_org": "securityContext.asOrg",
    "dt_hash": "debugContext.debugData.dtHash",
    "device": "device.id",
    "target": "target",
}


def read(path: str, options: dict) -> Iterator[RawBatch]:
    """Read an Okta System Log export; one batch per block of events."""
    wanted = _event_type_pattern(option_list(options, "event_types") or list(DEFAULT_EVENT_TYPES))
    default_resource = option_str(options, "resource", "okta")
    for chunk in iter_json_records(path, LogEvent, options):
        columns = pluck_many(chunk.records, PATHS)
        frame, keep = _events(columns, chunk.rows, wanted, default_resource)
        bad_time = frame["timestamp"].isna().to_numpy()
        bad = quarantine_records(
            path, frame["source_row"].to_numpy()[bad_time], "published", "missing or unreadable time",
            chunk.raw_at(np.flatnonzero(keep)[bad_time]), raw_is_json=True,
        )
        yield batch(frame[~bad_time], concat_quarantine([chunk.quarantine, bad]))


def _event_type_pattern(names: list[str]) -> str:
    """One regular expression matching any of the event type names (``*`` = anything)."""
    return "^(?:" + "|".join(re.escape(name).replace(r"\*", ".*") for name in names) + ")$"


def _events(columns: dict, rows: np.ndarray, wanted: str, default_resource: str):
    """ztad input columns for the sign-in events of one chunk, and the mask of kept records."""
    event_type = text_column(columns["event_type"])
    result = text_column(columns["result"]).str.upper()
    decided = result.isin(SUCCESS_RESULTS + FAILURE_RESULTS).fillna(False).to_numpy()
    keep = regex_matches(event_type, wanted) & decided

    def text(name: str) -> pd.Series:
        return text_column(columns[name])[keep].reset_index(drop=True)

    frame = pd.DataFrame(
        {
            "timestamp": parse_times(text("published"), "UTC"),
            "user_id": text("user").str.lower(),
            "device_id": text("device").fillna(text("dt_hash")).fillna(os_and_browser(text("os"), text("browser"))),
            "ip_address": text("ip"),
            "location": format_place(text("city"), text("country")),
            "latitude": pd.to_numeric(text("lat"), errors="coerce").astype("float64"),
            "longitude": pd.to_numeric(text("lon"), errors="coerce").astype("float64"),
            "login_success": result[keep].isin(SUCCESS_RESULTS).to_numpy(),
            "resource_accessed": _applications(list(compress(columns["target"], keep))).fillna(default_resource),
            "bytes_transferred": np.zeros(int(keep.sum()), dtype=np.int64),
            "asn": pd.to_numeric(text("asn"), errors="coerce").astype("Int64"),
            "as_org": text("as_org"),
            "event_id": "okta:" + text("uuid").fillna(""),
            "source_row": rows[keep],
        }
    )
    return frame, keep


def _applications(targets: list) -> pd.Series:
    """Display name of each event's first ``AppInstance`` target (NA when there is none)."""
    has = np.fromiter(map(bool, targets), dtype=bool, count=len(targets))
    lists = list(compress(targets, has))
    owners = np.repeat(np.flatnonzero(has), np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)))
    flat = list(chain.from_iterable(lists))
    parts = pluck_many(flat, {"type": "type", "name": "displayName"})
    apps = pd.DataFrame({"owner": owners, "type": text_column(parts["type"]), "name": text_column(parts["name"])})
    first = apps[(apps["type"] == "AppInstance").fillna(False)].drop_duplicates("owner").set_index("owner")["name"]
    return first.reindex(range(len(targets))).astype("string").reset_index(drop=True)
