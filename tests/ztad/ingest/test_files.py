"""load_day / load_range / available_days over partitions, flat files and URLs: nothing lost."""

import gzip
import io
import json
import uuid
from datetime import date

import fsspec
import pandas as pd
import pytest

from ztad.config import SourceConfig
from ztad.ingest import (
    QUARANTINE_COLUMNS,
    ColumnMappingError,
    LoadResult,
    MissingColumnError,
    MissingPartitionError,
    SourceNotFoundError,
    available_days,
    load_day,
    load_range,
)
from ztad.schema import CANONICAL_DTYPES

DAY = date(2024, 3, 1)
HEADER = (
    "timestamp,user_id,device_id,ip_address,location,login_success,access_time,"
    "resource_accessed,bytes_transferred,event_label"
)


def line(ts="2024-03-01T08:00:00Z", user="alice", ip="10.0.0.1", ok="1", clock="08:00:00", nbytes="100", label="normal"):
    return f'{ts},{user},dev-1,{ip},"Paris, France",{ok},{clock},hr,{nbytes},{label}'


def csv_text(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


#: A day's file seeded with one bad row of every kind; comments give (line, outcome).
SEEDED = [
    line(),  # 2 event
    line(user="bob", ts="2024-03-01T09:00:00+01:00"),  # 3 event (08:00 UTC)
    line(),  # 4 exact duplicate of line 2
    line(ts="not-a-time"),  # 5 unparseable timestamp
    line(user=" "),  # 6 empty user
    line(nbytes="lots"),  # 7 non-numeric bytes
    line(nbytes="-3"),  # 8 negative bytes
    line(ip="300.1.1.1"),  # 9 invalid IP
    line(ok="2"),  # 10 login_success not 0/1
    line(ts="2024-03-02T00:00:01Z"),  # 11 outside the partition day
    "only,three,fields",  # 12 wrong number of fields
    "",  # 13 blank line: not a row
    line(ts="2024-03-01", clock="23:59:59", user="carol"),  # 14 event from date + access_time
    line(),  # 15 duplicate again
    line(user="dave", ok="TRUE", nbytes=""),  # 16 event
]


def write_partition(root, day: date, name: str, text: str | bytes):
    folder = root / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def assert_accounted(result: LoadResult):
    total = len(result.events) + len(result.quarantine) + result.duplicates + result.rows_skipped
    assert result.rows_read == total
    assert result.accounted()


def test_seeded_day_accounts_for_every_row(tmp_path):
    write_partition(tmp_path, DAY, "auth.csv", csv_text(*SEEDED))
    result = load_day(SourceConfig(str(tmp_path)), DAY)
    assert result.rows_read == 14  # 15 lines after the header, one of them blank
    assert result.duplicates == 2
    assert result.events["user_id"].tolist() == ["alice", "bob", "carol", "dave"]
    assert result.events["source_row"].tolist() == [2, 3, 14, 16]
    assert result.quarantine["source_row"].tolist() == [5, 6, 7, 8, 9, 10, 11, 12]
    assert result.quarantine["field"].tolist() == [
        "timestamp", "user_id", "bytes_transferred", "bytes_transferred",
        "ip_address", "login_success", "timestamp", "row",
    ]
    assert_accounted(result)
    assert list(result.quarantine.columns) == QUARANTINE_COLUMNS
    assert result.quarantine["source"].str.endswith("date=2024-03-01/auth.csv").all()
    assert {c: str(t) for c, t in result.events.dtypes.items()} == CANONICAL_DTYPES
    assert result.events["timestamp"].tolist()[2] == pd.Timestamp("2024-03-01T23:59:59Z")


def test_duplicates_across_files_of_a_partition_are_counted_once(tmp_path):
    write_partition(tmp_path, DAY, "a.csv", csv_text(line(), line(user="bob")))
    write_partition(tmp_path, DAY, "b.csv", csv_text(line(user="bob"), line(user="carol")))
    result = load_day(SourceConfig(str(tmp_path)), DAY)
    assert result.duplicates == 1
    assert result.events["user_id"].tolist() == ["alice", "bob", "carol"]
    assert result.events["event_id"].is_unique
    assert_accounted(result)


def test_same_event_with_another_label_is_a_counted_duplicate(tmp_path):
    # Labels annotate an event, they are not part of it: one event, one id, the first label.
    write_partition(tmp_path, DAY, "a.csv", csv_text(line(), line(label="new_device")))
    result = load_day(SourceConfig(str(tmp_path)), DAY)
    assert result.duplicates == 1 and len(result.events) == 1
    assert result.events["event_label"].tolist() == ["normal"]
    assert_accounted(result)


def frame_for_day() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": ["2024-03-01T08:00:00Z", "2024-03-01T09:00:00Z", "bad"],
            "user_id": ["alice", "bob", "carol"],
            "ip_address": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
            "login_success": [1, 0, 1],
            "bytes_transferred": [5, 6, 7],
        }
    )


