"""Windows Security log sign-ins, from JSON lines as the common shippers write them.

The layout is recognised from the file's first events (or set by option ``layout``):

``winlogbeat``
    Winlogbeat / Elastic Agent (ECS): ``@timestamp``, ``winlog.event_id`` (or ``event.code``),
    ``winlog.computer_name``, ``winlog.record_id`` and ``winlog.event_data.*``.
``elastic``
    The same documents as exported from Elasticsearch, inside their ``_source`` wrapper.
``nxlog``
    NXLog ``im_msvistalog`` + ``to_json()``: ``EventTime`` (local time of the agent, see
    ``timezone``), ``Hostname``, ``EventID``, ``RecordNumber``, with the event data fields
    (``TargetUserName``, ``IpAddress``...) at the top level.
``evtx``
    EVTX-to-JSON exports (``evtx_dump -o jsonl`` and alike): ``Event.System.EventID``,
    ``Event.System.TimeCreated``, ``Event.System.Computer``, ``Event.System.EventRecordID``
    and ``Event.EventData.*``.

Events and their meaning
------------------------
=====  ===============================  ==================  ===============================
 id    what                             success             resource
=====  ===============================  ==================  ===============================
4624   an account logged on             always              the computer
4625   an account failed to log on      never               the computer
4648   logon with explicit credentials  always (allowed)    ``TargetServerName``
4768   Kerberos TGT requested (AS)      ``Status`` is 0     the domain controller
4769   Kerberos service ticket (TGS)    ``Status`` is 0     ``ServiceName`` (the service)
4771   Kerberos pre-authentication      never               the domain controller
4776   NTLM credential validation       ``Status`` is 0     the computer that validated
=====  ===============================  ==================  ===============================

``user_id`` is ``TargetUserName`` in lower case (Windows account names ignore case), without
a Kerberos ``@REALM`` or ``DOMAIN\\`` part, because 4624 logs the NetBIOS domain and 4768 the
realm for the same account. ``ip_address`` is ``IpAddress`` (IPv4-mapped IPv6 unwrapped);
``device_id`` the client's ``WorkstationName`` (4776: ``Workstation``). 4776 events, and
local logons logged with ``IpAddress`` ``-``, carry no client address: they are passed on
without one, and validation quarantines them for it. ``event_id`` is
``win:<computer>:<record id>``, the same whichever shipper carried the event.

Machine accounts (``NAME$``) are filtered by default (option ``keep_machine_accounts``), as
are anonymous and built-in service identities (``ANONYMOUS LOGON``, ``SYSTEM``, ``LOCAL
SERVICE``, ``NETWORK SERVICE``, ``DWM-n``, ``UMFD-n``; option ``keep_anonymous``): they are
not people. Option ``logon_types`` (e.g. ``2,3,10``) keeps only those 4624/4625 logon types.
Other event ids are skipped. A line that is not valid JSON, or whose timestamp or status
cannot be read, is quarantined with its line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat

import msgspec
import numpy as np
import pandas as pd

from ztad.sources.mapping import (
    SourceOptionError,
    batch,
    concat_quarantine,
    iter_json_records,
    option_bool,
    option_list,
    option_str,
    option_timezone,
    parse_times,
    pluck_many,
    regex_matches,
    regex_replace,
    quarantine_records,
    text_column,
)
from ztad.sources.readers import RawBatch, open_binary

Scalar = str | int | float | bool | None

AUTH_EVENTS = (4624, 4625, 4648, 4768, 4769, 4771, 4776)
ALWAYS_SUCCESS = (4624, 4648)
NEVER_SUCCESS = (4625, 4771)
STATUS_DECIDES = (4768, 4769, 4776)
SERVICE_IDENTITIES = r"^(?:anonymous logon|system|local service|network service|dwm-\d+|umfd-\d+)$"
SERVICE_SIDS = ("S-1-5-7", "S-1-5-18", "S-1-5-19", "S-1-5-20")


class EventData(msgspec.Struct, gc=False):
    """The ``EventData`` fields ztad reads (named as Windows names them).

    Decoded records hold no reference cycles, so they skip garbage-collector tracking
    (``gc=False``), which makes decoding markedly faster.
    """

    TargetUserName: Scalar = None
    TargetUserSid: Scalar = None
    TargetSid: Scalar = None
    LogonType: Scalar = None
    Status: Scalar = None
    IpAddress: Scalar = None
    WorkstationName: Scalar = None
    Workstation: Scalar = None
    TargetServerName: Scalar = None
    ServiceName: Scalar = None


class _Winlog(msgspec.Struct, gc=False):
    event_id: Scalar = None
    computer_name: Scalar = None
    record_id: Scalar = None
    event_data: EventData | None = None


class _EcsEvent(msgspec.Struct, gc=False):
    code: Scalar = None


class WinlogbeatRecord(msgspec.Struct, rename={"timestamp": "@timestamp"}, gc=False):
    """Winlogbeat / Elastic Agent document."""

    timestamp: Scalar = None
    winlog: _Winlog | None = None
    event: _EcsEvent | None = None


class ElasticHit(msgspec.Struct, rename={"source": "_source"}, gc=False):
    """A document as exported from Elasticsearch (``_index``, ``_id``, ``_source``)."""

    source: WinlogbeatRecord | None = None


class NxlogRecord(EventData):
    """NXLog ``im_msvistalog`` record: event data fields at the top level."""

    EventTime: Scalar = None
    Hostname: Scalar = None
    EventID: Scalar = None
    RecordNumber: Scalar = None


class _EvtxAttributes(msgspec.Struct, gc=False):
    SystemTime: Scalar = None


class _EvtxTime(msgspec.Struct, rename={"attributes": "#attributes"}, gc=False):
    attributes: _EvtxAttributes | None = None
    SystemTime: Scalar = None


class _EvtxText(msgspec.Struct, rename={"text": "#text"}, gc=False):
    """An element with attributes: ``{"#text": 4624, "#attributes": {...}}`` or ``{"Value": ...}``."""

    text: Scalar = None
    Value: Scalar = None


class _EvtxSystem(msgspec.Struct, gc=False):
    EventID: Scalar | _EvtxText = None
    EventRecordID: Scalar = None
    Computer: Scalar = None
    TimeCreated: _EvtxTime | None = None


class _EvtxEvent(msgspec.Struct, gc=False):
    System: _EvtxSystem | None = None
    EventData: EventData | None = None


class EvtxRecord(msgspec.Struct, gc=False):
    """EVTX record converted to JSON (``{"Event": {"System": ..., "EventData": ...}}``)."""

    Event: _EvtxEvent | None = None


_DATA_FIELDS = tuple(EventData.__struct_fields__)

#: layout -> (record type, attribute path of each column; event data fields under a prefix).
LAYOUTS = {
    "winlogbeat": (
        WinlogbeatRecord,
        {"time": "timestamp", "event": "winlog.event_id", "code": "event.code",
         "computer": "winlog.computer_name", "record": "winlog.record_id"},
        "winlog.event_data.",
    ),
    "elastic": (
        ElasticHit,
        {"time": "source.timestamp", "event": "source.winlog.event_id", "code": "source.event.code",
         "computer": "source.winlog.computer_name", "record": "source.winlog.record_id"},
        "source.winlog.event_data.",
    ),
    "nxlog": (
        NxlogRecord,
        {"time": "EventTime", "event": "EventID", "computer": "Hostname", "record": "RecordNumber"},
        "",
    ),
    "evtx": (
        EvtxRecord,
        {"time": "Event.System.TimeCreated.attributes.SystemTime",
         "time_plain": "Event.System.TimeCreated.SystemTime", "event": "Event.System.EventID",
         "computer": "Event.System.Computer", "record": "Event.System.EventRecordID"},
        "Event.EventData.",
    ),
}

_MARKERS = (
    ("elastic", rb'"_source"\s*:'),
    ("winlogbeat", rb'"winlog"\s*:'),
    ("evtx", rb'"Event"\s*:\s*\{'),
    ("nxlog", rb'"EventID"\s*:'),
)


def read(path: str, options: dict) -> Iterator[RawBatch]:
    """Read Windows Security events (JSON lines); one batch per block of lines."""
    layout = option_str(options, "layout") or detect_layout(path)
    if layout not in LAYOUTS:
        raise SourceOptionError(f"option 'layout' must be one of {sorted(LAYOUTS)}, not {layout!r}")
    record_type, paths, data_prefix = LAYOUTS[layout]
    settings = _Settings.from_options(options)
    for chunk in iter_json_records(path, record_type, options):
        wanted = {**paths, **{name: data_prefix + name for name in _DATA_FIELDS}}
        columns = pluck_many(chunk.records, wanted)
        frame, bad = _events(columns, chunk, settings, path)
        yield batch(frame, concat_quarantine([chunk.quarantine, bad]))


def detect_layout(path: str) -> str:
    """Tell the shipper's layout from the first 64 KiB of the file."""
    with open_binary(path) as stream:
        head = stream.read(65536)
    for name, marker in _MARKERS:
        if re.search(marker, head):
            return name
    raise SourceOptionError(
        f"{path}: not a Windows event layout ztad knows (winlogbeat, elastic, nxlog, evtx); "
        "set option 'layout' if the file's first events are not typical"
    )


