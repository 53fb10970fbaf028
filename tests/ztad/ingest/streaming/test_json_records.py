"""Lines decoded into records, each bad one quarantined alone with its reason."""

import json

import msgspec
import numpy as np

from tests.ztad.ingest.streaming.records import Record
from ztad.ingest.streaming.json_records import decode_records


def test_bad_lines_are_isolated_with_reasons():
    lines = [b'{"a": 1}', b"", b'{"a": [1]}', b"not json", b'{"a": 2}{"a": 3}', b'{"a": "z"}']
    decoded = decode_records(msgspec.json.Decoder(Record), lines, np.arange(1, 7), "f.jsonl")
    assert [r.a for r in decoded.records] == [1, "z"]
    assert decoded.rows.tolist() == [1, 6]
    reasons = decoded.quarantine.set_index("source_row")["reason"]
    assert reasons[3].startswith("unexpected JSON value")
    assert reasons[4].startswith("malformed JSON")
    assert reasons[5].startswith("malformed JSON")
    assert json.loads(decoded.quarantine.set_index("source_row").loc[4, "raw"]) == "not json"
