"""IP geolocation through MaxMind-format databases built on the fly (no proprietary file)."""

import numpy as np
import pandas as pd
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from ztad.ingest import geoip
from ztad.ingest.geoip import GeoIPDatabaseError, enrich, enrich_from_options


def city(name, country, iso, lat, lon):
    return {
        "city": {"geoname_id": 1, "names": {"en": name}},
        "country": {"geoname_id": 2, "iso_code": iso, "names": {"en": country}},
        "location": {"latitude": lat, "longitude": lon, "time_zone": "Europe/London", "accuracy_radius": 50},
    }


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("geoip")
    places = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["en"])
    places.insert_network(IPSet(["81.2.69.0/24"]), city("London", "United Kingdom", "GB", 51.5142, -0.0931))
    places.insert_network(IPSet(["2.125.160.0/24"]), city("Boxford", "United Kingdom", "GB", 51.75, -1.25))
    places.insert_network(IPSet(["2001:480::/32"]), city("San Diego", "United States", "US", 32.7, -117.1))
    places.insert_network(IPSet(["89.160.20.0/24"]), {"country": {"iso_code": "SE", "names": {"en": "Sweden"}},
                                                         "location": {"latitude": 62.0, "longitude": 15.0}})
    # Private and documentation ranges carry a place here only to prove they are never looked up.
    places.insert_network(IPSet(["10.0.0.0/8", "203.0.113.0/24", "100.64.0.0/10"]), city("Nowhere", "Atlantis", "AT", 1.0, 1.0))
    city_path = folder / "GeoLite2-City-test.mmdb"
    places.to_db_file(str(city_path))
    networks = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN", languages=["en"])
    networks.insert_network(IPSet(["81.2.69.0/24"]), {"autonomous_system_number": 20712, "autonomous_system_organization": "Andrews & Arnold Ltd"})
    networks.insert_network(IPSet(["89.160.20.0/24"]), {"autonomous_system_number": 29518, "autonomous_system_organization": "Bredband2 AB"})
    asn_path = folder / "GeoLite2-ASN-test.mmdb"
    networks.to_db_file(str(asn_path))
    return str(city_path), str(asn_path)


def events(*ips, **columns):
    return pd.DataFrame({"ip_address": pd.Series(ips, dtype="string"), **columns})


def test_public_address_gets_place_coordinates_and_network(databases):
    out = enrich(events("81.2.69.160"), *databases).iloc[0]
    assert out["location"] == "London, United Kingdom"
    assert (out["latitude"], out["longitude"]) == (51.5142, -0.0931)
    assert (out["asn"], out["as_org"]) == (20712, "Andrews & Arnold Ltd")


@pytest.mark.parametrize("address", ["10.1.2.3", "203.0.113.7", "100.64.1.1", "127.0.0.1", "192.168.1.20", "fe80::1", "::1"])
def test_private_and_reserved_addresses_are_never_geolocated(databases, address):
    out = enrich(events(address), *databases).iloc[0]
    assert pd.isna(out["location"]) and np.isnan(out["latitude"]) and pd.isna(out["asn"])


def test_rows_with_their_own_place_keep_it(databases):
    frame = events(
        "81.2.69.160", "81.2.69.161",
        location=pd.Series(["Paris, France", None], dtype="string"),
        latitude=[np.nan, 48.85], longitude=[np.nan, 2.35],
    )
    out = enrich(frame, *databases)
    assert out["location"].tolist()[0] == "Paris, France" and np.isnan(out["latitude"][0])
    assert pd.isna(out["location"][1]) and out["latitude"][1] == 48.85  # source coordinates stay
    assert out["asn"].tolist() == [20712, 20712]  # networks are still added


def test_existing_networks_are_kept(databases):
    frame = events("81.2.69.160", asn=pd.Series([64500], dtype="Int64"), as_org=pd.Series(["Okta says"], dtype="string"))
    out = enrich(frame, *databases).iloc[0]
    assert (out["asn"], out["as_org"]) == (64500, "Okta says")


def test_ipv6_and_ipv4_mapped_addresses(databases):
    out = enrich(events("2001:480:10::1", "::ffff:2.125.160.216"), *databases)
    assert out["location"].tolist() == ["San Diego, United States", "Boxford, United Kingdom"]


def test_country_only_records_and_unknown_addresses(databases):
    out = enrich(events("89.160.20.112", "8.8.8.8", "not-an-ip", None), *databases)
    assert out["location"].tolist()[0] == "Sweden"
    assert out["asn"].tolist()[0] == 29518
    assert out["location"][1:].isna().all() and out["latitude"][1:].isna().all()


def test_each_distinct_address_is_looked_up_once(databases, monkeypatch):
    calls = []
    real = geoip._reader

    class Counting:
        def __init__(self, reader):
            self.reader = reader

        def get(self, address):
            calls.append(address)
            return self.reader.get(address)

    monkeypatch.setattr(geoip, "_reader", lambda path, kind: Counting(real(path, kind)))
    frame = events(*(["81.2.69.160", "2.125.160.216", "10.0.0.1"] * 500))
    out = enrich(frame, databases[0])
    assert sorted(calls) == ["2.125.160.216", "81.2.69.160"]
    assert out["location"].notna().sum() == 1000


def test_without_databases_columns_are_added_and_left_empty():
    out = enrich(events("81.2.69.160"))
    assert {"location", "latitude", "longitude", "asn", "as_org"} <= set(out.columns)
    assert out[["location", "asn", "as_org"]].isna().all().all()


def test_paths_come_from_source_options(databases):
    out = enrich_from_options(events("81.2.69.160"), {"geoip_city_db": databases[0], "geoip_asn_db": databases[1]})
    assert out["as_org"].iloc[0] == "Andrews & Arnold Ltd"


def test_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(GeoIPDatabaseError, match="not found"):
        enrich(events("81.2.69.160"), city_db=str(tmp_path / "absent.mmdb"))


def test_database_of_the_wrong_kind_is_refused(databases):
    city_db, asn_db = databases
    with pytest.raises(GeoIPDatabaseError, match="ASN"):
        enrich(events("81.2.69.160"), city_db=asn_db)
    with pytest.raises(GeoIPDatabaseError, match="City"):
        enrich(events("81.2.69.160"), asn_db=city_db)


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    bogus = tmp_path / "bogus.mmdb"
    bogus.write_bytes(b"not a maxmind database" * 10)
    with pytest.raises(GeoIPDatabaseError, match="not a MaxMind database"):
        enrich(events("81.2.69.160"), city_db=str(bogus))


def test_configured_tells_whether_the_options_name_a_database():
    assert not geoip.configured({}) and not geoip.configured({"geoip_city_db": "", "year": "2026"})
    assert geoip.configured({"geoip_asn_db": "/data/GeoLite2-ASN.mmdb"})


def test_a_database_error_is_a_configuration_error(tmp_path):
    with pytest.raises(ValueError, match="not found"):  # what the CLI reports as a clear error
        enrich_from_options(events("81.2.69.160"), {"geoip_city_db": str(tmp_path / "absent.mmdb")})