@dataclass(frozen=True)
class _Settings:
    """Filters and time zone from the source options."""

    keep_machines: bool
    keep_anonymous: bool
    logon_types: list[str] | None
    zone: str

    @classmethod
    def from_options(cls, options: dict) -> "_Settings":
        return cls(
            option_bool(options, "keep_machine_accounts", False),
            option_bool(options, "keep_anonymous", False),
            option_list(options, "logon_types"),
            option_timezone(options),
        )


def _events(columns: dict, chunk, settings: _Settings, source: str):
    """Turn decoded columns into ztad input columns; return (frame, quarantine)."""
    event = _event_ids(columns)
    data = {name: text_column(columns[name]) for name in _DATA_FIELDS}
    keep = event.isin(AUTH_EVENTS).fillna(False).to_numpy()
    keep &= _people(data, settings) & _logon_types(event, data, settings)
    event = event[keep].reset_index(drop=True)
    data = {name: values[keep].reset_index(drop=True) for name, values in data.items()}
    computer = text_column(columns["computer"])[keep].str.lower().reset_index(drop=True)
    record = text_column(columns["record"])[keep].reset_index(drop=True)
    kept = np.flatnonzero(keep)
    rows = chunk.rows[kept]
    success, status_known = _success(event, data["Status"])
    timestamps = _timestamps(columns, keep, settings.zone)
    frame = pd.DataFrame(
        {
            "timestamp": timestamps,
            "user_id": _account(data["TargetUserName"]),
            "device_id": _workstation(data["WorkstationName"].fillna(data["Workstation"])),
            "ip_address": _address(data["IpAddress"]),
            "login_success": success,
            "resource_accessed": _resource(event, data, computer),
            "bytes_transferred": np.zeros(len(event), dtype=np.int64),
            "event_id": "win:" + computer.fillna("") + ":" + record.fillna(""),
            "source_row": rows,
        }
    )
    bad_time = timestamps.isna().to_numpy()
    bad_status = ~status_known & ~bad_time
    quarantine = concat_quarantine(
        [
            quarantine_records(
                source, rows[bad_time], "timestamp", "missing or unreadable event time",
                chunk.raw_at(kept[bad_time]), raw_is_json=True,
            ),
            quarantine_records(
                source, rows[bad_status], "Status", "missing or unreadable Status",
                chunk.raw_at(kept[bad_status]), raw_is_json=True,
            ),
        ]
    )
    return frame[~(bad_time | bad_status)], quarantine


