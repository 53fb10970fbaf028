"""Places and networks from IP addresses, through a MaxMind-format database the user supplies.

ztad never downloads a database: point it at a GeoLite2/GeoIP2 City (or Country) ``.mmdb``
file for places and a GeoLite2 ASN (or GeoIP2 ISP) file for networks, both read with the
``maxminddb`` reader. Source options ``geoip_city_db`` and ``geoip_asn_db`` carry the paths
(see :func:`enrich_from_options`).

Rules
-----
* Private, loopback, link-local, shared (CGNAT), documentation and other reserved addresses
  are recognised (Python's ``ipaddress``: not ``is_global``) and never geolocated.
* A row that already has a place (a ``location`` or coordinates, as Okta and Entra ID logs
  carry) keeps it: the database only fills rows with no place at all, so a place and its
  coordinates always come from the same source.
* ASN and organisation (``asn``, ``as_org``) are added where the database has them and the
  row has none, so that hosting and VPN networks can be recognised.
* Lookups run once per distinct address, then map back to the rows.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import pandas as pd

PLACE_COLUMNS = ("location", "latitude", "longitude")


#: Source options naming the databases (paths or local files).
DATABASE_OPTIONS = ("geoip_city_db", "geoip_asn_db")


class GeoIPDatabaseError(OSError, ValueError):
    """The GeoIP database file is missing, unreadable or of the wrong kind (a configuration
    error: the source options name a file that cannot serve)."""


def enrich(frame: pd.DataFrame, city_db: str | None = None, asn_db: str | None = None) -> pd.DataFrame:
    """Return a copy of ``frame`` with places and networks looked up from ``ip_address``.

    Parameters
    ----------
    frame
        Events with an ``ip_address`` column (and possibly ``location``, ``latitude``,
        ``longitude``, ``asn``, ``as_org``).
    city_db
        Path of a City or Country ``.mmdb`` database, or None to add no places.
    asn_db
        Path of an ASN or ISP ``.mmdb`` database, or None to add no networks.

    Returns
    -------
    pandas.DataFrame
        ``frame`` plus ``location`` ("City, Country"), ``latitude``, ``longitude``, ``asn``
        (Int64) and ``as_org``, filled only where they were missing.
    """
    out = _with_place_columns(frame)
    if city_db is None and asn_db is None:
        return out
    codes, addresses = pd.factorize(out["ip_address"].astype("string"), use_na_sentinel=True)
    found = lookup(pd.Index(addresses, dtype="string"), city_db, asn_db)
    # Row -> its address's lookup; rows without an address point at an extra missing entry.
    at = np.where(codes >= 0, codes, len(found))
    no_place = out[list(PLACE_COLUMNS)].isna().all(axis=1).to_numpy()
    for column in PLACE_COLUMNS:
        out[column] = _filled(out[column], found[column], at, no_place)
    for column in ("asn", "as_org"):
        out[column] = _filled(out[column], found[column], at, out[column].isna().to_numpy())
    return out


def _filled(current: pd.Series, looked_up: pd.Series, at: np.ndarray, where: np.ndarray) -> pd.Series:
    """``current`` with the looked-up value of each row's address in the rows ``where`` says.

    Works on numpy arrays of the few distinct addresses' values, then converts once.
    """
    if current.dtype == "float64":
        numbers = np.append(looked_up.to_numpy(dtype="float64", na_value=np.nan), np.nan)[at]
        fill = where & ~np.isnan(numbers)
        return current.mask(fill, numbers) if fill.any() else current
    values = looked_up.to_numpy(dtype=object, na_value=None)
    per_row = np.append(values, None)[at]
    fill = where & pd.notna(per_row)
    if not fill.any():
        return current
    merged = current.to_numpy(dtype=object, na_value=None, copy=True)
    merged[fill] = per_row[fill]
    return pd.Series(pd.array(merged, dtype=current.dtype), index=current.index, name=current.name)


def configured(options: Mapping[str, object]) -> bool:
    """True when the source options name a City or an ASN database."""
    return any(options.get(name) for name in DATABASE_OPTIONS)


def enrich_from_options(frame: pd.DataFrame, options: Mapping[str, object]) -> pd.DataFrame:
    """:func:`enrich` with the paths in source options ``geoip_city_db`` / ``geoip_asn_db``."""
    city = options.get("geoip_city_db") or None
    asn = options.get("geoip_asn_db") or None
    return enrich(frame, str(city) if city else None, str(asn) if asn else None)


def lookup(addresses: pd.Index, city_db: str | None, asn_db: str | None) -> pd.DataFrame:
    """Look up distinct addresses; one row per address, in order.

    Columns: location, latitude, longitude, asn, as_org, public (False for private and
    reserved addresses and for text that is not an IP address; those are not looked up).
    """
    parsed = [_parse(text) for text in addresses]
    public = np.array([ip is not None and ip.is_global and not ip.is_multicast for ip in parsed], dtype=bool)
    table = pd.DataFrame(
        {
            "location": pd.Series(pd.NA, index=range(len(addresses)), dtype="string"),
            "latitude": np.nan,
            "longitude": np.nan,
            "asn": pd.Series(pd.NA, index=range(len(addresses)), dtype="Int64"),
            "as_org": pd.Series(pd.NA, index=range(len(addresses)), dtype="string"),
            "public": public,
        }
    )
    targets = [str(ip) for ip, keep in zip(parsed, public) if keep]
    where = np.flatnonzero(public)
    if city_db is not None and len(targets):
        places = _places(_reader(city_db, "city"), targets)
        for column in PLACE_COLUMNS:
            table.loc[where, column] = places[column].to_numpy()
    if asn_db is not None and len(targets):
        networks = _networks(_reader(asn_db, "asn"), targets)
        for column in ("asn", "as_org"):
            table.loc[where, column] = networks[column].to_numpy()
    return table


def format_place(city: pd.Series, country: pd.Series) -> pd.Series:
    """``"City, Country"``; just the country when the city is unknown; NA when both are."""
    city = city.astype("string").str.strip().replace("", pd.NA)
    country = country.astype("string").str.strip().replace("", pd.NA)
    both = city + ", " + country
    return both.fillna(country)


def _with_place_columns(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    n = len(out)
    defaults = {
        "location": pd.Series(pd.NA, index=out.index, dtype="string"),
        "latitude": pd.Series(np.full(n, np.nan), index=out.index),
        "longitude": pd.Series(np.full(n, np.nan), index=out.index),
        "asn": pd.Series(pd.NA, index=out.index, dtype="Int64"),
        "as_org": pd.Series(pd.NA, index=out.index, dtype="string"),
    }
    for column, empty in defaults.items():
        out[column] = out[column] if column in out.columns else empty
    if out["location"].dtype != "string":
        out["location"] = out["location"].astype("string")
    blank = (out["location"] == "").fillna(False).to_numpy(dtype=bool)
    if blank.any():
        out["location"] = out["location"].mask(blank)
    for column in ("latitude", "longitude"):
        if out[column].dtype != "float64":
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    if out["asn"].dtype != "Int64":
        out["asn"] = pd.to_numeric(out["asn"], errors="coerce").astype("Int64")
    if out["as_org"].dtype != "string":
        out["as_org"] = out["as_org"].astype("string")
    return out


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address, IPv4-mapped IPv6 unwrapped; None if the text is not an IP address."""
    try:
        ip = ipaddress.ip_address(str(text).strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@lru_cache(maxsize=8)
def _reader(path: str, kind: str):
    """Open a MaxMind database once per process and check it is the expected kind."""
    import maxminddb

    try:
        reader = maxminddb.open_database(path)
    except FileNotFoundError:
        raise GeoIPDatabaseError(
            f"GeoIP {kind} database not found at {path!r}: download a GeoLite2 .mmdb file from "
            "MaxMind and point the geoip option at it"
        ) from None
    except (maxminddb.InvalidDatabaseError, ValueError) as error:
        raise GeoIPDatabaseError(f"{path!r} is not a MaxMind database: {error}") from None
    database_type = reader.metadata().database_type
    is_network = any(word in database_type for word in ("ASN", "ISP"))
    if (kind == "asn") != is_network:
        expected = "an ASN/ISP" if kind == "asn" else "a City/Country"
        raise GeoIPDatabaseError(f"{path!r} is a {database_type!r} database, not {expected} database")
    return reader


def _places(reader, addresses: list[str]) -> pd.DataFrame:
    """City, country and coordinates of each address (NA where the database has none)."""
    records = [reader.get(address) or {} for address in addresses]
    city = [_name(r.get("city")) for r in records]
    country = [_name(r.get("country") or r.get("registered_country")) for r in records]
    location = [r.get("location") or {} for r in records]
    return pd.DataFrame(
        {
            "location": format_place(pd.Series(city, dtype="string"), pd.Series(country, dtype="string")),
            "latitude": pd.Series([loc.get("latitude") for loc in location], dtype="float64"),
            "longitude": pd.Series([loc.get("longitude") for loc in location], dtype="float64"),
        }
    )


def _networks(reader, addresses: list[str]) -> pd.DataFrame:
    """Autonomous system number and organisation of each address."""
    records = [reader.get(address) or {} for address in addresses]
    return pd.DataFrame(
        {
            "asn": pd.Series([r.get("autonomous_system_number") for r in records], dtype="Int64"),
            "as_org": pd.Series(
                [r.get("autonomous_system_organization") or r.get("organization") for r in records], dtype="string"
            ),
        }
    )


def _name(entity) -> str | None:
    """The English name of a GeoIP2 city/country record."""
    if not isinstance(entity, Mapping):
        return None
    return (entity.get("names") or {}).get("en")