@pytest.mark.parametrize("name", ["a.csv", "a.csv.gz", "a.parquet", "a.jsonl", "a.jsonl.gz"])
def test_partition_formats_give_the_same_events(tmp_path, name):
    frame = frame_for_day()
    if name.startswith("a.csv"):
        data = frame.to_csv(index=False).encode()
    elif name == "a.parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        data = buffer.getvalue()
    else:
        data = frame.to_json(orient="records", lines=True).encode()
    if name.endswith(".gz"):
        data = gzip.compress(data)
    write_partition(tmp_path, DAY, name, data)
    result = load_day(SourceConfig(str(tmp_path)), DAY)
    assert result.events["user_id"].tolist() == ["alice", "bob"]
    assert result.events["login_success"].tolist() == [True, False]
    assert result.events["bytes_transferred"].tolist() == [5, 6]
    assert result.quarantine["field"].tolist() == ["timestamp"]
    expected_row = 4 if name.startswith("a.csv") else 3  # CSV: header is line 1
    assert result.quarantine["source_row"].tolist() == [expected_row]
    assert_accounted(result)
    reference = load_day(SourceConfig(str(tmp_path)), DAY).events["event_id"]
    assert result.events["event_id"].tolist() == reference.tolist()


def test_event_ids_do_not_depend_on_the_file_format(tmp_path):
    frame = frame_for_day()
    write_partition(tmp_path / "csv", DAY, "a.csv", frame.to_csv(index=False))
    write_partition(tmp_path / "jsonl", DAY, "a.jsonl", frame.to_json(orient="records", lines=True))
    from_csv = load_day(SourceConfig(str(tmp_path / "csv")), DAY).events
    from_jsonl = load_day(SourceConfig(str(tmp_path / "jsonl")), DAY).events
    assert from_csv["event_id"].tolist() == from_jsonl["event_id"].tolist()


def test_explicit_format_reads_files_of_any_name(tmp_path):
    write_partition(tmp_path, DAY, "auth.log", csv_text(line()))
    write_partition(tmp_path, DAY, "_SUCCESS", "")
    with pytest.raises(MissingPartitionError, match="set SourceConfig.format"):
        load_day(SourceConfig(str(tmp_path)), DAY)
    result = load_day(SourceConfig(str(tmp_path), format="csv"), DAY)
    assert result.events["user_id"].tolist() == ["alice"]


def test_chunked_reading_gives_the_same_result_as_one_chunk(tmp_path):
    lines = [line(ts=f"2024-03-01T{h:02d}:{m:02d}:00Z", user=f"u{m % 7}") for h in range(24) for m in range(0, 60, 7)]
    write_partition(tmp_path, DAY, "a.csv", csv_text(*SEEDED, *lines, *SEEDED))
    whole = load_day(SourceConfig(str(tmp_path)), DAY)
    chunked = load_day(SourceConfig(str(tmp_path), options={"chunk_bytes": "1500"}), DAY)
    pd.testing.assert_frame_equal(whole.events, chunked.events)
    pd.testing.assert_frame_equal(whole.quarantine, chunked.quarantine)
    assert (whole.rows_read, whole.duplicates) == (chunked.rows_read, chunked.duplicates)
    assert_accounted(chunked)


def test_column_mapping_is_applied_before_validation(tmp_path):
    text = "when,who,from_ip,ok,extra\n2024-03-01T08:00:00Z,alice,10.0.0.1,1,x\n"
    write_partition(tmp_path, DAY, "a.csv", text)
    mapping = {"when": "timestamp", "who": "user_id", "from_ip": "ip_address", "ok": "login_success"}
    result = load_day(SourceConfig(str(tmp_path), column_mapping=mapping), DAY)
    assert result.events["user_id"].tolist() == ["alice"]
    with pytest.raises(MissingColumnError) as caught:
        load_day(SourceConfig(str(tmp_path)), DAY)
    assert caught.value.missing == ["timestamp", "user_id", "ip_address", "login_success"]
    assert "when" in caught.value.found


def test_column_mapping_that_makes_two_columns_of_one_name_is_an_error(tmp_path):
    write_partition(tmp_path, DAY, "a.csv", csv_text(line()))
    with pytest.raises(ColumnMappingError, match="user_id"):
        load_day(SourceConfig(str(tmp_path), column_mapping={"device_id": "user_id"}), DAY)


