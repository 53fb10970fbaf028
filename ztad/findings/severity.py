"""How bad a finding is: a severity from 0 to 100 and a level an analyst sorts by.

Three things make a finding serious, added as points:

- **the kind of evidence** (:data:`PATTERN_POINTS`, by reason code): account takeover
  patterns on a successful login (:data:`TAKEOVER_CODES`: a success after a burst of failures,
  impossible travel, a new device from a new place, a password spray that got in) start at
  "high" on their own, while habits (a rare hour, many logins) cannot reach "high" even with
  the strongest model score and a sensitive resource; a place or device pattern seen on a
  *failed* login is an attempt, not an access, and counts for less, and a failed spray
  attempt is "medium" on its own (its incident gathers the whole spray);
- **how rare the models found it** (up to :data:`MODEL_POINTS`): the ensemble score above the
  calibrated threshold, in orders of magnitude of rarity (the score is ``-log10`` of the share
  of normal events at least as unusual);
- **what was touched**: a resource listed in ``DetectionConfig.sensitive_resources`` adds
  :data:`SENSITIVE_POINTS`; several strong kinds of evidence together add a little more.

Levels: ``critical`` from 85, ``high`` from 65, ``medium`` from 40, else ``low``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Points of each reason code (``ztad.findings.sentences``); the weightiest reason names the category.
PATTERN_POINTS: dict[str, int] = {
    "success_after_failures": 70,
    "impossible_travel": 65,
    "new_device_new_place": 65,
    "password_spray": 45,
    "brute_force": 50,
    "large_transfer": 50,
    "rare_sensitive_access": 45,
    "resource_new_to_peers": 40,
    "travel": 35,
    "unusual_volume": 30,
    "new_city": 25,
    "new_device": 25,
    "failures": 25,
    "new_resource": 20,
    "rare_resource": 15,
    "new_ip": 15,
    "off_hours": 15,
    "rare_place": 12,
    "many_logins": 12,
    "deviation": 10,
    "cold_start": 0,
}
#: Points of a reason code this table does not know.
UNKNOWN_PATTERN_POINTS = 10
#: Account takeover patterns: "high" on a successful login whatever the models say.
TAKEOVER_CODES = frozenset({"success_after_failures", "impossible_travel", "new_device_new_place", "password_spray"})
#: Patterns of the login itself (place, device): on a failed login they are only an attempt.
ACCESS_CODES = frozenset({"impossible_travel", "travel", "new_city", "new_device_new_place", "new_device", "new_ip", "rare_place"})
#: Share of the points an access pattern keeps on a failed login.
FAILED_ATTEMPT_FACTOR = 0.6
#: Extra points when a spray attempt succeeds: the sprayer is in.
SPRAY_SUCCESS_POINTS = 30
#: Most points from the ensemble score, reached :data:`MODEL_SPAN` orders of magnitude above
#: the threshold.
MODEL_POINTS = 30
MODEL_SPAN = 3.0
#: Points for a sensitive resource.
SENSITIVE_POINTS = 15
#: Points per further strong kind of evidence (at least :data:`STRONG_POINTS`), at most
#: :data:`BREADTH_MAX`.
BREADTH_POINTS = 5
BREADTH_MAX = 10
STRONG_POINTS = 25
#: Lowest severity of each level, highest level first.
LEVEL_FLOORS: tuple[tuple[str, int], ...] = (("critical", 85), ("high", 65), ("medium", 40), ("low", 0))


class SeverityInputError(ValueError):
    """The inputs of a severity computation do not describe the same findings."""


def pattern_points(code: str) -> int:
    """Points of one reason code."""
    return PATTERN_POINTS.get(code, UNKNOWN_PATTERN_POINTS)


def level_of(severity) -> np.ndarray:
    """Level names of severities (array-like of 0-100)."""
    values = np.atleast_1d(np.asarray(severity, dtype=float))
    out = np.full(values.shape, "low", dtype=object)
    for name, floor in reversed(LEVEL_FLOORS):
        out[values >= floor] = name
    return out


def _codes(reasons) -> list[str]:
    return [str(reason["code"]) for reason in (reasons if reasons is not None else [])]


def _weighed(codes: list[str], succeeded: bool | None) -> dict[str, float]:
    """Points of each distinct code of one finding, given whether its login succeeded
    (``None``: unknown, the plain points)."""
    points = {}
    for code in dict.fromkeys(codes):
        value = float(pattern_points(code))
        if code in ACCESS_CODES and succeeded is False:
            value *= FAILED_ATTEMPT_FACTOR
        if code == "password_spray" and succeeded is True:
            value += SPRAY_SUCCESS_POINTS
        points[code] = value
    return points


def _succeeded(login_success, n: int) -> list[bool | None]:
    if login_success is None:
        return [None] * n
    return list(pd.array(login_success, dtype="boolean").to_numpy(dtype=object, na_value=None))


def categories(reasons: pd.Series, login_success=None) -> np.ndarray:
    """Per finding, the code of its weightiest reason (first listed among equals).

    ``login_success`` (per finding) lets a failed login's access patterns weigh less, as in
    :func:`finding_severity`.
    """
    succeeded = _succeeded(login_success, len(reasons))
    out = []
    for i, codes in enumerate(map(_codes, reasons)):
        points = _weighed(codes, succeeded[i])
        out.append(max(points, key=points.get) if points else "unknown")
    return np.array(out, dtype=object)


def _evidence_points(reasons: pd.Series, succeeded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per finding: points of its weightiest reason, and of its further strong reasons."""
    best = np.zeros(len(reasons))
    breadth = np.zeros(len(reasons))
    for i, codes in enumerate(map(_codes, reasons)):
        points = sorted(_weighed(codes, succeeded[i]).values(), reverse=True)
        if points:
            best[i] = points[0]
            breadth[i] = BREADTH_POINTS * sum(p >= STRONG_POINTS for p in points[1:])
    return best, np.minimum(breadth, BREADTH_MAX)


