from datetime import date

import numpy as np
import pytest

from ztad.ingest.gazetteer import haversine_km, resolve_place
from ztad.synth.places import (
    AIRPORT_HOURS,
    ATTACK_ONLY,
    ATTACK_ORIGINS,
    CITIES,
    CITY_COUNTRIES,
    OFFICE_WEIGHTS,
    OFFICES,
    TRAVEL_DESTINATIONS,
    VPN_EGRESS,
    city_index,
    day_start_seconds,
    flight_seconds,
    offsets_at,
    remote_home_cities,
    utc_offsets,
)


@pytest.mark.parametrize("city", CITIES, ids=lambda c: c.name)
def test_every_city_is_located_by_the_gazetteer_where_we_say(city):
    found = resolve_place(city.name)
    assert found is not None, f"{city.name} does not resolve"
    assert haversine_km(found.lat, found.lon, city.lat, city.lon) < 30
    assert found.country_code == city.country
    assert found.timezone == city.tz


def test_places_are_city_comma_country_and_unique():
    names = [c.name for c in CITIES]
    assert len(set(names)) == len(names)
    assert all(len(name.split(", ")) == 2 for name in names)


def test_office_weights_are_a_distribution_over_offices():
    assert len(OFFICES) == len(OFFICE_WEIGHTS)
    assert OFFICE_WEIGHTS.sum() == pytest.approx(1.0)


def test_attackers_come_also_from_places_the_organisation_sees():
    seen = np.concatenate([TRAVEL_DESTINATIONS, VPN_EGRESS])
    assert np.isin(ATTACK_ORIGINS, seen).any()
    assert np.isin(ATTACK_ONLY, ATTACK_ORIGINS).all()
    assert not np.isin(ATTACK_ONLY, seen).any()


def test_remote_staff_live_elsewhere_in_their_office_country():
    madrid = city_index("Madrid, Spain")
    towns = remote_home_cities(madrid)
    assert len(towns) >= 2 and madrid not in towns
    assert set(CITY_COUNTRIES[towns]) == {"ES"}
    singapore = city_index("Singapore, Singapore")
    assert list(remote_home_cities(singapore)) == [singapore]


def test_flight_time_is_distance_at_cruising_speed_plus_airport_time():
    madrid, new_york = city_index("Madrid, Spain"), city_index("New York, USA")
    km = haversine_km(40.4165, -3.7026, 40.7143, -74.0060)
    expected = (km / 800.0 + AIRPORT_HOURS) * 3600
    assert flight_seconds(np.array([madrid]), np.array([new_york]))[0] == pytest.approx(expected, abs=2)


def test_utc_offsets_follow_daylight_saving_time():
    new_york, madrid = city_index("New York, USA"), city_index("Madrid, Spain")
    bengaluru = city_index("Bengaluru, India")
    before, after = date(2026, 3, 2).toordinal(), date(2026, 3, 9).toordinal()
    assert utc_offsets(before)[new_york] == -5 * 3600
    assert utc_offsets(after)[new_york] == -4 * 3600
    assert utc_offsets(before)[madrid] == 3600
    assert utc_offsets(before)[bengaluru] == 5.5 * 3600
    both = offsets_at(np.array([new_york, new_york]), np.array([before, after]))
    assert list(both) == [-5 * 3600, -4 * 3600]


def test_day_start_is_midnight_utc():
    assert day_start_seconds(date(1970, 1, 2).toordinal()) == 86400
    assert list(day_start_seconds(np.array([date(1970, 1, 1).toordinal()]))) == [0]


def test_unknown_city_is_named_in_the_error():
    with pytest.raises(KeyError, match="Atlantis"):
        city_index("Atlantis, Nowhere")