def test_missing_required_column_names_the_file_and_column(tmp_path):
    write_partition(tmp_path, DAY, "a.csv", "timestamp,user_id,login_success\n2024-03-01T08:00:00Z,a,1\n")
    with pytest.raises(MissingColumnError, match=r"a\.csv.*\['ip_address'\]"):
        load_day(SourceConfig(str(tmp_path)), DAY)


def test_missing_partition_is_a_clear_error_with_the_path(tmp_path):
    write_partition(tmp_path, DAY, "a.csv", csv_text(line()))
    with pytest.raises(MissingPartitionError) as caught:
        load_day(SourceConfig(str(tmp_path)), date(2024, 3, 2))
    error = caught.value
    assert error.day == date(2024, 3, 2)
    assert error.path.endswith("date=2024-03-02")
    assert "date=2024-03-02" in str(error) and isinstance(error, FileNotFoundError)
    (tmp_path / "date=2024-03-03").mkdir()
    with pytest.raises(MissingPartitionError, match="holds no log files"):
        load_day(SourceConfig(str(tmp_path)), date(2024, 3, 3))


def test_header_only_partition_is_an_empty_day_not_a_missing_one(tmp_path):
    write_partition(tmp_path, DAY, "a.csv", HEADER + "\n")
    result = load_day(SourceConfig(str(tmp_path)), DAY)
    assert result.rows_read == 0 and result.events.empty and result.quarantine.empty
    assert list(result.events.columns) == list(CANONICAL_DTYPES)


def test_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(SourceNotFoundError, match="does not exist"):
        load_day(SourceConfig(str(tmp_path / "nowhere")), DAY)
    with pytest.raises(SourceNotFoundError):
        available_days(SourceConfig(str(tmp_path / "nowhere")))
    assert not issubclass(SourceNotFoundError, MissingPartitionError)


def test_load_range_and_available_days_over_partitions(tmp_path):
    for day in (date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 4)):
        write_partition(tmp_path, day, "a.csv", csv_text(line(ts=f"{day}T10:00:00Z", user=f"u{day.day}")))
    (tmp_path / "date=2024-03-05").mkdir()  # empty: no data
    (tmp_path / "date=garbage").mkdir()
    (tmp_path / "notes.txt").write_text("not a partition")
    source = SourceConfig(str(tmp_path))
    assert available_days(source) == [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 4)]
    result = load_range(source, date(2024, 3, 1), date(2024, 3, 5))  # 3rd missing: skipped
    assert result.events["user_id"].tolist() == ["u1", "u2", "u4"]
    assert_accounted(result)
    with pytest.raises(MissingPartitionError, match="no partition for any day"):
        load_range(source, date(2024, 3, 6), date(2024, 3, 9))
    with pytest.raises(ValueError, match="empty day range"):
        load_range(source, DAY, DAY)


FLAT = csv_text(
    line(ts="garbage", user="u0"),  # 2: before any readable timestamp -> first day (1st)
    line(ts="2024-03-01T23:00:00Z", user="u1"),  # 3: day 1
    line(ts="2024-03-02T00:30:00+01:00", user="u3"),  # 4: 23:30 UTC on the 1st
    line(ts="bad", user="u2"),  # 5: no timestamp -> day of the row above (1st), not below
    line(ts="2024-03-02T05:00:00Z", user="u4"),  # 6: day 2
    "short,row",  # 7: unparseable record -> day of line 6 (2nd)
    line(ts="2024-03-02T06:00:00Z", user="u5"),  # 8: day 2
    line(ts="2024-03-02T06:00:00Z", user="u5"),  # 9: duplicate, day 2
    line(ts="2024-03-04T06:00:00Z", user="u6", ip="nope"),  # 10: day 4, bad IP
)


def test_flat_file_days_are_selected_by_utc_timestamp(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text(FLAT)
    source = SourceConfig(str(path))
    assert available_days(source) == [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 4)]
    first = load_day(source, date(2024, 3, 1))
    assert first.events["user_id"].tolist() == ["u1", "u3"]
    assert first.quarantine["source_row"].tolist() == [2, 5]
    assert first.rows_read == 4  # rows of other days are not part of this day
    second = load_day(source, date(2024, 3, 2))
    assert second.events["user_id"].tolist() == ["u4", "u5"]
    assert second.quarantine["source_row"].tolist() == [7]
    assert (second.rows_read, second.duplicates) == (4, 1)
    fourth = load_day(source, date(2024, 3, 4))
    assert fourth.events.empty and fourth.quarantine["field"].tolist() == ["ip_address"]
    for result in (first, second, fourth):
        assert_accounted(result)
    assert first.rows_read + second.rows_read + fourth.rows_read == 9  # every data row, once
    everything = load_range(source, date(2024, 3, 1), date(2024, 3, 5))
    assert everything.rows_read == 9 and len(everything.events) == 4
    with pytest.raises(MissingPartitionError, match="2024-03-03") as caught:
        load_day(source, date(2024, 3, 3))
    assert caught.value.path == str(path)


