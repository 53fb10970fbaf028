"""Fields of decoded msgspec records -> Arrow columns, the same as plucking them one by one."""

import msgspec
import pyarrow as pa

from ztad.ingest.streaming.output import values_array
from ztad.ingest.streaming.record_columns import RecordColumns

Scalar = str | int | float | bool | None


class Data(msgspec.Struct, gc=False):
    user: Scalar = None
    ip: Scalar = None
    logon_type: Scalar = None


class Geo(msgspec.Struct, gc=False):
    lat: float | None = None


class Event(msgspec.Struct, gc=False):
    id: Scalar = None
    time: Scalar = None
    data: Data | None = None
    geo: Geo | None = None
    tags: list[str] | None = None


FIELDS = {"id": "id", "time": "time", "user": "data.user", "ip": "data.ip", "type": "data.logon_type",
          "lat": "geo.lat", "tags": "tags"}


def decode(records):
    return msgspec.json.Decoder(list[Event]).decode(msgspec.json.encode(records))


def pluck_many(records: list, paths: dict[str, str]) -> dict[str, list]:
    """The obvious way, one attribute path at a time: values at each path ("a.b.c") of every
    record, None where a level is None."""
    def value_at(record, path):
        for name in path.split("."):
            record = getattr(record, name, None)
        return record

    return {name: [value_at(record, path) for record in records] for name, path in paths.items()}


def plucked(events):
    columns = pluck_many(events, FIELDS)
    return {name: values if name == "tags" else values_array(values) for name, values in columns.items()}


def test_columns_match_plucking_one_field_at_a_time():
    columns = RecordColumns(FIELDS, raw={"tags"})
    pieces = [
        [{"id": "a", "time": "t", "data": {"user": "alice", "ip": "10.0.0.1", "logon_type": "3"}, "geo": {"lat": 1.5}}],
        [{"id": "b", "data": {"user": "bob", "logon_type": 10}, "tags": ["x"]}, {"id": "c", "data": None}],
        [{"id": 7, "time": "u", "data": {"user": "carol", "ip": "-", "logon_type": "2"}, "geo": None}],
        [{"id": "d", "data": {"user": 5, "ip": "10.0.0.2"}}, {}],
    ]
    for piece in pieces:
        events = decode(piece)
        got, expected = columns(events), plucked(events)
        assert got.keys() == expected.keys()
        assert got.pop("tags") == expected.pop("tags")  # handed over as the decoded values
        for name in got:
            assert got[name].to_pylist() == expected[name].to_pylist(), name
            assert got[name].type == expected[name].type or got[name].type == pa.string(), name


def test_fields_seen_holding_numbers_are_taken_alone_from_then_on():
    columns = RecordColumns({"user": "data.user", "type": "data.logon_type", "ip": "data.ip"})
    columns(decode([{"data": {"user": "a", "logon_type": 3, "ip": "x"}}]))
    later = columns(decode([{"data": {"user": "b", "logon_type": 10, "ip": "y"}}]))
    assert later["type"].type == pa.int64() and later["type"].to_pylist() == [10]
    assert later["user"].to_pylist() == ["b"] and later["ip"].to_pylist() == ["y"]


def test_missing_levels_give_missing_values():
    got = RecordColumns({"user": "data.user", "ip": "data.ip"})(decode([{"data": None}, {}, {"data": {"ip": "z"}}]))
    assert got["user"].to_pylist() == [None, None, None]
    assert got["ip"].to_pylist() == [None, None, "z"]


class First(msgspec.Struct, tag=True, gc=False):
    x: Scalar = None
    y: Scalar = None


class Second(msgspec.Struct, tag=True, gc=False):
    y: Scalar = None
    x: Scalar = None


class Mixed(msgspec.Struct, gc=False):
    data: First | Second | None = None
    note: Data | str | None = None


def test_levels_holding_objects_of_several_kinds_are_taken_by_name():
    records = msgspec.json.Decoder(list[Mixed]).decode(msgspec.json.encode([
        {"data": {"type": "First", "x": "a", "y": "b"}, "note": {"user": "u", "ip": "i"}},
        {"data": {"type": "Second", "y": "d", "x": "c"}, "note": "plain"},
        {"data": None},
    ]))
    got = RecordColumns({"x": "data.x", "y": "data.y", "user": "note.user", "ip": "note.ip"})(records)
    assert got["x"].to_pylist() == ["a", "c", None] and got["y"].to_pylist() == ["b", "d", None]
    assert got["user"].to_pylist() == ["u", None, None] and got["ip"].to_pylist() == ["i", None, None]
