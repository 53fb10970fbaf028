"""Places resolved with the offline gazetteer, distances and local time offsets."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from ztad.ingest.gazetteer import (
    count_unresolved,
    haversine_km,
    place_columns,
    resolve_place,
    resolve_places,
    utc_offsets,
)


def test_madrid_to_lagos_is_about_3830_km_and_40_minutes_is_about_5750_kmh():
    places = resolve_places(pd.Series(["Madrid, Spain", "Lagos, Nigeria"]))
    km = haversine_km(places.lat[0], places.lon[0], places.lat[1], places.lon[1])
    assert km == pytest.approx(3830, rel=0.01)
    assert km / (40 / 60) == pytest.approx(5750, rel=0.01)


@pytest.mark.parametrize(
    "spelling, country",
    [
        ("New York, USA", "US"),
        ("New York, United States", "US"),
        ("Austin, TX, USA", "US"),
        ("London, UK", "GB"),
        ("London, Great Britain", "GB"),
        ("Dubai, UAE", "AE"),
        ("München, Deutschland", "DE"),
        ("Sao Paulo, Brasil", "BR"),
        ("Amsterdam, Netherlands", "NL"),
        ("MADRID, spain", "ES"),
        ("Zürich, Switzerland", "CH"),
    ],
)
def test_country_aliases_case_and_accents_resolve(spelling, country):
    found = resolve_places(pd.Series([spelling]))
    assert found.country_code[0] == country
    assert not np.isnan(found.lat[0])


def test_accents_do_not_matter():
    places = resolve_places(pd.Series(["São Paulo, Brazil", "sao paulo, brazil"]))
    assert places.lat[0] == places.lat[1] and places.lon[0] == places.lon[1]


def test_the_most_populous_city_of_a_name_wins():
    assert resolve_place("Madrid").country_code == "ES"  # not Madrid, Colombia
    assert resolve_place("Lagos, Portugal").country_code == "PT"  # unless the country says so


def test_time_zone_comes_with_the_place():
    assert resolve_places(pd.Series(["Tokyo, Japan"])).timezone[0] == "Asia/Tokyo"


def test_an_unresolvable_place_is_nan_and_warned_about_not_a_crash(caplog):
    # A name no other test uses: each place is warned about once per process.
    places = pd.Series(["Madrid, Spain", "Lemuria, Nowhere-Land", None], index=[10, 11, 12])
    with caplog.at_level(logging.WARNING, logger="ztad.ingest.gazetteer"):
        found = resolve_places(places)
    assert list(found.index) == [10, 11, 12]
    assert np.isnan(found.lat[11]) and pd.isna(found.country_code[11])
    assert np.isnan(found.lat[12])
    assert "Lemuria, Nowhere-Land" in caplog.text
    assert count_unresolved(places) == 1


def test_an_unknown_country_does_not_fall_back_to_any_city_of_that_name():
    assert resolve_place("Paris, Nowhere-Land") is None


def test_haversine_is_vectorised_and_propagates_nan():
    km = haversine_km([0.0, 10.0, np.nan], [0.0, 10.0, 0.0], [0.0, 10.0, 1.0], [1.0, 10.0, 1.0])
    assert km.shape == (3,)
    assert km[0] == pytest.approx(111.19, rel=1e-3)
    assert km[1] == 0.0
    assert np.isnan(km[2])


def test_utc_offsets_follow_daylight_saving_and_null_is_utc():
    winter = pd.Timestamp("2026-01-15 12:00", tz="UTC").value // 1000
    summer = pd.Timestamp("2026-07-15 12:00", tz="UTC").value // 1000
    micros = np.array([winter, summer, summer])
    offsets = utc_offsets(micros, pd.Series(["Europe/Madrid", "Europe/Madrid", None]))
    assert (offsets / 3_600_000_000).tolist() == [1.0, 2.0, 0.0]


def test_utc_offsets_of_many_zones_are_each_instant_s_offset_in_its_zone_every_time():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zones = ["Europe/Madrid", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/St_Johns",
             "Europe/London", "America/Sao_Paulo", "Pacific/Chatham", "Asia/Tehran", "Africa/Casablanca",
             "America/Santiago", "Europe/Moscow", None]
    rng = np.random.default_rng(5)
    # Instants around the spring and autumn changes of 2026 in both hemispheres.
    seconds = np.concatenate([rng.integers(1_774_000_000, 1_775_500_000, 200),
                              rng.integers(1_791_500_000, 1_793_500_000, 200)])
    names = pd.Series(rng.choice(np.array(zones, dtype=object), len(seconds)), dtype="string")
    expected = [
        0 if zone is pd.NA else int(datetime.fromtimestamp(s, ZoneInfo(zone)).utcoffset().total_seconds()) * 10**6
        for s, zone in zip(seconds.tolist(), names.tolist())
    ]
    for _ in range(2):  # the second time with the zones' rules kept loaded
        assert utc_offsets(seconds * 10**6, names).tolist() == expected



def test_a_few_instants_get_the_offsets_they_get_among_many():
    # A few instants are asked of each zone one by one, many are converted per zone by pandas.
    zones = ["Europe/Madrid", "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham", "Africa/Casablanca",
             "Europe/Dublin", "Asia/Kolkata", "America/Sao_Paulo", "UTC", None]
    rng = np.random.default_rng(8)
    micros = rng.integers(-2_000_000_000, 4_000_000_000, 3000) * 10**6 + rng.integers(0, 10**6, 3000)
    names = pd.Series(rng.choice(np.array(zones, dtype=object), len(micros)), dtype="string")
    many = utc_offsets(micros, names)
    few = np.concatenate([utc_offsets(micros[k:k + 30], names[k:k + 30]) for k in range(0, len(micros), 30)])
    np.testing.assert_array_equal(few, many)
    assert utc_offsets(micros[:3], ["Europe/Madrid", np.nan, None]).tolist()[1:] == [0, 0]


@pytest.mark.parametrize("zone", ["Europe/Madrid", "Australia/Lord_Howe", "America/St_Johns", "Africa/Casablanca", "UTC"])
def test_zone_offsets_are_those_of_pandas_conversion(zone):
    from ztad.ingest.gazetteer import zone_offsets

    rng = np.random.default_rng(13)
    # From before the first transitions (local mean time) to beyond the last one listed.
    micros = rng.integers(-4_000_000_000, 4_500_000_000, 2000) * 10**6 + rng.integers(0, 10**6, 2000)
    utc = pd.DatetimeIndex(micros.astype("datetime64[us]")).tz_localize("UTC")
    expected = utc.tz_convert(zone).tz_localize(None).as_unit("us").asi8 - micros
    np.testing.assert_array_equal(zone_offsets(micros, zone), expected)
    np.testing.assert_array_equal(zone_offsets(micros[::-7], zone), expected[::-7])  # any order, a view


def test_a_name_that_is_no_zone_is_refused_however_few_the_instants():
    with pytest.raises(Exception, match="Nowhere/Atlantis"):
        utc_offsets(np.array([0]), pd.Series(["Nowhere/Atlantis"]))
    with pytest.raises(Exception, match="Nowhere/Atlantis"):
        utc_offsets(np.zeros(100, dtype="int64"), pd.Series(["Nowhere/Atlantis"] * 100))


def test_place_columns_are_resolve_places_columns_without_a_frame():
    places = ["Madrid, Spain", None, "Tokyo, Japan", "Nowhere, Atlantis", "Austin, TX"] * 20
    locations = pd.Series(places, dtype="string", index=range(500, 600))
    columns = place_columns(locations)
    frame = resolve_places(locations)
    assert set(columns) == set(frame.columns)
    for name, values in columns.items():
        assert len(values) == len(locations)
        pd.testing.assert_series_equal(pd.Series(values, index=locations.index, name=name), frame[name])
