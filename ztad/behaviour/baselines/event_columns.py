"""The columns of canonical events that baselines read, and the values derived from them
(network prefix, autonomous system, log-bytes, coordinates)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ztad.behaviour.baselines.arrays import few_texts, frame_of
from ztad.ingest import gazetteer

#: Pair tables: name -> the canonical event column paired with ``user_id`` (``network`` is
#: derived from ``ip_address``, see :func:`network_prefix`; ``asn`` is the address's autonomous
#: system, see :func:`asn_text`). A day saved before a pair kind existed simply has no pairs
#: of that kind.
PAIR_COLUMNS: dict[str, str] = {
    "device": "device_id",
    "ip": "ip_address",
    "network": "network",
    "asn": "asn",
    "city": "location",
    "resource": "resource",
}


#: Columns :func:`daily_aggregate` reads.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "timestamp", "user_id", "device_id", "ip_address", "location", "latitude", "longitude",
    "department", "login_success", "resource", "bytes_transferred",
)


#: An IPv4 address, its first two numbers captured. ``\p{Nd}`` and the optional newline before
#: the end read as Python's ``\d`` and ``$`` do, so the prefixes match those of earlier days.
_IPV4 = r"^(\p{Nd}{1,3})\.(\p{Nd}{1,3})\.\p{Nd}{1,3}\.\p{Nd}{1,3}\n?$"
#: :data:`_IPV4` for text that is all ASCII, where ``\p{Nd}`` is ``[0-9]``: the same matches,
#: and Arrow compiles it in microseconds rather than the better part of a millisecond (every
#: request of the scoring service pays that).
_IPV4_ASCII = _IPV4.replace(r"\p{Nd}", "[0-9]")
#: An IPv6 address's text up to its second colon.
_IPV6_HEAD = r"(?s)^([^:]*:?[^:]*).*$"


def network_prefix(ips: pd.Series) -> pd.Series:
    """The network an address belongs to: its IPv4 /16 or IPv6 /32 (distinct values parsed once).

    Without ASN data a /16 stands in for the provider's network: a VPN pool, a mobile carrier
    or a home ISP hands out changing addresses inside one, an attacker's source is elsewhere.
    Anything that is not an IP address is kept as it is. The distinct addresses are parsed by
    Arrow's regular expressions, not one Python call per address: a day of a million events
    holds tens of thousands of them.
    """
    if not (isinstance(ips, pd.Series) and ips.dtype == _TEXT):  # canonical events hold text already
        ips = pd.Series(ips, dtype="string")
    values = pa.array(ips.array)
    if len(values) <= _FEW_ADDRESSES:
        few = pa.array([_prefix(ip) for ip in values.to_pylist()], values.type)
        return pd.Series(pd.arrays.ArrowStringArray(few), index=ips.index, copy=False)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = values.dictionary_encode()
    distinct = encoded.dictionary
    ascii_only = pc.all(pc.string_is_ascii(distinct)).as_py() is not False
    prefix = pc.replace_substring_regex(distinct, _IPV4_ASCII if ascii_only else _IPV4, r"\1.\2.0.0/16")
    v6 = pc.match_substring(distinct, ":")
    if pc.any(v6).as_py():  # the IPv6 text work only for days that have IPv6 addresses
        head = pc.utf8_rtrim(pc.replace_substring_regex(distinct, _IPV6_HEAD, r"\1"), ":")
        suffix, nothing = pa.scalar("::/32", head.type), pa.scalar("", head.type)
        prefix = pc.if_else(v6, pc.binary_join_element_wise(head, suffix, nothing), prefix)
    return pd.Series(pd.array(prefix.take(encoded.indices), dtype="string"), index=ips.index)


#: Text as canonical events hold it (Arrow-backed, ``NA`` for missing).
_TEXT = pd.StringDtype()

#: Up to this many addresses, prefixes are read by Python's regular expressions, one address at
#: a time: Arrow's kernels cost tens of microseconds a call however few the addresses.
_FEW_ADDRESSES = 64
#: :data:`_IPV4` and :data:`_IPV6_HEAD` for Python's ``re`` (whose ``\d`` is ``\p{Nd}``; ``\Z``
#: is RE2's ``$``, the very end of the text).
_IPV4_PYTHON = re.compile(r"^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}\n?\Z")
_IPV6_HEAD_PYTHON = re.compile(r"[^:]*:?[^:]*")


def _prefix(ip: str | None) -> str | None:
    """:func:`network_prefix` of one address (``None`` for none)."""
    if ip is None:
        return None
    if ":" in ip:
        return _IPV6_HEAD_PYTHON.match(ip).group().rstrip(":") + "::/32"
    return _IPV4_PYTHON.sub(r"\1.\2.0.0/16", ip, count=1)


def asn_text(events: pd.DataFrame, numbers: pd.Series | None = None) -> pd.Series:
    """Each event's autonomous system number as text (``"15169"``); null where unknown.

    Events without an ``asn`` column (no ASN data) have none. An autonomous system is the
    provider's whole network: the addresses a corporate VPN, a cloud host or a mobile carrier
    hands out all share it, wherever GeoIP places them. ``numbers`` is the ``asn`` column when
    the caller has read it already.
    """
    if numbers is None:
        if "asn" not in events.columns:
            return pd.Series(pd.NA, index=events.index, dtype="string")
        numbers = events["asn"]
    if numbers.dtype != "Int64":  # canonical events hold Int64 already
        numbers = pd.to_numeric(numbers, errors="coerce").astype("Int64")
    if len(numbers) <= _FEW_ADDRESSES:  # a few numbers written by Python, as pandas writes them
        texts = [None if number is pd.NA else str(number) for number in numbers.tolist()]
        return pd.Series(_text_array(texts), index=events.index, name=numbers.name, copy=False)
    return numbers.astype("string")


def _text_array(texts: list) -> pd.api.extensions.ExtensionArray:
    """Python ``str`` or ``None`` as the ``string`` array ``astype("string")`` gives."""
    return pd.arrays.ArrowStringArray(pa.array(texts, pa.large_string()))


def log_bytes(events: pd.DataFrame) -> np.ndarray:
    """``log1p(bytes)`` of successful logins, NaN for failed ones.

    Transfers are compared as ratios, so their statistics are kept in logs. A failed login
    moves a few hundred bytes of handshake whatever the resource, so it says nothing about
    the user's usual volume and would only widen the spread.
    """
    return log_bytes_of(events["bytes_transferred"], events["login_success"])


def log_bytes_of(moved: pd.Series, flags: pd.Series) -> np.ndarray:
    """:func:`log_bytes` of the events' ``bytes_transferred`` and ``login_success`` columns."""
    if isinstance(moved.dtype, np.dtype) and moved.dtype.kind in "iuf":  # canonical: int64, no nulls
        raw = moved.to_numpy("float64")
    else:
        raw = pd.to_numeric(moved, errors="coerce").to_numpy("float64", na_value=np.nan)
    succeeded = flags.to_numpy() if flags.dtype == np.bool_ else flags.astype(bool).to_numpy()
    return np.where(succeeded, np.log1p(np.clip(raw, 0.0, None)), np.nan)