def _event_ids(columns: dict) -> pd.Series:
    """Numeric event id; EVTX elements with attributes carry it in ``#text`` or ``Value``."""
    values = columns["event"]
    if _EvtxText in set(map(type, values)):
        text = text_column(list(map(getattr, values, repeat("text"), values)))
        values = text.fillna(text_column(list(map(getattr, values, repeat("Value"), repeat(None)))))
    number = text_column(values)
    if "code" in columns:
        number = number.fillna(text_column(columns["code"]))
    return pd.to_numeric(number, errors="coerce").astype("Int64")


def _people(data: dict, settings: _Settings) -> np.ndarray:
    """False for machine accounts and service identities unless the options keep them."""
    name = data["TargetUserName"].str.lower()
    sid = data["TargetUserSid"].fillna(data["TargetSid"])
    keep = np.ones(len(name), dtype=bool)
    if not settings.keep_machines:
        keep &= ~name.str.endswith("$", na=False).to_numpy()
    if not settings.keep_anonymous:
        service = regex_matches(name, SERVICE_IDENTITIES) | sid.isin(SERVICE_SIDS).fillna(False).to_numpy()
        keep &= ~service
    return keep


def _logon_types(event: pd.Series, data: dict, settings: _Settings) -> np.ndarray:
    """True where the logon type is wanted (only 4624/4625 have one)."""
    if not settings.logon_types:
        return np.ones(len(event), dtype=bool)
    has_type = event.isin((4624, 4625)).fillna(False).to_numpy()
    wanted = data["LogonType"].isin(settings.logon_types).fillna(False).to_numpy()
    return ~has_type | wanted


