"""The rows a day's findings read: the flagged ones and those of scanning sources, which tell
the same reasons as the whole day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tests.ztad.behaviour.features.sequences import DAY, frame, login
from ztad.behaviour.features import FEATURE_NAMES
from ztad.findings.sentences import explain
from ztad.findings.typical import TypicalValues
from ztad.pipeline.described_rows import described_rows

SCANNER, OTHER_SCANNER, OFFICE = "203.0.113.7", "198.51.100.9", "192.0.2.10"
#: Per row: address, flagged, hit by the scanning rule (row 4: hit but suppressed).
ROWS = [
    (OFFICE, False, False), (OFFICE, True, False), (SCANNER, True, True), (OFFICE, False, False),
    (OTHER_SCANNER, False, True), (None, False, False), (SCANNER, False, False), (OTHER_SCANNER, False, False),
    (None, True, True), (OFFICE, False, False),
]


def _day(tmp_path):
    events = frame([
        login(f"user{i % 4}", f"{DAY} 10:{i:02d}", ip=ip, success=i % 3 == 0) for i, (ip, _, _) in enumerate(ROWS)
    ])
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pandas(events, preserve_index=False), path, row_group_size=3)
    scored = pd.DataFrame({"flagged": [f for _, f, _ in ROWS], "rule_background_scanning": [h for _, _, h in ROWS]})
    return path, events, scored


def test_the_flagged_rows_and_every_row_of_a_scanning_address_are_read(tmp_path):
    path, _, scored = _day(tmp_path)
    assert described_rows(path, scored).tolist() == [1, 2, 4, 6, 7, 8]


def test_without_the_scanning_rule_only_the_flagged_rows_are_read(tmp_path):
    path, _, scored = _day(tmp_path)
    assert described_rows(path, scored.drop(columns="rule_background_scanning")).tolist() == [1, 2, 8]


def test_the_rows_read_give_the_reasons_the_whole_day_gives(tmp_path):
    path, events, scored = _day(tmp_path)
    rng = np.random.default_rng(2)
    features = pd.DataFrame({name: rng.random(len(events)) for name in FEATURE_NAMES})
    rules = pd.DataFrame({"background_scanning": scored["rule_background_scanning"]})
    flagged = scored["flagged"].to_numpy(bool)
    whole = explain(events, features, rules, flagged)
    rows = described_rows(path, scored)
    part = explain(events.iloc[rows].reset_index(drop=True), None, rules.iloc[rows].reset_index(drop=True),
                   flagged[rows], features[flagged].reset_index(drop=True), TypicalValues.of_frame(features))
    assert list(part) == list(whole)
    assert "one of 2 sources scanning today" in whole.iloc[1][0]["text"]
