"""Which events may teach the baseline and the detectors, given the day's flags and verdicts,
and, for history the job never scored, the labels the source carries."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from ztad.feedback.verdicts import (
    CONFIRMED,
    FALSE_POSITIVE,
    existing_store,
    finding_event_ids,
    read_verdicts,
)
from ztad.schema import is_anomaly_label


def event_ids_with(verdicts: pd.DataFrame, verdict: str) -> set[str]:
    """The ids of the events whose verdict is ``verdict``."""
    if verdicts is None or verdicts.empty:
        return set()
    return set(verdicts.loc[verdicts["verdict"] == verdict, "event_id"].astype(str))


def baseline_mask(event_ids: pd.Series, flagged, verdicts: pd.DataFrame | None) -> np.ndarray:
    """Events a day's baseline aggregate learns: unflagged or false positive, never confirmed."""
    ids = event_ids.astype("string")
    false_positive = ids.isin(event_ids_with(verdicts, FALSE_POSITIVE)).fillna(False).to_numpy(bool)
    confirmed = ids.isin(event_ids_with(verdicts, CONFIRMED)).fillna(False).to_numpy(bool)
    return (~np.asarray(flagged, dtype=bool) | false_positive) & ~confirmed


def training_mask(event_ids: pd.Series, flagged, verdicts: pd.DataFrame | None) -> np.ndarray:
    """Events whose features train the detectors: unflagged and never confirmed."""
    confirmed = event_ids.astype("string").isin(event_ids_with(verdicts, CONFIRMED)).fillna(False).to_numpy(bool)
    return ~np.asarray(flagged, dtype=bool) & ~confirmed


#: The sources of a finding raised for its hour alone (:func:`hour_only_alerts`).
HOUR_ONLY_SOURCES = ("rule:off_hours",)


def raised_for_hour_alone(sources: dict[str, list[str]]) -> set[str]:
    """The event ids, among stored findings' ``event id -> sources``, that only the off-hours
    rule raised."""
    return {event_id for event_id, raised in sources.items() if tuple(raised) == HOUR_ONLY_SOURCES}


def hour_only_alerts(user_ids: pd.Series, event_ids: pd.Series, flagged, hour_only,
                     verdicts: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """The day's alerts as the baseline's count of the user's nights reads them
    (:class:`ztad.behaviour.baselines.DailyAggregate`'s ``user_alerted_hour`` and
    ``user_other_alert``): the events alerted for their hour alone (``hour_only``: the
    off-hours rule raised them, nothing else did) by a user whose day held no other alert and
    nothing confirmed, and the events that hold any other alert or a confirmed verdict.

    An on-call engineer's alerted nights so become their pattern after a few nights, where
    they would otherwise be alerted night after night (an alerted night is never trusted);
    a night with a new device, an odd transfer or a model alert never counts, nor one an
    analyst confirmed, and a user with any such alert in the window earns no habit from alerts.
    """
    flagged = np.asarray(flagged, dtype=bool)
    hour_only = np.asarray(hour_only, dtype=bool) & flagged
    confirmed = event_ids.astype("string").isin(event_ids_with(verdicts, CONFIRMED)).fillna(False).to_numpy(bool)
    other = (flagged & ~hour_only) | confirmed
    users = user_ids.astype("string").reset_index(drop=True)
    tainted = users.isin(users[other].unique()).fillna(False).to_numpy(bool)
    return hour_only & ~tainted, other


def learnable_events(config, day: date, event_ids: pd.Series) -> np.ndarray:
    """Which of a past day's events may train the detectors: those its stored findings do not
    flag, and never a confirmed one (all of them when the day has no stored findings)."""
    store = existing_store(config.resolved_database_url)
    if store is None:
        return np.ones(len(event_ids), dtype=bool)
    with store:
        flagged = event_ids.astype("string").isin(finding_event_ids(store, day)).fillna(False).to_numpy(bool)
        verdicts = read_verdicts(store, day, day + timedelta(days=1))
    return training_mask(event_ids, flagged, verdicts)


def trusted_by_labels(events: pd.DataFrame) -> np.ndarray | None:
    """Events a labelled source trusts as normal: those labelled ``normal`` (zero trust: any
    other label, and a missing one, is not trusted). ``None`` when the events carry no label
    at all (production logs), so that everything may be learnt as before.

    Only history the job never scored is judged by its labels: a scored day learns from its
    unflagged events and its verdicts, never from its own labels.
    """
    if "event_label" not in events.columns:
        return None
    labels = events["event_label"].astype("string").str.strip().replace("", pd.NA)
    if labels.isna().all():
        return None
    return (~is_anomaly_label(labels)).fillna(False).to_numpy(dtype=bool)