def event_coordinates(events: pd.DataFrame) -> pd.DataFrame:
    """Where each event happened: its own latitude/longitude when present, else its place.

    Returns columns ``lat``, ``lon``, ``country_code``, ``timezone`` aligned with ``events``.
    """
    where, places = _coordinates(events["location"], events["latitude"], events["longitude"])
    return frame_of(
        [where, places["country_code"].array, places["timezone"].array], _PLACE_COLUMNS, places.index
    )


def coordinates_of(location: pd.Series, latitude: pd.Series, longitude: pd.Series) -> dict[str, object]:
    """:func:`event_coordinates` of the events' columns as a mapping: ``lat`` and ``lon``
    float64 arrays, ``country_code`` and ``timezone`` ``string`` Series on the events' index.
    No frame is built: building one and reading its columns back costs more than the
    coordinates themselves, for a few events and for a request's thousand alike."""
    places = _few_places(location)
    if places is None:
        places = _places(location)
    lat, lon = _own_else_place(latitude, longitude, places["lat"], places["lon"])
    return {**places, "lat": lat, "lon": lon}


def _few_places(location: pd.Series) -> dict[str, object] | None:
    """What :func:`ztad.ingest.gazetteer.resolve_places` finds for a few events whose places
    the gazetteer all knows, as arrays and ``string`` Series rather than a frame; ``None`` for
    more events, or for a place it does not know (which it then reports)."""
    texts = few_texts(location)
    if texts is None:
        return None
    found = {text: gazetteer.resolve_place(text) for text in texts if text is not None}
    if None in found.values():
        return None
    cities = [found[text] if text is not None else None for text in texts]
    countries = [city.country_code if city else None for city in cities]
    zones = [city.timezone if city else None for city in cities]
    return {
        "lat": np.array([city.lat if city else np.nan for city in cities], dtype="float64"),
        "lon": np.array([city.lon if city else np.nan for city in cities], dtype="float64"),
        "country_code": _text_series(countries, location.index, "country_code"),
        "timezone": _text_series(zones, location.index, "timezone"),
    }


def _places(location: pd.Series) -> dict[str, object]:
    """:func:`ztad.ingest.gazetteer.place_columns` with its text columns as ``string`` Series
    on the events' index, named as :func:`ztad.ingest.gazetteer.resolve_places` names them."""
    found = gazetteer.place_columns(location)
    for name in ("country_code", "timezone"):
        found[name] = pd.Series(found[name], index=location.index, name=name, copy=False)
    return found


def _text_series(texts: list, index: pd.Index, name: str) -> pd.Series:
    """Python ``str`` or ``None`` as a ``string`` Series."""
    return pd.Series(_text_array(texts), index=index, name=name, copy=False)


def _coordinates(
    location: pd.Series, latitude: pd.Series, longitude: pd.Series
) -> tuple[np.ndarray, pd.DataFrame]:
    """Latitude and longitude as one block (a row each), and the places the gazetteer found."""
    places = gazetteer.resolve_places(location)
    return _own_else_place(latitude, longitude, places["lat"].to_numpy(), places["lon"].to_numpy()), places


def _own_else_place(
    latitude: pd.Series, longitude: pd.Series, place_lat: np.ndarray, place_lon: np.ndarray
) -> np.ndarray:
    """Latitude and longitude as one block (a row each): the event's own where it gives both,
    else its place's."""
    own_lat, own_lon = _numbers(latitude), _numbers(longitude)
    has_own = ~np.isnan(own_lat) & ~np.isnan(own_lon)
    return np.where(has_own, [own_lat, own_lon], [place_lat, place_lon])


#: :func:`event_coordinates`' columns.
_PLACE_COLUMNS = ("lat", "lon", "country_code", "timezone")


def _numbers(values: pd.Series) -> np.ndarray:
    """A column as float64 numbers, NaN where missing or not a number; canonical events hold
    float64 already, read as it is."""
    if values.dtype == np.float64:
        return values.to_numpy()
    return pd.to_numeric(values, errors="coerce").to_numpy("float64", na_value=np.nan)