def model_points(ensemble_score, threshold) -> np.ndarray:
    """Points for how far the ensemble score lies above the threshold (0 at or below it)."""
    excess = np.asarray(ensemble_score, dtype=float) - np.asarray(threshold, dtype=float)
    return MODEL_POINTS * np.clip(np.nan_to_num(excess, nan=0.0) / MODEL_SPAN, 0.0, 1.0)


def sensitive_mask(resources: pd.Series, sensitive_resources, resource_sensitive=None) -> np.ndarray:
    """Whether each resource is sensitive: listed in the configuration, or marked so by the
    ``resource_sensitive`` feature."""
    listed = resources.astype("string").isin(list(sensitive_resources)).fillna(False).to_numpy(bool)
    if resource_sensitive is None:
        return listed
    return listed | (np.nan_to_num(np.asarray(resource_sensitive, dtype=float)) >= 0.5)


def finding_severity(
    reasons: pd.Series,
    ensemble_score,
    threshold,
    login_success,
    sensitive,
) -> np.ndarray:
    """Severity 0-100 of each finding.

    Parameters
    ----------
    reasons
        Per finding, its list of ``{"code", "text"}`` (``ztad.findings.sentences.explain``).
    ensemble_score, threshold
        The models' combined score and the calibrated threshold, per finding.
    login_success
        Whether each login succeeded.
    sensitive
        Whether each finding touched a sensitive resource (:func:`sensitive_mask`).

    Returns
    -------
    numpy.ndarray
        Integer severities (int16), row-aligned with ``reasons``.
    """
    n = len(reasons)
    arrays = {"ensemble_score": ensemble_score, "threshold": threshold, "login_success": login_success, "sensitive": sensitive}
    bad = {name: len(value) for name, value in arrays.items() if len(value) != n}
    if bad:
        raise SeverityInputError(f"{n} findings but {bad} values; pass one value per finding")
    succeeded = _succeeded(login_success, n)
    best, breadth = _evidence_points(reasons, succeeded)
    total = (
        best
        + breadth
        + model_points(ensemble_score, threshold)
        + SENSITIVE_POINTS * np.asarray(sensitive, dtype=bool)
    )
    return np.clip(np.rint(total), 0, 100).astype("int16")


def incident_severity(max_severity, finding_count) -> np.ndarray:
    """Severity of incidents: their worst finding, plus up to 10 for many findings (10 -> +5)."""
    worst = np.asarray(max_severity, dtype=float)
    count = np.maximum(np.asarray(finding_count, dtype=float), 1.0)
    return np.clip(np.rint(worst + np.minimum(10.0, 5.0 * np.log10(count))), 0, 100).astype("int16")
