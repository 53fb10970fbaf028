"""``RunRecord``: one row of the ``runs`` table, as the pipeline reports it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta, timezone

from ztad.store.types import as_utc_datetime

_COUNT_FIELDS = ("rows_read", "rows_quarantined", "rows_duplicate", "rows_scored", "rows_flagged")
_TIME_FIELDS = ("interval_start", "interval_end", "started_at", "finished_at")


@dataclass
class RunRecord:
    """What one run of one day did; the fields are the ``runs`` table's columns.

    Only ``run_id`` and ``day`` are required, so that a run that failed early can still be
    recorded. Values are normalised on creation: ``day`` may be an ISO string, timestamps
    may be ISO strings or pandas Timestamps (naive ones are taken as UTC), counts may be
    numpy integers. The data interval defaults to the UTC day ``[day, day + 1)``.
    """

    run_id: str
    day: date
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    status: str = "running"
    rows_read: int | None = None
    rows_quarantined: int | None = None
    rows_duplicate: int | None = None
    rows_scored: int | None = None
    rows_flagged: int | None = None
    model_version: str | None = None
    model_action: str | None = None
    threshold: float | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    timings: dict = field(default_factory=dict)
    message: str | None = None

    def __post_init__(self) -> None:
        if not self.run_id:
            raise ValueError("a run needs a non-empty run_id")
        if isinstance(self.day, datetime):
            self.day = self.day.date()
        elif isinstance(self.day, str):
            self.day = date.fromisoformat(self.day)
        if not isinstance(self.day, date):
            raise TypeError(f"run {self.run_id}: day must be a date, got {self.day!r}")
        for name in _TIME_FIELDS:
            setattr(self, name, as_utc_datetime(getattr(self, name)))
        if self.interval_start is None:
            self.interval_start = datetime.combine(self.day, datetime.min.time(), tzinfo=timezone.utc)
        if self.interval_end is None:
            self.interval_end = self.interval_start + timedelta(days=1)
        for name in _COUNT_FIELDS:
            value = getattr(self, name)
            setattr(self, name, None if value is None else int(value))
        if self.threshold is not None:
            self.threshold = float(self.threshold)
        self.timings = dict(self.timings or {})

    def as_row(self) -> dict:
        """The record as a ``runs`` row (column -> value)."""
        return asdict(self)

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """Field names, which are also the ``runs`` columns."""
        return tuple(f.name for f in fields(cls))
