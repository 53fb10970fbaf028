"""Verdicts applied before a day is judged: the past days whose verdicts changed are rebuilt,
and the day's allowlist is kept for its scoring."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from ztad.feedback.allowlist import (
    ALLOWLIST_COLUMNS,
    derive_allowlist,
    effective_allowlist,
    empty_allowlist,
    read_allowlist,
)
from ztad.feedback.learning import baseline_mask, event_ids_with, hour_only_alerts, raised_for_hour_alone
from ztad.feedback.verdicts import (
    CONFIRMED,
    FALSE_POSITIVE,
    existing_store,
    finding_days,
    finding_sources,
    log,
    read_verdicts,
)

FEEDBACK_FILE = "feedback.json"


def fingerprint(verdicts: pd.DataFrame | None) -> dict[str, list[str]]:
    """The verdicts of one day as sorted event id lists (what a rebuild took into account)."""
    return {FALSE_POSITIVE: sorted(event_ids_with(verdicts, FALSE_POSITIVE)), CONFIRMED: sorted(event_ids_with(verdicts, CONFIRMED))}


def fingerprint_path(state_dir: Path | str, day: date) -> Path:
    """Where the verdicts applied to a day's baseline and training files are recorded."""
    return Path(state_dir) / "feedback" / f"day={day.isoformat()}.json"


def applied_fingerprint(state_dir: Path | str, day: date) -> dict[str, list[str]]:
    """The verdicts last applied to ``day`` (none when never recorded)."""
    path = fingerprint_path(state_dir, day)
    return json.loads(path.read_text()) if path.exists() else fingerprint(None)


def _unique_tmp(path: Path) -> Path:
    """A temporary name beside ``path`` that no other process uses."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


def record_fingerprint(state_dir: Path | str, day: date, verdicts: pd.DataFrame | None) -> None:
    """Record the verdicts applied to ``day``; none recorded as no file."""
    path = fingerprint_path(state_dir, day)
    current = fingerprint(verdicts)
    if not any(current.values()):
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _unique_tmp(path)
    tmp.write_text(json.dumps(current))
    tmp.replace(path)


def drop_confirmed_training_rows(path: Path, verdicts: pd.DataFrame | None) -> int:
    """Remove confirmed events from a saved training file (kept with an ``event_id`` column)."""
    confirmed = event_ids_with(verdicts, CONFIRMED)
    if not confirmed or not path.exists():
        return 0
    frame = pd.read_parquet(path)
    if "event_id" not in frame.columns:
        return 0
    drop = frame["event_id"].astype("string").isin(confirmed).fillna(False).to_numpy(bool)
    if drop.any():
        tmp = _unique_tmp(path)
        frame[~drop].reset_index(drop=True).to_parquet(tmp, index=False)
        tmp.replace(path)
    return int(drop.sum())


@dataclass
class DayFeedback:
    """What the scoring of one day needs from the verdicts."""

    allowlist: pd.DataFrame
    protected_event_ids: list[str]

    def to_json(self) -> dict:
        entries = self.allowlist.assign(valid_from=self.allowlist["valid_from"].astype(str))
        return {"allowlist": entries.to_dict("records"), "protected_event_ids": self.protected_event_ids}

    @classmethod
    def from_json(cls, payload: dict) -> "DayFeedback":
        entries = pd.DataFrame(payload.get("allowlist", []), columns=list(ALLOWLIST_COLUMNS), dtype=object)
        entries["valid_from"] = [date.fromisoformat(str(d)) for d in entries["valid_from"]]
        return cls(entries, list(payload.get("protected_event_ids", [])))

    @classmethod
    def none(cls) -> "DayFeedback":
        return cls(empty_allowlist(), [])


def load_day_feedback(folder: Path) -> DayFeedback:
    """The feedback kept for a day's scoring (none when the file is absent)."""
    path = Path(folder) / FEEDBACK_FILE
    return DayFeedback.from_json(json.loads(path.read_text())) if path.exists() else DayFeedback.none()


def relearn_past_days(
    day: date,
    config,
    store,
    verdicts: pd.DataFrame,
    load_events: Callable[[date], pd.DataFrame],
    training_path: Callable[[date], Path],
) -> list[date]:
    """Rebuild the baseline aggregates (and clean the training files) of past days whose
    verdicts changed since last applied; also build, with the verdicts, missing aggregates of
    days that have findings (instead of learning their flagged events).

    ``training_path(day)`` is where a day's training features are kept. Returns the days
    rebuilt.
    """
    from ztad.behaviour.baselines import (
        aggregate_dir,
        daily_aggregate,
        save_daily_aggregate,
    )

    detection = config.detection
    start = day - timedelta(days=max(detection.history_days, detection.training_days))
    by_day = {d: group for d, group in verdicts.groupby("day")} if len(verdicts) else {}
    with_findings = finding_days(store, start, day)
    rebuilt = []
    for offset in range((day - start).days):
        past = start + timedelta(days=offset)
        day_verdicts = by_day.get(past)
        changed = fingerprint(day_verdicts) != applied_fingerprint(config.state_dir, past)
        missing = past in with_findings and not (aggregate_dir(config.state_dir, past) / "meta.json").exists()
        if not (changed or missing):
            continue
        events = load_events(past)
        if events is None or events.empty:
            continue
        sources = finding_sources(store, past)
        ids = events["event_id"].astype("string")
        flagged = ids.isin(set(sources)).fillna(False).to_numpy(bool)
        hour_only = ids.isin(raised_for_hour_alone(sources)).fillna(False).to_numpy(bool)
        keep = baseline_mask(events["event_id"], flagged, day_verdicts)
        alerted, other = hour_only_alerts(events["user_id"], events["event_id"], flagged, hour_only, day_verdicts)
        save_daily_aggregate(daily_aggregate(events[keep], events[alerted], events[other]), config.state_dir, past)
        drop_confirmed_training_rows(training_path(past), day_verdicts)
        record_fingerprint(config.state_dir, past, day_verdicts)
        rebuilt.append(past)
    if rebuilt:
        log.info("%s: rebuilt the baseline of %s with analysts' verdicts", day, ", ".join(map(str, rebuilt)))
    return rebuilt


def apply_feedback(
    day: date,
    config,
    load_events: Callable[[date], pd.DataFrame],
    training_path: Callable[[date], Path],
    folder: Path,
) -> dict:
    """Read the verdicts before ``day`` is scored: rebuild what they changed and keep, in
    ``folder``, the allowlist in force on ``day`` and the events a rerun must not suppress.

    A database that does not exist yet has no verdicts.
    """
    store = existing_store(config.resolved_database_url)
    feedback, rebuilt = DayFeedback.none(), []
    if store is not None:
        with store:
            verdicts = read_verdicts(store)
            window = verdicts[[d < day for d in verdicts["day"]]] if len(verdicts) else verdicts
            rebuilt = relearn_past_days(day, config, store, window, load_events, training_path)
            allowlist = effective_allowlist(read_allowlist(store), derive_allowlist(window), day)
            protected = sorted(event_ids_with(verdicts[[d == day for d in verdicts["day"]]], CONFIRMED)) if len(verdicts) else []
            feedback = DayFeedback(allowlist, protected)
    path = Path(folder) / FEEDBACK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(feedback.to_json(), indent=2, default=str))
    return {"allowlist_entries": int(len(feedback.allowlist)), "relearned_days": [d.isoformat() for d in rebuilt]}