def test_flat_file_read_in_chunks_attributes_rows_like_one_chunk(tmp_path):
    undated = [line(ts="never", user=f"x{i}") for i in range(40)]  # more than one chunk
    day_one = [line(ts=f"2024-03-01T10:{i:02d}:00Z", user=f"a{i}") for i in range(30)]
    day_two = [line(ts=f"2024-03-02T10:{i:02d}:00Z", user=f"b{i}") for i in range(30)]
    path = tmp_path / "all.csv"
    path.write_text(csv_text(*undated, *day_one, *undated, *day_two, *undated, *day_one))
    days = (date(2024, 3, 1), date(2024, 3, 2))
    whole = [load_day(SourceConfig(str(path)), d) for d in days]
    chunked = [load_day(SourceConfig(str(path), options={"chunk_bytes": "1"}), d) for d in days]
    for one, many in zip(whole, chunked):
        pd.testing.assert_frame_equal(one.events, many.events)
        pd.testing.assert_frame_equal(one.quarantine, many.quarantine)
        assert (one.rows_read, one.duplicates) == (many.rows_read, many.duplicates)
    assert [r.rows_read for r in whole] == [40 + 30 + 40 + 30, 30 + 40]
    assert whole[0].duplicates == 30


def test_flat_file_without_any_timestamp_says_so(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text(csv_text(line(ts="x"), line(ts="y")))
    with pytest.raises(MissingPartitionError, match="2 rows have no readable timestamp"):
        load_day(SourceConfig(str(path)), DAY)
    assert available_days(SourceConfig(str(path))) == []


def test_flat_file_of_unknown_format_asks_for_one(tmp_path):
    path = tmp_path / "auth.log"
    path.write_text(csv_text(line()))
    with pytest.raises(ValueError, match="SourceConfig.format"):
        load_day(SourceConfig(str(path)), DAY)
    assert len(load_day(SourceConfig(str(path), format="csv"), DAY).events) == 1


def test_file_url_root(tmp_path):
    write_partition(tmp_path, DAY, "a.csv", csv_text(*SEEDED))
    by_path = load_day(SourceConfig(str(tmp_path)), DAY)
    by_url = load_day(SourceConfig(tmp_path.as_uri()), DAY)
    pd.testing.assert_frame_equal(by_path.events, by_url.events)
    assert by_url.quarantine["source"].iloc[0] == str(tmp_path / "date=2024-03-01" / "a.csv")


@pytest.fixture
def memory_root():
    fs = fsspec.filesystem("memory")
    root = f"/ztad-test-{uuid.uuid4().hex}"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_memory_url_partitions(memory_root):
    fs, root = memory_root
    fs.pipe(f"{root}/date=2024-03-01/a.csv.gz", gzip.compress(csv_text(*SEEDED).encode()))
    records = [{"timestamp": "2024-03-02T10:00:00Z", "user_id": "zoe", "ip_address": "::1", "login_success": True}]
    fs.pipe(f"{root}/date=2024-03-02/b.jsonl", "\n".join(json.dumps(r) for r in records).encode())
    source = SourceConfig(f"memory://{root}")
    assert available_days(source) == [date(2024, 3, 1), date(2024, 3, 2)]
    first = load_day(source, DAY)
    assert first.events["user_id"].tolist() == ["alice", "bob", "carol", "dave"]
    assert first.quarantine["source"].iloc[0] == f"memory://{root}/date=2024-03-01/a.csv.gz"
    assert_accounted(first)
    second = load_day(source, date(2024, 3, 2))
    assert second.events["ip_address"].tolist() == ["::1"]
    with pytest.raises(MissingPartitionError, match="memory://"):
        load_day(source, date(2024, 3, 3))


def test_memory_url_flat_file(memory_root):
    fs, root = memory_root
    fs.pipe(f"{root}/all.csv", FLAT.encode())
    result = load_day(SourceConfig(f"memory://{root}/all.csv"), date(2024, 3, 2))
    assert result.events["user_id"].tolist() == ["u4", "u5"]


# --------------------------------------------------------------------------- places from GeoIP


@pytest.fixture(scope="module")
def geoip_databases(tmp_path_factory):
    from tests.fixtures.geoip import write_databases

    return write_databases(tmp_path_factory.mktemp("geoip"))


GEO_HEADER = "timestamp,user_id,ip_address,location,latitude,longitude,login_success"


def test_configured_geoip_databases_place_and_network_every_loaded_event(tmp_path, geoip_databases):
    rows = [
        "2024-03-01T08:00:00Z,alice,81.2.69.160,,,,1",
        "2024-03-01T08:05:00Z,bob,81.2.69.161,,,,0",
        "2024-03-01T08:06:00Z,bob,10.1.2.3,,,,1",  # private: never looked up
        "2024-03-01T08:07:00Z,carol,,,,,0",  # no address at all
        '2024-03-01T08:08:00Z,dave,89.160.20.7,"Paris, France",48.85,2.35,1',  # has its own place
        "2024-03-01T08:09:00Z,erin,192.0.2.1,,,,1",  # public but unknown to the database
    ]
    write_partition(tmp_path, DAY, "auth.csv", "\n".join([GEO_HEADER, *rows]) + "\n")
    city_db, asn_db = geoip_databases
    plain = load_day(SourceConfig(str(tmp_path)), DAY)
    located = load_day(SourceConfig(str(tmp_path), options={"geoip_city_db": city_db, "geoip_asn_db": asn_db}), DAY)
    assert {c: str(t) for c, t in located.events.dtypes.items()} == CANONICAL_DTYPES
    assert located.events["location"].tolist()[:2] == ["London, United Kingdom"] * 2
    assert located.events["latitude"].tolist()[:2] == [51.5142] * 2
    assert located.events["asn"].tolist()[:2] == [20712, 20712]
    assert located.events["as_org"].iloc[0] == "Andrews & Arnold Ltd"
    assert located.events.loc[2:3, ["location", "asn"]].isna().all().all()
    assert located.events["ip_address"].isna().tolist() == [False, False, False, True, False, False]
    dave = located.events.iloc[4]
    assert (dave["location"], dave["latitude"], dave["asn"]) == ("Paris, France", 48.85, 29518)
    assert pd.isna(located.events["location"].iloc[5]) and pd.isna(located.events["asn"].iloc[5])
    # The lookup adds facts about the address; the events and their ids stay the same.
    assert located.events["event_id"].tolist() == plain.events["event_id"].tolist()
    assert plain.events["location"].isna().sum() == 5 and plain.events["asn"].isna().all()
    assert len(located.events) == 6 and located.quarantine.empty


def test_only_a_city_database_places_events_without_networks(tmp_path, geoip_databases):
    write_partition(tmp_path, DAY, "auth.csv", f"{GEO_HEADER}\n2024-03-01T08:00:00Z,alice,89.160.20.5,,,,1\n")
    events = load_day(SourceConfig(str(tmp_path), options={"geoip_city_db": geoip_databases[0]}), DAY).events
    assert events["location"].tolist() == ["Linkoping, Sweden"] and events["asn"].isna().all()


def test_a_geoip_database_that_is_not_there_is_a_clear_error(tmp_path):
    from ztad.ingest.geoip import GeoIPDatabaseError

    write_partition(tmp_path, DAY, "auth.csv", f"{GEO_HEADER}\n2024-03-01T08:00:00Z,alice,89.160.20.5,,,,1\n")
    source = SourceConfig(str(tmp_path), options={"geoip_city_db": str(tmp_path / "missing.mmdb")})
    with pytest.raises(GeoIPDatabaseError, match="missing.mmdb"):
        load_day(source, DAY)


def test_vendor_formats_are_located_too(tmp_path, geoip_databases):
    log = ("Mar  1 09:15:04 bastion sshd[4242]: Accepted password for alice from 81.2.69.160 port 50022 ssh2\n"
           "Mar  1 09:16:04 bastion sshd[4243]: Failed password for bob from 175.16.199.9 port 50023 ssh2\n")
    write_partition(tmp_path, DAY, "auth.log", log)
    options = {"year": "2024", "geoip_city_db": geoip_databases[0], "geoip_asn_db": geoip_databases[1]}
    events = load_day(SourceConfig(str(tmp_path), format="sshd", options=options), DAY).events
    assert events["location"].tolist() == ["London, United Kingdom", "Changchun, China"]
    assert events["asn"].tolist() == [20712, 4837] and events["resource"].tolist() == ["bastion"] * 2
