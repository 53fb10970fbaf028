"""Windows Security log sign-ins, from JSON lines as the common shippers write them.

The layout is recognised from the file's first events (or set by option ``layout``):

``winlogbeat``
    Winlogbeat / Elastic Agent (ECS): ``@timestamp``, ``winlog.event_id`` (or ``event.code``),
    ``winlog.computer_name``, ``winlog.record_id`` and ``winlog.event_data.*``.
``elastic``
    The same documents as exported from Elasticsearch, inside their ``_source`` wrapper.
``nxlog``
    NXLog ``im_msvistalog`` + ``to_json()``: ``EventTime`` (local time of the agent, see
    ``timezone``; a UTC ``@timestamp`` or ``EventTimeUTC`` wins when present, and a number
    is a Unix time), ``Hostname``, ``EventID``, ``RecordNumber``, with the event data fields
    (``TargetUserName``, ``IpAddress``...) at the top level.
``evtx``
    EVTX-to-JSON exports (``evtx_dump -o jsonl``, or its default ``-o json``: ``Record <n>``
    lines, each followed by the record as indented JSON, read one record per line numbered
    by record): ``Event.System.EventID``,
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
local logons logged with ``IpAddress`` ``-``, carry no client address: they are kept with a
null ``ip_address`` and judged by their workstation (``device_id``) instead. ``event_id`` is
``win:<computer>:<record id>``, the same whichever shipper carried the event.

Machine accounts (``NAME$``, also as ``NAME$@REALM`` in Kerberos events: the realm is
stripped first) are filtered by default (option ``keep_machine_accounts``), as
are anonymous and built-in service identities (``ANONYMOUS LOGON``, ``SYSTEM``, ``LOCAL
SERVICE``, ``NETWORK SERVICE``, ``DWM-n``, ``UMFD-n``; option ``keep_anonymous``): they are
not people. Option ``logon_types`` (e.g. ``2,3,10``) keeps only those 4624/4625 logon types.
Other event ids are skipped; every skipped record is counted (``RawBatch.skipped``). A line
that is not valid JSON, or whose timestamp or status
cannot be read, is quarantined with its line number.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from itertools import repeat

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ztad.ingest.options import SourceOptionError, option_bool, option_list, option_str, option_timezone
from ztad.ingest.readers import RawBatch, open_binary
from ztad.ingest.streaming.json_stream import iter_json_records
from ztad.ingest.streaming.output import (
    batch,
    coalesce,
    concat_quarantine,
    contains,
    integers,
    is_in,
    iso_times,
    lower,
    mask,
    no_quarantine,
    quarantine_records,
    regex_matches,
    regex_replace,
    starts_with,
    string_series,
    text,
    values_array,
    whole,
)
from ztad.ingest.streaming.overlap import overlapped

Scalar = str | int | float | bool | None

AUTH_EVENTS = (4624, 4625, 4648, 4768, 4769, 4771, 4776)
ALWAYS_SUCCESS = (4624, 4648)
NEVER_SUCCESS = (4625, 4771)
STATUS_DECIDES = (4768, 4769, 4776)
SERVICE_IDENTITIES = r"^(?:anonymous logon|system|local service|network service|dwm-\d+|umfd-\d+)$"
SERVICE_NAMES = ("anonymous logon", "system", "local service", "network service")
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


class NxlogRecord(EventData, rename={"timestamp": "@timestamp"}):
    """NXLog ``im_msvistalog`` record: event data fields at the top level.

    ``EventTime`` is the agent's local time; a UTC time the pipeline added (``@timestamp``,
    ``EventTimeUTC``) wins over it.
    """

    timestamp: Scalar = None
    EventTimeUTC: Scalar = None
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
        {"time": "EventTime", "utc": "timestamp", "utc_named": "EventTimeUTC", "event": "EventID",
         "computer": "Hostname", "record": "RecordNumber"},
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
    if layout is None:  # an empty file: no events
        return
    if layout not in LAYOUTS:
        raise SourceOptionError(f"option 'layout' must be one of {sorted(LAYOUTS)}, not {layout!r}")
    record_type, paths, data_prefix = LAYOUTS[layout]
    settings = _Settings.from_options(options)
    fields = {**paths, **{name: data_prefix + name for name in _DATA_FIELDS}}
    convert = {"event": evtx_event_ids} if layout == "evtx" else {}
    with _one_record_per_line(path) as lines:
        chunks = iter_json_records(lines, record_type, options, fields, convert)
        yield from overlapped(chunks, partial(_batch, settings=settings, source=path))


#: ``evtx_dump -o json`` (its default) writes ``Record <n>`` and then the record as indented
#: JSON, whose last line is a ``}`` of its own.
_PRETTY_START = re.compile(rb"\A\s*(?:Record \d+\s*\n\s*)?\{\s*\n")
_RECORD_HEADER = re.compile(rb"(?m)^Record \d+\r?$\n?")


@contextlib.contextmanager
def _one_record_per_line(path: str):
    """``path`` itself, or for indented records (``evtx_dump -o json``) a temporary file of
    the same records one per line, numbered by record.

    JSON text holds no raw line break inside a string, so joining a record's lines is safe;
    it is done a block at a time in C (bytes replacements), never line by line.
    """
    with open_binary(path) as stream:
        head = stream.read(4096)
    if not _PRETTY_START.match(head):
        yield path
        return
    with open_binary(path) as stream, tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as out:
        carry = b""
        while True:
            data = stream.read(16 << 20)
            block = (carry + data).replace(b"\r\n", b"\n")
            cut = len(block) if not data else block.rfind(b"\n}\n") + 3
            if cut < 3 and data:
                carry = block
                continue
            carry = block[cut:]
            joined = _RECORD_HEADER.sub(b"", block[:cut]).replace(b"\n}\n", b"\n}\x1e")
            out.write(joined.replace(b"\n", b" ").replace(b"\x1e", b"\n"))
            if not data:
                break
    try:
        yield out.name
    finally:
        os.unlink(out.name)


def _batch(chunk, settings: _Settings, source: str) -> RawBatch:
    """The events, quarantine and skipped records of one chunk of decoded records."""
    frame, bad, skipped = _events(chunk.columns, chunk, settings, source)
    undecoded = chunk.quarantine.assign(source=source) if len(chunk.quarantine) else chunk.quarantine
    return batch(frame, concat_quarantine([undecoded, bad]), skipped)


def detect_layout(path: str) -> str | None:
    """Tell the shipper's layout from the first 64 KiB of the file (None when it is empty)."""
    with open_binary(path) as stream:
        head = stream.read(65536)
    if not head.strip():
        return None
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
    """Turn decoded columns into ztad input columns; return (frame, quarantine, skipped rows).

    Skipped: events that are not sign-ins, accounts that are not people, logon types not
    asked for.
    """
    event = _event_ids(columns)
    name, logon_type = _account(text(columns["TargetUserName"])), text(columns["LogonType"])
    sid = coalesce(text(columns["TargetUserSid"]), text(columns["TargetSid"]))
    keep = is_in(event, AUTH_EVENTS) & _people(name, sid, settings) & _logon_types(event, logon_type, settings)
    skipped = chunk.rows[~keep]
    kept = np.flatnonzero(keep)
    if len(kept) < len(keep):
        chosen = pa.array(keep)
        columns = {key: values.filter(chosen) for key, values in columns.items()}
        event, name = event.filter(chosen), name.filter(chosen)
    data = {key: text(columns[key]) for key in ("Status", "IpAddress", "WorkstationName", "Workstation",
                                                "TargetServerName", "ServiceName")}
    computer = lower(text(columns["computer"]))
    record = text(columns["record"])
    rows = chunk.rows[kept]
    success, status_known = _success(event, data["Status"])
    timestamps = _timestamps(columns, settings.zone)
    frame = pd.DataFrame(
        {
            "timestamp": timestamps,
            "user_id": string_series(name),
            "device_id": string_series(_workstation(coalesce(data["WorkstationName"], data["Workstation"]))),
            "ip_address": string_series(_address(data["IpAddress"])),
            "login_success": success,
            "resource_accessed": string_series(_resource(event, data, computer)),
            "bytes_transferred": np.zeros(len(kept), dtype=np.int64),
            "event_id": string_series(
                pc.binary_join_element_wise("win:", coalesce(computer, ""), ":", coalesce(record, ""), "")
            ),
            "source_row": rows,
        }
    )
    bad_time = timestamps.isna().to_numpy()
    bad_status = ~status_known & ~bad_time
    if not (bad_time.any() or bad_status.any()):
        return frame, no_quarantine(), skipped
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
    return frame[~(bad_time | bad_status)], quarantine, skipped


