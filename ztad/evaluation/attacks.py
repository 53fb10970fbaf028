"""What an analyst sees: attacks caught (counted per attack) and false incidents per day.

Per-event recall counts a brute force of twenty guesses twenty times; an analyst needs one
finding to open the case. So an attack is **caught** when at least one of its events is
flagged. An attack is the set of events sharing an ``attack_id`` (``ztad generate`` writes one
per attack); data without attack ids count each anomalous event as an attack of its own, which
is what rows drawn independently, as in the origin data set, are.

The analyst triages incidents, not events: the flagged events of one user on one day (or of
one attacking source) form one incident (:mod:`ztad.findings.incidents`). An incident is
**false** when none of its events is an attack; the noise an analyst lives with is the number
of false incidents per scored day. A day without any incident counts as zero. The first two
weeks after the job starts are reported apart: baselines are young then, and noise is worst.

Everything here is a pure function of aligned arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Scored days counted as the start, when baselines are still young.
FIRST_WEEKS_DAYS = 14
#: Prefix of the attack key of an anomalous event without an attack id (one attack per event).
SINGLE_EVENT_ATTACK = "event:"


def attack_keys(is_anomaly: np.ndarray, attack_ids: pd.Series | None) -> pd.Series:
    """The attack each event belongs to: its ``attack_id``, else one attack per anomalous event;
    missing on normal events (positional index)."""
    anomalous = np.asarray(is_anomaly, dtype=bool)
    rows = pd.RangeIndex(len(anomalous))
    own = pd.Series(SINGLE_EVENT_ATTACK + rows.astype(str), index=rows, dtype="string")
    if attack_ids is not None:
        given = pd.Series(attack_ids.to_numpy(), index=rows).astype("string").str.strip().replace("", pd.NA)
        own = given.fillna(own)
    return own.where(anomalous, pd.NA)


def attack_recall(labels: pd.Series, attacks: pd.Series, flagged) -> dict:
    """Share of attacks with at least one flagged event, overall and per category.

    Parameters
    ----------
    labels
        Each event's label (positional); an attack's category is the label of its first event,
        and a combined label ``a+b`` counts for ``a`` and for ``b``.
    attacks
        Each event's attack key (:func:`attack_keys`), missing on normal events.
    flagged
        The decisions, aligned with ``labels``.

    Returns
    -------
    dict
        ``{"attacks", "caught", "recall", "per_category": {category: {"attacks", "caught",
        "recall"}}}``.
    """
    frame = pd.DataFrame({
        "attack": attacks.to_numpy(),
        "label": labels.astype("string").to_numpy(),
        "flagged": np.asarray(flagged, dtype=bool),
    }).dropna(subset=["attack"])
    per_attack = frame.groupby("attack", sort=True).agg(label=("label", "first"), caught=("flagged", "any"))
    parts = per_attack.assign(category=per_attack["label"].str.split("+")).explode("category")
    parts["category"] = parts["category"].str.strip()
    parts = parts[parts["category"].notna() & (parts["category"] != "")]
    parts = parts.reset_index().drop_duplicates(["attack", "category"])
    by_category = parts.groupby("category", sort=True)["caught"].agg(["size", "sum"])
    return {
        **_share(len(per_attack), int(per_attack["caught"].sum())),
        "per_category": {str(c): _share(int(row["size"]), int(row["sum"])) for c, row in by_category.iterrows()},
    }


def _share(attacks: int, caught: int) -> dict:
    return {"attacks": attacks, "caught": caught, "recall": caught / attacks if attacks else 0.0}


def user_day_incidents(days: pd.Series, users: pd.Series | None) -> pd.Series:
    """Incident keys when the job's own are not known: one per user and day (one per event
    without users)."""
    rows = pd.RangeIndex(len(days))
    day_text = pd.Series(days.to_numpy(), index=rows).astype("string")
    if users is None:
        return day_text + ":event:" + rows.astype(str)
    return day_text + ":user:" + pd.Series(users.to_numpy(), index=rows).astype("string").fillna("")


def false_incidents(
    days: pd.Series,
    incidents: pd.Series,
    is_anomaly: np.ndarray,
    flagged,
    first_weeks_days: int = FIRST_WEEKS_DAYS,
) -> dict:
    """Incidents raised and false incidents (no attack event among their flagged events) per
    scored day, overall, for the first ``first_weeks_days`` scored days and for the rest.

    Parameters
    ----------
    days
        Each event's day; every day present counts as scored, with or without incidents.
    incidents
        Each event's incident key (used for flagged events only).
    is_anomaly, flagged
        Truth and decisions, aligned with ``days``.

    Returns
    -------
    dict
        ``incidents``, ``false_incidents``, ``scored_days``, ``false_per_day`` (mean),
        ``false_per_day_first_weeks``, ``false_per_day_later`` (``None`` without later days),
        ``incidents_per_day`` and ``false_by_day`` (day -> count).
    """
    flags = np.asarray(flagged, dtype=bool)
    all_days = sorted(pd.Series(days.to_numpy()).dropna().unique())
    frame = pd.DataFrame({
        "day": days.to_numpy()[flags],
        "incident": incidents.to_numpy()[flags],
        "attack": np.asarray(is_anomaly, dtype=bool)[flags],
    })
    per_incident = frame.groupby(["day", "incident"], sort=True)["attack"].any().reset_index()
    false = per_incident[~per_incident["attack"]].groupby("day").size().reindex(all_days, fill_value=0)
    raised = per_incident.groupby("day").size().reindex(all_days, fill_value=0)
    first, later = false.iloc[:first_weeks_days], false.iloc[first_weeks_days:]
    return {
        "incidents": len(per_incident),
        "false_incidents": int(false.sum()),
        "scored_days": len(all_days),
        "false_per_day": float(false.mean()) if len(false) else 0.0,
        "false_per_day_first_weeks": float(first.mean()) if len(first) else 0.0,
        "false_per_day_later": float(later.mean()) if len(later) else None,
        "incidents_per_day": float(raised.mean()) if len(raised) else 0.0,
        "false_by_day": {str(day): int(n) for day, n in false.items()},
    }
