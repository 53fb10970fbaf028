"""The allowlist false positives grant: derived from verdicts, in force from the next day."""

from __future__ import annotations

from datetime import timedelta

from tests.ztad.feedback.verdict_rows import DAY, TRIP, verdict_frame, verdict_row
from ztad.feedback import CONFIRMED, FALSE_POSITIVE, derive_allowlist, effective_allowlist


def test_a_false_positive_allows_what_made_it_unusual_from_the_next_day():
    verdicts = verdict_frame(
        verdict_row(f"{DAY}:e1", FALSE_POSITIVE, ["new_city", "new_device_new_place", "new_ip"]),
        verdict_row(f"{DAY}:e2", FALSE_POSITIVE, ["off_hours"]),
        verdict_row(f"{DAY}:e3", CONFIRMED, ["new_resource"], user="mallory"),
    )
    entries = derive_allowlist(verdicts)
    assert sorted(zip(entries["kind"], entries["value"])) == [
        ("device", "LT-TRIP"), ("ip", "198.51.100.77"), ("location", TRIP)
    ]
    assert set(entries["user_id"]) == {"alice"}
    assert set(entries["valid_from"]) == {DAY + timedelta(days=1)}
    assert set(entries["source_finding_id"]) == {f"{DAY}:e1"}


def test_the_earliest_false_positive_sets_when_an_entry_starts():
    later = DAY + timedelta(days=3)
    verdicts = verdict_frame(
        verdict_row(f"{later}:e9", FALSE_POSITIVE, ["new_city"], day=later),
        verdict_row(f"{DAY}:e1", FALSE_POSITIVE, ["rare_place"]),
    )
    (entry,) = derive_allowlist(verdicts).to_dict("records")
    assert entry["valid_from"] == DAY + timedelta(days=1) and entry["source_finding_id"] == f"{DAY}:e1"


def test_entries_are_in_force_from_their_first_day_only():
    stored = derive_allowlist(verdict_frame(verdict_row(f"{DAY}:e1", FALSE_POSITIVE, ["new_city"])))
    assert effective_allowlist(stored, derive_allowlist(verdict_frame()), DAY).empty
    assert len(effective_allowlist(stored, stored, DAY + timedelta(days=1))) == 1