def evtx_event_ids(values: list) -> pa.Array:
    """EVTX event ids: elements with attributes carry the id in ``#text`` or ``Value``."""
    if _EvtxText not in set(map(type, values)):
        return values_array(values)
    plain = text(list(map(getattr, values, repeat("text"), values)))
    return coalesce(plain, text(list(map(getattr, values, repeat("Value"), repeat(None)))))


def _event_ids(columns: dict) -> pa.Array:
    """Numeric event id (ECS documents may carry it in ``event.code`` only)."""
    number = integers(columns["event"])
    if "code" in columns and number.null_count:
        absent = pa.array(mask(pc.is_null(text(columns["event"]))))
        number = pc.if_else(absent, integers(columns["code"]), number)
    return number


def _people(name: pa.Array, sid: pa.Array, settings: _Settings) -> np.ndarray:
    """False for machine accounts and service identities unless the options keep them."""
    name = lower(name)
    keep = np.ones(len(name), dtype=bool)
    if not settings.keep_machines:
        keep &= ~mask(pc.ends_with(name, "$"))
    if not settings.keep_anonymous:
        numbered = starts_with(name, "dwm-", "umfd-")
        if numbered.any():
            numbered &= regex_matches(name, SERVICE_IDENTITIES)
        keep &= ~(is_in(name, SERVICE_NAMES) | numbered | is_in(sid, SERVICE_SIDS))
    return keep


