"""Per-user daily risk: one number per user and day that ranks who needs attention.

A user's risk on a day combines the incidents the user was part of, each counted once at the
severity of the user's worst finding in it, as independent chances::

    risk = 100 * (1 - prod(1 - severity_i / 100))

so one critical incident (90) gives 90, two high ones (70, 70) give 91, and sixty failed
guesses of one brute force count as one incident, not sixty. Rows are kept per day in the
``user_risk`` table; the ``top_risky_users`` view adds them up over 7 and 30 days.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np
import pandas as pd

from ztad.findings.severity import pattern_points

#: Columns of a user risk frame (the ``user_risk`` table's, ``created_at`` aside).
RISK_COLUMNS: tuple[str, ...] = (
    "day", "user_id", "risk_score", "findings_count", "incidents_count", "max_severity",
    "top_category", "categories", "run_id",
)


class RiskInputError(ValueError):
    """The findings lack what the risk computation needs."""


def union_of_chances(severities: pd.Series, groups) -> pd.Series:
    """Per group, ``100 * (1 - prod(1 - s / 100))`` of its severities (0-100)."""
    survival = np.log1p(-np.clip(severities.to_numpy(np.float64), 0.0, 99.999) / 100.0)
    combined = pd.Series(survival, index=severities.index).groupby(groups).sum()
    return 100.0 * (1.0 - np.exp(combined))


def user_risk(findings: pd.DataFrame, day: date, run_id: str | None = None) -> pd.DataFrame:
    """One row per user with findings on ``day``.

    Parameters
    ----------
    findings
        The day's findings with ``user_id``, ``incident_id``, ``severity`` and ``category``.

    Returns
    -------
    pandas.DataFrame
        :data:`RISK_COLUMNS`, riskiest user first.
    """
    missing = [c for c in ("user_id", "incident_id", "severity", "category") if c not in findings.columns]
    if missing:
        raise RiskInputError(f"findings lack column(s) {missing}; add severity, category and incident_id first")
    if findings.empty:
        return pd.DataFrame({name: [] for name in RISK_COLUMNS})
    frame = findings[["user_id", "incident_id", "severity", "category"]].copy()
    frame["user_id"] = frame["user_id"].astype(str)
    frame["severity"] = pd.to_numeric(frame["severity"]).astype(float)
    worst_per_incident = frame.groupby(["user_id", "incident_id"])["severity"].max()
    users = worst_per_incident.index.get_level_values("user_id")
    risk = union_of_chances(worst_per_incident, users)
    per_user = frame.groupby("user_id")
    worst_rows = frame.loc[per_user["severity"].idxmax()].set_index("user_id")
    out = pd.DataFrame(
        {
            "day": day,
            "user_id": risk.index,
            "risk_score": np.round(risk.to_numpy(), 2),
            "findings_count": per_user.size().reindex(risk.index).to_numpy(),
            "incidents_count": worst_per_incident.groupby(users).size().reindex(risk.index).to_numpy(),
            "max_severity": per_user["severity"].max().reindex(risk.index).astype(int).to_numpy(),
            "top_category": worst_rows["category"].reindex(risk.index).to_numpy(dtype=object),
            "categories": _category_counts(frame, risk.index),
            "run_id": run_id,
        }
    )
    return out.sort_values(["risk_score", "user_id"], ascending=[False, True], ignore_index=True)


def _category_counts(frame: pd.DataFrame, users: pd.Index) -> list[dict[str, int]]:
    """Per user in ``users``, their findings per category: the weightiest pattern first, then
    the most frequent, then the first seen. One pass over the findings (a night has thousands
    of users with findings; a pandas count per user would cost milliseconds each)."""
    counts: dict[str, Counter] = {}
    known = frame["category"].notna().to_numpy(bool)
    users_of, categories = frame["user_id"].to_numpy(object)[known], frame["category"].to_numpy(object)[known]
    for user, category in zip(users_of.tolist(), categories.tolist()):
        of_user = counts.get(user)
        if of_user is None:  # a Counter per user, not one per finding
            of_user = counts[user] = Counter()
        of_user[str(category)] += 1
    return [
        dict(sorted(counts.get(user, Counter()).items(), key=lambda item: (-pattern_points(item[0]), -item[1])))
        for user in users
    ]
