"""Verdicts applied before a day is judged: fingerprints, training files and the day's feedback."""

from __future__ import annotations

import pandas as pd

from tests.ztad.feedback.verdict_rows import DAY, verdict_frame, verdict_row
from ztad.feedback import (
    CONFIRMED,
    FALSE_POSITIVE,
    DayFeedback,
    applied_fingerprint,
    derive_allowlist,
    drop_confirmed_training_rows,
    record_fingerprint,
)


def test_applied_verdicts_are_recorded_per_day(tmp_path):
    verdicts = verdict_frame(verdict_row("d:fp", FALSE_POSITIVE, ["new_city"]), verdict_row("d:x", CONFIRMED, ["new_city"]))
    assert applied_fingerprint(tmp_path, DAY) == {FALSE_POSITIVE: [], CONFIRMED: []}
    record_fingerprint(tmp_path, DAY, verdicts)
    assert applied_fingerprint(tmp_path, DAY) == {FALSE_POSITIVE: ["fp"], CONFIRMED: ["x"]}
    record_fingerprint(tmp_path, DAY, verdicts.iloc[:0])
    assert applied_fingerprint(tmp_path, DAY) == {FALSE_POSITIVE: [], CONFIRMED: []}


def test_confirmed_events_are_removed_from_a_saved_training_file(tmp_path):
    path = tmp_path / "day.parquet"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "event_id": ["a", "x", "b"]}).to_parquet(path)
    verdicts = verdict_frame(verdict_row("d:x", CONFIRMED, ["new_city"]))
    assert drop_confirmed_training_rows(path, verdicts) == 1
    assert pd.read_parquet(path)["event_id"].tolist() == ["a", "b"]
    assert drop_confirmed_training_rows(tmp_path / "absent.parquet", verdicts) == 0


def test_day_feedback_survives_its_json_form():
    allowlist = derive_allowlist(verdict_frame(verdict_row(f"{DAY}:e1", FALSE_POSITIVE, ["new_city"])))
    again = DayFeedback.from_json(DayFeedback(allowlist, ["e5"]).to_json())
    pd.testing.assert_frame_equal(again.allowlist, allowlist, check_dtype=False)
    assert again.protected_event_ids == ["e5"]
