"""The columns of canonical events that baselines read, and the values derived from them
(network prefix, autonomous system, log-bytes, coordinates)."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def network_prefix(ips: pd.Series) -> pd.Series:
    """The network an address belongs to: its IPv4 /16 or IPv6 /32 (distinct values parsed once).

    Without ASN data a /16 stands in for the provider's network: a VPN pool, a mobile carrier
    or a home ISP hands out changing addresses inside one, an attacker's source is elsewhere.
    Anything that is not an IP address is kept as it is.
    """
    ips = pd.Series(ips, dtype="string")
    codes, uniques = pd.factorize(ips, use_na_sentinel=True)
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
    v4 = distinct.str.extract(r"^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$")
    v6 = distinct.str.contains(":", regex=False).fillna(False)
    others = distinct
    if v6.any():  # the IPv6 text work only for days that have IPv6 addresses
        halves = distinct.str.split(":").str[:2].str.join(":").str.rstrip(":")
        others = (halves + "::/32").where(v6, distinct)
    prefix = (v4[0] + "." + v4[1] + ".0.0/16").where(v4[0].notna(), others)
    values = np.append(prefix.to_numpy(dtype=object), None)
    return pd.Series(pd.array(values[codes], dtype="string"), index=ips.index)


def asn_text(events: pd.DataFrame) -> pd.Series:
    """Each event's autonomous system number as text (``"15169"``); null where unknown.

    Events without an ``asn`` column (no ASN data) have none. An autonomous system is the
    provider's whole network: the addresses a corporate VPN, a cloud host or a mobile carrier
    hands out all share it, wherever GeoIP places them.
    """
    if "asn" not in events.columns:
        return pd.Series(pd.NA, index=events.index, dtype="string")
    return pd.to_numeric(events["asn"], errors="coerce").astype("Int64").astype("string")


def log_bytes(events: pd.DataFrame) -> np.ndarray:
    """``log1p(bytes)`` of successful logins, NaN for failed ones.

    Transfers are compared as ratios, so their statistics are kept in logs. A failed login
    moves a few hundred bytes of handshake whatever the resource, so it says nothing about
    the user's usual volume and would only widen the spread.
    """
    raw = pd.to_numeric(events["bytes_transferred"], errors="coerce").to_numpy("float64", na_value=np.nan)
    succeeded = events["login_success"].astype(bool).to_numpy()
    return np.where(succeeded, np.log1p(np.clip(raw, 0.0, None)), np.nan)


def event_coordinates(events: pd.DataFrame) -> pd.DataFrame:
    """Where each event happened: its own latitude/longitude when present, else its place.

    Returns columns ``lat``, ``lon``, ``country_code``, ``timezone`` aligned with ``events``.
    """
    places = gazetteer.resolve_places(events["location"])
    own_lat = pd.to_numeric(events["latitude"], errors="coerce").to_numpy("float64", na_value=np.nan)
    own_lon = pd.to_numeric(events["longitude"], errors="coerce").to_numpy("float64", na_value=np.nan)
    has_own = ~np.isnan(own_lat) & ~np.isnan(own_lon)
    places["lat"] = np.where(has_own, own_lat, places["lat"].to_numpy())
    places["lon"] = np.where(has_own, own_lon, places["lon"].to_numpy())
    return places