def _logon_types(event: pa.Array, logon_type: pa.Array, settings: _Settings) -> np.ndarray:
    """True where the logon type is wanted (only 4624/4625 have one)."""
    if not settings.logon_types:
        return np.ones(len(event), dtype=bool)
    return ~is_in(event, (4624, 4625)) | is_in(logon_type, settings.logon_types)


def _success(event: pa.Array, status: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Success per event id; for Kerberos/NTLM events, ``Status`` 0 (any hex spelling).

    Returns (success, status readable); the status is read for those events only.
    """
    success = is_in(event, ALWAYS_SUCCESS)
    readable = np.ones(len(event), dtype=bool)
    by_status = is_in(event, STATUS_DECIDES)
    if by_status.any():
        status = lower(status.filter(pa.array(by_status)))
        hexadecimal = pa.array(starts_with(status, "0x"))
        digits = pc.utf8_ltrim(pc.if_else(hexadecimal, pc.utf8_slice_codeunits(status, 2), status), characters="0")
        readable[by_status] = regex_matches(digits, r"^[0-9a-f]*$")
        success[by_status] = mask(pc.equal(digits, ""))
    return success, readable


def _timestamps(columns: dict, zone: str) -> pd.Series:
    """UTC event times.

    A UTC time wins wherever the record has one (NXLog: ``@timestamp``, ``EventTimeUTC``);
    NXLog's zone-less ``EventTime`` is local to option ``timezone``. A time written as a
    number is a Unix time in UTC (seconds, milliseconds or microseconds by its size, as
    NXLog's ``integer($EventTime)`` gives microseconds).
    """
    times = _epoch_as_text(columns["time"])
    if "time_plain" in columns:
        times = coalesce(times, text(columns["time_plain"]))
    local = iso_times(times, zone)
    if "utc" not in columns:
        return local
    utc = iso_times(coalesce(_epoch_as_text(columns["utc"]), _epoch_as_text(columns["utc_named"])), "UTC")
    return utc.where(utc.notna(), local)


def _epoch_as_text(values) -> pa.Array:
    """Times as ISO text; numbers (or text of digits only) are Unix times in UTC, in seconds,
    milliseconds or microseconds by their size."""
    times = text(values)
    epoch = regex_matches(times, r"^\d{9,}(?:\.\d+)?$")
    if not epoch.any():
        return times
    number = pc.cast(times.filter(pa.array(epoch)), pa.float64()).to_numpy(zero_copy_only=False)
    scale = np.where(number >= 1e14, 1.0, np.where(number >= 1e11, 1e3, 1e6))
    stamps = pd.to_datetime(pd.Series(np.round(number * scale)).astype("Int64"), unit="us", utc=True, errors="coerce")
    written = pa.array(stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype("string").array, type=pa.string())
    return pc.replace_with_mask(whole(times), pa.array(epoch), written)


def _account(name: pa.Array) -> pa.Array:
    """Lower-case account name without ``DOMAIN\\`` or ``@REALM``."""
    name = lower(name)
    return regex_replace(name, r"^[^\\]*\\|@.*$", "", where=contains(name, "\\", "@"))


def _workstation(name: pa.Array) -> pa.Array:
    """Client computer name, without a UNC ``\\\\`` prefix, in lower case."""
    return lower(pc.utf8_ltrim(name, characters="\\"))


def _address(ip: pa.Array) -> pa.Array:
    """IpAddress with IPv4-mapped IPv6 (``::ffff:10.0.0.5``) unwrapped."""
    ip = lower(ip)
    return regex_replace(ip, r"^::ffff:(\d+\.\d+\.\d+\.\d+)$", r"\1", where=starts_with(ip, "::ffff:"))


def _resource(event: pa.Array, data: dict, computer: pa.Array) -> pa.Array:
    """The service (4769), the target server (4648), else the computer that logged it."""
    resource = computer
    for event_id, column in ((4769, "ServiceName"), (4648, "TargetServerName")):
        rows = is_in(event, [event_id])
        if not rows.any():
            continue
        name = lower(data[column].filter(pa.array(rows)))
        if event_id == 4769:
            name = pc.utf8_rtrim(name, characters="$")
            usable = mask(pc.is_valid(name)) & ~starts_with(name, "krbtgt")
        else:
            usable = mask(pc.is_valid(name)) & ~is_in(name, ["localhost", "127.0.0.1", "::1"])
        rows[rows] = usable
        resource = pc.replace_with_mask(whole(resource), pa.array(rows), whole(name.filter(pa.array(usable))))
    return resource
