"""``RunRecord`` and ``ModelRecord``: rows of the ``runs`` and ``models`` tables, as the
pipeline reports them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta, timezone

from ztad.store.tables import RUN_STATUSES
from ztad.store.types import as_utc_datetime

_COUNT_FIELDS = (
    "rows_read", "rows_quarantined", "rows_duplicate", "rows_scored", "rows_flagged",
    "rows_model_flagged", "rows_rule_flagged", "rows_skipped",
)
_RATE_FIELDS = ("threshold", "target_fpr", "expected_alerts")
_TIME_FIELDS = ("interval_start", "interval_end", "started_at", "finished_at")


@dataclass
class RunRecord:
    """What one run of one day did; the fields are the ``runs`` table's columns.

    Only ``run_id`` and ``day`` are required, so that a run that failed early can still be
    recorded. Values are normalised on creation: ``day`` may be an ISO string, timestamps
    may be ISO strings or pandas Timestamps (naive ones are taken as UTC), counts may be
    numpy integers. The data interval defaults to the UTC day ``[day, day + 1)``.

    The alert budget of the day: ``target_fpr`` is the share of normal events the model's
    threshold was calibrated to flag, ``expected_alerts`` is ``target_fpr x rows_scored``, and
    ``rows_model_flagged`` counts what the ensemble alone flagged, beside the rules'
    ``rows_rule_flagged`` and the final ``rows_flagged``.

    ``status`` is one of ``RUN_STATUSES``; ``rows_skipped`` counts input lines without an
    authentication attempt, ``files_skipped`` lists the partition files not read
    (``{path, size_bytes, reason}``), and ``lacking`` says what a learning day's history
    lacks before a model can be trained.
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
    target_fpr: float | None = None
    expected_alerts: float | None = None
    rows_model_flagged: int | None = None
    rows_rule_flagged: int | None = None
    rows_skipped: int | None = None
    files_skipped: list | None = None
    lacking: str | None = None

    def __post_init__(self) -> None:
        if not self.run_id:
            raise ValueError("a run needs a non-empty run_id")
        if self.status not in RUN_STATUSES:
            raise ValueError(f"run {self.run_id}: status {self.status!r} is not one of {RUN_STATUSES}")
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
        for name in _RATE_FIELDS:
            value = getattr(self, name)
            setattr(self, name, None if value is None else float(value))
        self.timings = dict(self.timings or {})
        if self.files_skipped is not None:
            self.files_skipped = [dict(item) for item in self.files_skipped]

    def as_row(self) -> dict:
        """The record as a ``runs`` row (column -> value)."""
        return asdict(self)

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """Field names, which are also the ``runs`` columns."""
        return tuple(f.name for f in fields(cls))


def _as_day(value, what: str) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{what} must be a date like 2026-03-15, got {value!r}") from None


@dataclass
class ModelRecord:
    """One registered model as a row of the ``models`` table: the registry's index in SQL.

    The registry facts (:meth:`ztad.detection.registry.ModelRegistry.index_record` gives them) are fixed
    for a version; ``train_reason``, ``trained_for_day`` and ``run_id`` say which run trained
    it and why, and are ``None`` when a run only loaded it. Writing a record whose run fields
    are ``None`` never erases those of a stored one (see ``FindingsStore.record_model``).
    """

    model_version: str
    trained_at: datetime
    trained_from: date
    trained_to: date
    training_rows: int
    feature_names: list
    artifact_uri: str
    metadata_sha256: str
    files: dict
    kind: str | None = None
    detectors: list | None = None
    params: dict | None = None
    libraries: dict | None = None
    metrics: dict | None = None
    target_fpr: float | None = None
    threshold: float | None = None
    calibration_rows: int | None = None
    train_reason: str | None = None
    trained_for_day: date | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        if not self.model_version:
            raise ValueError("a model record needs a non-empty model_version")
        where = f"model {self.model_version}"
        self.trained_at = as_utc_datetime(self.trained_at)
        if self.trained_at is None:
            raise ValueError(f"{where}: trained_at is required")
        self.trained_from = _as_day(self.trained_from, f"{where}: trained_from")
        self.trained_to = _as_day(self.trained_to, f"{where}: trained_to")
        self.trained_for_day = _as_day(self.trained_for_day, f"{where}: trained_for_day")
        if not self.trained_from < self.trained_to:
            raise ValueError(
                f"{where}: the training interval [{self.trained_from}, {self.trained_to}) is empty"
            )
        self.training_rows = int(self.training_rows)
        if self.calibration_rows is not None:
            self.calibration_rows = int(self.calibration_rows)
        for name in ("target_fpr", "threshold"):
            value = getattr(self, name)
            setattr(self, name, None if value is None else float(value))
        self.feature_names = [str(name) for name in self.feature_names]
        self.files = {str(path): str(digest) for path, digest in dict(self.files).items()}

    def as_row(self) -> dict:
        """The record as a ``models`` row (column -> value)."""
        return asdict(self)

    @classmethod
    def run_fields(cls) -> tuple[str, ...]:
        """The fields that describe the training run rather than the artifact set."""
        return ("train_reason", "trained_for_day", "run_id")
