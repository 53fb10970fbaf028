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
are other event types; every skipped event is counted (``RawBatch.skipped``).

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
import pyarrow as pa
import pyarrow.compute as pc

from ztad.ingest.options import option_list, option_str
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
    os_and_browser,
    place,
    quarantine_records,
    regex_matches,
    string_array,
    text,
    upper,
)
from ztad.ingest.streaming.record_columns import RecordColumns

Scalar = str | int | float | bool | None

DEFAULT_EVENT_TYPES = ("user.session.start", "user.authentication.*", "policy.evaluate_sign_on")
SUCCESS_RESULTS = ("SUCCESS", "ALLOW")
FAILURE_RESULTS = ("FAILURE", "DENY")


class _Geolocation(msgspec.Struct, gc=False):
    lat: float | None = None
    lon: float | None = None


class _GeographicalContext(msgspec.Struct, gc=False):
    city: Scalar = None
    country: Scalar = None
    geolocation: _Geolocation | None = None


class _UserAgent(msgspec.Struct, gc=False):
    os: Scalar = None
    browser: Scalar = None


class _Client(msgspec.Struct, gc=False):
    ipAddress: Scalar = None
    userAgent: _UserAgent | None = None
    geographicalContext: _GeographicalContext | None = None


class _Actor(msgspec.Struct, gc=False):
    alternateId: Scalar = None


class _Outcome(msgspec.Struct, gc=False):
    result: Scalar = None


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
    """The parts of an Okta System Log event that ztad reads (others are skipped unread).

    Decoded records hold no reference cycles, so they skip garbage-collector tracking
    (``gc=False``), which makes decoding markedly faster.
    """

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


FIELDS = {
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
    "app": "target",
}


def read(path: str, options: dict) -> Iterator[RawBatch]:
    """Read an Okta System Log export; one batch per block of events.

    Blocks are finished in this thread, not overlapped with decoding the next one: System
    Log events are large and nested, so decoding and taking their fields out hold Python's
    lock almost all the time, and a second thread only adds contention (measured slower).
    """
    wanted = _event_type_pattern(option_list(options, "event_types") or list(DEFAULT_EVENT_TYPES))
    default_resource = option_str(options, "resource", "okta")
    for chunk in iter_json_records(path, LogEvent, options, FIELDS, {"app": applications}):
        events = _batch(chunk, wanted, default_resource, path)
        del chunk  # its block's buffer is free for the next block
        yield events


def _batch(chunk, wanted: str, default_resource: str, source: str) -> RawBatch:
    """The sign-ins of one chunk of decoded events; those without a readable time quarantined."""
    frame, kept = _events(chunk.columns, chunk.rows, wanted, default_resource)
    skipped = np.delete(chunk.rows, kept)  # other event types, sign-ins not yet decided
    bad_time = frame["timestamp"].isna().to_numpy()
    if not bad_time.any():
        return batch(frame, chunk.quarantine, skipped)
    bad = quarantine_records(
        source, frame["source_row"].to_numpy()[bad_time], "published", "missing or unreadable time",
        chunk.raw_at(kept[bad_time]), raw_is_json=True,
    )
    return batch(frame[~bad_time], concat_quarantine([chunk.quarantine, bad]), skipped)


def _event_type_pattern(names: list[str]) -> str:
    """One regular expression matching any of the event type names (``*`` = anything)."""
    return "^(?:" + "|".join(re.escape(name).replace(r"\*", ".*") for name in names) + ")$"


def _events(columns: dict, rows: np.ndarray, wanted: str, default_resource: str):
    """ztad input columns for the sign-in events of one chunk, and the positions kept."""
    result = upper(text(columns["result"]))
    decided = is_in(result, SUCCESS_RESULTS + FAILURE_RESULTS)
    keep = regex_matches(text(columns["event_type"]), wanted, few=True) & decided
    kept = np.flatnonzero(keep)
    if len(kept) < len(keep):
        chosen = pa.array(keep)
        columns = {name: values.filter(chosen) for name, values in columns.items()}
        result = result.filter(chosen)

    def values(name: str) -> pa.Array:
        return text(columns[name])

    device = coalesce(values("device"), values("dt_hash"), os_and_browser(values("os"), values("browser")))
    event_id = pc.binary_join_element_wise("okta:", coalesce(values("uuid"), ""), "")
    frame = pd.DataFrame(
        {
            "timestamp": iso_times(columns["published"], "UTC").array,
            "user_id": string_array(lower(values("user"))),
            "device_id": string_array(device),
            "ip_address": string_array(values("ip")),
            "location": string_array(place(values("city"), values("country"))),
            "latitude": float_column(columns["lat"]),
            "longitude": float_column(columns["lon"]),
            "login_success": is_in(result, SUCCESS_RESULTS),
            "resource_accessed": string_array(coalesce(values("app"), default_resource)),
            "bytes_transferred": np.zeros(len(kept), dtype=np.int64),
            "asn": int_column(columns["asn"]).array,
            "as_org": string_array(values("as_org")),
            "event_id": string_array(event_id),
            "source_row": rows[kept],
        }
    )
    return frame, kept


def applications(targets: list) -> pa.Array:
    """Display name of each event's first ``AppInstance`` target (missing when there is none).

    ``targets`` holds each event's decoded ``target`` list (or None).
    """
    has = np.fromiter(map(bool, targets), dtype=bool, count=len(targets))
    lists = list(compress(targets, has))
    flat = list(chain.from_iterable(lists))
    if not flat:
        return pa.nulls(len(targets), pa.string())
    owners = np.repeat(np.flatnonzero(has), np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)))
    parts = RecordColumns({"type": "type", "name": "displayName"})(flat)
    apps = np.flatnonzero(mask(pc.equal(text(parts["type"]), "AppInstance")))
    first = apps[np.diff(owners[apps], prepend=-1) != 0]  # owners ascend: an owner's first app
    index = np.full(len(targets), -1, dtype=np.int64)
    index[owners[first]] = first
    return text(parts["name"]).take(pa.array(index, mask=index < 0))
