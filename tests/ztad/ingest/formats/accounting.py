"""What every reader promises: each record it reads is an event, quarantined, or skipped."""

from __future__ import annotations


def assert_every_record_counted(batches: list, records: int) -> None:
    """``batches`` of one file hold ``records`` records in all, each in exactly one place, and
    some skipped (the samples hold records that are not sign-ins)."""
    events = sum(len(b.frame) for b in batches)
    quarantined = sum(len(b.quarantine) for b in batches)
    skipped = sorted(int(row) for b in batches for row in b.skipped)
    assert skipped and events + quarantined + len(skipped) == records
    rows = {int(r) for b in batches for r in [*b.frame["source_row"], *b.quarantine["source_row"]]}
    assert not rows & set(skipped)