def _success(event: pd.Series, status: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Success per event id; for Kerberos/NTLM events, ``Status`` 0 (any hex spelling)."""
    digits = regex_replace(status.str.lower(), r"^0x0*", "").str.lstrip("0")
    readable = regex_matches(digits, r"^[0-9a-f]*$")
    by_status = event.isin(STATUS_DECIDES).to_numpy()
    success = event.isin(ALWAYS_SUCCESS).to_numpy() | (by_status & (digits == "").fillna(False).to_numpy())
    return success, ~by_status | readable


def _timestamps(columns: dict, keep: np.ndarray, zone: str) -> pd.Series:
    """UTC event times; NXLog's zone-less ``EventTime`` is local to option ``timezone``."""
    text = text_column(columns["time"])
    if "time_plain" in columns:
        text = text.fillna(text_column(columns["time_plain"]))
    return parse_times(text[keep].reset_index(drop=True), zone)


def _account(name: pd.Series) -> pd.Series:
    """Lower-case account name without ``DOMAIN\\`` or ``@REALM``."""
    return regex_replace(name.str.lower(), r"^[^\\]*\\|@.*$", "")


def _workstation(name: pd.Series) -> pd.Series:
    """Client computer name, without a UNC ``\\\\`` prefix, in lower case."""
    return name.str.lstrip("\\").str.lower()


def _address(ip: pd.Series) -> pd.Series:
    """IpAddress with IPv4-mapped IPv6 (``::ffff:10.0.0.5``) unwrapped."""
    return regex_replace(ip.str.lower(), r"^::ffff:(\d+\.\d+\.\d+\.\d+)$", r"\1")


def _resource(event: pd.Series, data: dict, computer: pd.Series) -> pd.Series:
    """The service (4769), the target server (4648), else the computer that logged it."""
    service = data["ServiceName"].str.lower().str.rstrip("$")
    service = service.where(~service.str.startswith("krbtgt", na=False))
    server = data["TargetServerName"].str.lower()
    server = server.where(~server.isin(["localhost", "127.0.0.1", "::1"]))
    resource = computer.copy()
    resource = resource.mask((event == 4769).to_numpy() & service.notna().to_numpy(), service)
    resource = resource.mask((event == 4648).to_numpy() & server.notna().to_numpy(), server)
    return resource
