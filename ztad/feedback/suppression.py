"""Flagged events that the allowlist covers are suppressed: not flagged, no finding."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.feedback.allowlist import COVERED_BY, EVENT_COLUMN, NEUTRAL_CODES


def _matches(events: pd.DataFrame, rows: np.ndarray, allowlist: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per allowlist kind, whether each of ``rows`` matches an entry of its user."""
    users = events["user_id"].astype("string").iloc[rows].to_numpy(dtype=object)
    out = {}
    for kind, column in EVENT_COLUMN.items():
        entries = allowlist[allowlist["kind"] == kind]
        if entries.empty or column not in events.columns:
            out[kind] = np.zeros(len(rows), dtype=bool)
            continue
        allowed = set(zip(entries["user_id"].astype(str), entries["value"].astype(str)))
        values = events[column].astype("string").iloc[rows].to_numpy(dtype=object)
        out[kind] = np.array([(u, v) in allowed for u, v in zip(users, values)], dtype=bool)
    return out


def covered(codes: list[str], matched: set[str]) -> bool:
    """Whether every reason code is covered by the matched allowlist kinds."""
    if not matched:
        return False
    for code in codes:
        if code in NEUTRAL_CODES:
            continue
        alternatives = COVERED_BY.get(code)
        if not alternatives or not any(kinds <= matched for kinds in alternatives):
            return False
    return True


def suppressed_mask(
    events: pd.DataFrame,
    features: pd.DataFrame,
    rule_hits: pd.DataFrame | None,
    flagged,
    allowlist: pd.DataFrame,
    protected_event_ids=(),
) -> np.ndarray:
    """Which flagged events an analyst's false positives cover (see the module docstring).

    Only flagged events of users with entries that match one of the event's values are
    explained (a handful), so this is cheap on a large day.

    Parameters
    ----------
    events, features, rule_hits
        The day's events, features and rule hits (rule codes as column names), row-aligned.
    flagged
        Boolean per event.
    allowlist
        Entries in force (:func:`effective_allowlist`).
    protected_event_ids
        Events never suppressed: those of confirmed findings, when a day is rerun.
    """
    from ztad.findings.sentences import explain

    flagged = np.asarray(flagged, dtype=bool)
    out = np.zeros(len(flagged), dtype=bool)
    if allowlist is None or allowlist.empty or not flagged.any():
        return out
    users = set(allowlist["user_id"].astype(str))
    rows = np.flatnonzero(flagged & events["user_id"].astype("string").isin(users).fillna(False).to_numpy(bool))
    if protected_event_ids is not None and len(protected_event_ids) and len(rows):
        protected = events["event_id"].astype("string").iloc[rows].isin(set(protected_event_ids)).to_numpy(bool)
        rows = rows[~protected]
    if len(rows) == 0:
        return out
    matches = _matches(events, rows, allowlist)
    any_match = np.any(np.column_stack(list(matches.values())), axis=1)
    rows, matches = rows[any_match], {kind: hit[any_match] for kind, hit in matches.items()}
    if len(rows) == 0:
        return out
    candidates = np.zeros(len(flagged), dtype=bool)
    candidates[rows] = True
    reasons = explain(events, features, rule_hits, candidates)
    for k, (row, reason_list) in enumerate(zip(rows, reasons)):
        matched = {kind for kind, hit in matches.items() if hit[k]}
        out[row] = covered([str(r["code"]) for r in reason_list], matched)
    return out
