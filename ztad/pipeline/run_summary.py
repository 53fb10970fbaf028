"""What one day's run did: the counts and timings that its summary and its ``runs`` row report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

STEPS = ("pull", "update_baselines", "prepare_detectors", "score", "write_findings")

#: Ends the name of a sharded step's timing of its slowest shard (``score_slowest_shard``):
#: the step's wall time when every shard has a worker, and part of the step's own time.
SLOWEST_SHARD = "_slowest_shard"


@dataclass
class RunSummary:
    """What one day's run did: the counts and timings that also land in the ``runs`` table."""

    day: date
    run_id: str
    status: str
    rows_read: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_scored: int = 0
    rows_flagged: int = 0
    model_version: str | None = None
    model_action: str | None = None
    threshold: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    message: str = ""
    target_fpr: float | None = None
    expected_alerts: float | None = None
    rows_model_flagged: int | None = None
    rows_rule_flagged: int | None = None
    rows_skipped: int = 0
    files_skipped: list | None = None
    lacking: str | None = None

    @classmethod
    def from_steps(
        cls, day: date, run_id: str, dry_run: bool, pulled: dict, decision: dict, scored: dict,
        timings: dict[str, float],
    ) -> "RunSummary":
        """The summary of a finished run, from what its pull, detector and score steps returned."""
        return cls(
            day=day,
            run_id=run_id,
            status="dry_run" if dry_run else run_status(decision),
            timings=timings,
            **step_counts(pulled, decision, scored),
        )

    @property
    def seconds(self) -> float:
        """The run's time: its steps' times added up, without the slowest shards' times, which
        are already part of their steps'."""
        return sum(t for name, t in self.timings.items() if not name.endswith(SLOWEST_SHARD))

    def as_dict(self) -> dict:
        """A JSON-able copy (the day as an ISO string)."""
        out = asdict(self)
        out["day"] = self.day.isoformat()
        return out


def run_status(decision: dict) -> str:
    """The status of a finished run from its detector decision: ``empty`` without events,
    ``learning`` before a model could be trained (the rules alone judged it), else
    ``success``."""
    return {"none": "empty", "learning": "learning"}.get(decision.get("action"), "success")


def pulled_counts(pulled: dict) -> dict:
    """What the pull step read, quarantined, found twice and skipped (lines without an
    authentication attempt; files not read, ``None`` when every file was read)."""
    return {
        "rows_read": pulled["rows_read"],
        "rows_quarantined": pulled["rows_quarantined"],
        "rows_duplicate": pulled["rows_duplicate"],
        "rows_skipped": int(pulled.get("rows_skipped", 0)),
        "files_skipped": list(pulled.get("files_skipped") or []) or None,
    }


def step_counts(pulled: dict, decision: dict, scored: dict) -> dict:
    """What both a run's summary and its stored record report, from what its pull, detector
    and score steps returned: row counts, the model and why, the threshold and the budget."""
    return {
        **pulled_counts(pulled),
        "rows_scored": scored["rows_scored"],
        "rows_flagged": scored["rows_flagged"],
        "model_version": decision["model_version"],
        "model_action": decision["action"],
        "threshold": scored["threshold"],
        "message": decision.get("reason", ""),
        "lacking": decision.get("lacking"),
        **alert_budget(scored),
    }


def alert_budget(scored: dict) -> dict:
    """The day's alert budget from what the score step returned: the target false-positive
    rate, the alerts it promises (``target_fpr x rows_scored``), and what the ensemble alone
    and the rules flagged (``None`` for a day scored before these were counted)."""
    target = scored.get("target_fpr")
    return {
        "target_fpr": target,
        "expected_alerts": None if target is None else float(target) * int(scored["rows_scored"]),
        "rows_model_flagged": scored.get("rows_model_flagged"),
        "rows_rule_flagged": scored.get("rows_rule_flagged"),
    }
