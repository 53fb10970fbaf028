"""Behavioural rules: precise, explainable detections of the clear cases.

Each rule reads the features and ``ctx_*`` facts of :func:`ztad.behaviour.features.compute_features` and
yields one boolean column named by its code. Rules are kept narrow so that they fire on attacks
and stay quiet on business travel, VPN users, new employees and new laptops; the detectors
catch the subtler combinations. Thresholds follow common industry practice and live in
:class:`ztad.config.RuleThresholds`, part of the job's configuration, so that a deployment can
tune them (``--rule NAME=VALUE``, ``ZTAD_RULE_<NAME>``, the DAG Param ``rule_thresholds``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.config import RuleThresholds

DEFAULT_THRESHOLDS = RuleThresholds()

#: Rule code -> what it means.
RULES: dict[str, str] = {
    "impossible_travel": "A login too far from the previous one for the time between them, "
    "from a network not known for the user or the organisation",
    "password_spray": "The source IP failed to log in as many distinct users within an hour",
    "brute_force": "Many failed logins of one user within minutes",
    "success_after_failures": "A successful login right after a burst of failures",
    "large_transfer": "Far more bytes than the user usually moves on this resource, while their "
    "peers do not",
    "off_hours": "An established user logging in half a day away from their usual working hours "
    "(or in the small hours, hours before them), at a time of day they have not worked at before; "
    "a day worker's evening is overtime, not half a day away, and nights already seen on "
    "several separate days (trusted, or alerted for their hour alone) are the user's habit (on call)",
    "new_device_new_place": "An established user on a device, IP and city never seen for them",
    "rare_sensitive_access": "First access to a sensitive resource that the user's peers "
    "almost never use",
    "background_scanning": "A never-seen address trying a few logins against root, admin or "
    "accounts that are not real, and never getting in: the internet's background noise, "
    "summarised in one incident a day",
    "resource_new_to_peers": "First access to a resource that nobody in the user's peer group "
    "has used",
}

#: The ``ctx_*`` facts the rules read beside the model features: the scoring step reads only
#: these of a day's context columns.
RULE_CONTEXT: tuple[str, ...] = (
    "ctx_bytes_observations", "ctx_group_size", "ctx_ip_failed_users_60m", "ctx_local_hour",
    "ctx_maturity", "ctx_own_events_near_hour", "ctx_own_night_days", "ctx_own_surge_transfers", "ctx_peer_surge_users",
    "ctx_resource_group_users", "ctx_source_attempts_today", "ctx_source_minutes_today",
    "ctx_source_scanner_like", "ctx_travel_km", "ctx_travel_kmh", "ctx_usual_end", "ctx_usual_start",
    "ctx_user_failures_10m",
)


class RuleInputError(ValueError):
    """The features frame lacks columns the rules need."""


def _column(features: pd.DataFrame, name: str) -> np.ndarray:
    """A column as float64 values (NaN where missing or not a number).

    A float64 column (every feature) is its stored array itself, read by position: the rules
    read some thirty columns, and a Series made for each costs more than the rules on a
    request's few rows.
    """
    try:
        position = features.columns.get_loc(name)
    except KeyError:
        raise RuleInputError(
            f"features lack column {name!r}; pass the output of ztad.behaviour.features.compute_features"
        ) from None
    stored = features._get_column_array(position) if isinstance(position, int) else None
    if isinstance(stored, np.ndarray) and stored.dtype == np.float64:  # read only
        return stored
    return pd.to_numeric(features[name], errors="coerce").to_numpy("float64", na_value=np.nan)


def evening_overtime(local_hour: np.ndarray, usual_start: np.ndarray, usual_end: np.ndarray,
                     thresholds: RuleThresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """Whether each login is a day worker's evening: from ``off_hours_evening_start`` to
    midnight (local), for a user whose usual window starts after the small hours and ends by
    that hour without crossing midnight (NaN bounds, a window round the clock, are none).

    Evening work runs on from the working day, so hours outside the window say little there;
    half a day away for a day worker is the small hours, which the off-hours rule judges on
    their own. Shift workers' windows are not day windows, and keep the plain distance.
    """
    t = thresholds
    day_window = (usual_start >= t.off_hours_night_end) & (usual_end > usual_start) & (
        usual_end <= t.off_hours_evening_start)
    return day_window & (local_hour >= t.off_hours_evening_start)


def evaluate_rules(features: pd.DataFrame, thresholds: RuleThresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Evaluate every rule on every event.

    Parameters
    ----------
    features
        Output of :func:`ztad.behaviour.features.compute_features` (features and ``ctx_*`` columns).
    thresholds
        Rule thresholds.

    Returns
    -------
    pandas.DataFrame
        One bool column per code in :data:`RULES`, same index as ``features``.
    """
    return pd.DataFrame(rule_columns(features, thresholds), index=features.index)


def rule_columns(features: pd.DataFrame, thresholds: RuleThresholds = DEFAULT_THRESHOLDS) -> dict[str, np.ndarray]:
    """:func:`evaluate_rules` as one bool array per rule code, in the order of :data:`RULES`."""
    t = thresholds
    read: dict[str, np.ndarray] = {}

    def col(name: str) -> np.ndarray:
        """A column as float64, missing as 0, read once however many rules use it."""
        if name not in read:
            read[name] = np.nan_to_num(_column(features, name), nan=0.0)
        return read[name]

    succeeded = col("login_failed") < 0.5
    bytes_ratio = 10.0 ** col("bytes_log_ratio")
    peer_share = col("ctx_resource_group_users") / np.maximum(col("ctx_group_size"), 1.0)
    night = col("ctx_local_hour") < t.off_hours_night_end
    small_hours = night & (col("off_hours_distance") >= t.off_hours_night_min_hours)
    habitual_night = night & (col("ctx_own_night_days") >= t.off_hours_min_night_days)
    evening = evening_overtime(col("ctx_local_hour"), _column(features, "ctx_usual_start"),
                               _column(features, "ctx_usual_end"), t)
    hits = {
        # ctx_travel_* is the fastest move held against this login: known networks excused.
        "impossible_travel": (col("ctx_travel_km") >= t.travel_min_km)
        & (col("ctx_travel_kmh") > t.travel_min_kmh),
        "password_spray": col("ctx_ip_failed_users_60m") >= t.spray_min_users,
        "brute_force": col("ctx_user_failures_10m") >= t.brute_force_min_failures,
        "success_after_failures": succeeded & (col("ctx_user_failures_10m") >= t.success_after_min_failures),
        "large_transfer": (bytes_ratio >= t.large_transfer_min_ratio)
        & (col("bytes_z") >= t.large_transfer_min_z)
        & (col("ctx_bytes_observations") >= t.large_transfer_min_observations)
        & (col("ctx_peer_surge_users") < t.large_transfer_max_peer_surge)
        & ((col("ctx_own_surge_transfers") >= 2) | (bytes_ratio >= t.large_transfer_single_min_ratio)),
        "off_hours": (col("ctx_maturity") >= t.min_maturity)
        & (((col("off_hours_distance") >= t.off_hours_min_hours) & ~evening) | small_hours)
        & (col("hour_rarity") >= t.off_hours_min_rarity)
        & (col("ctx_own_events_near_hour") < t.off_hours_max_own_events)
        & ~habitual_night,
        "new_device_new_place": (col("ctx_maturity") >= t.min_maturity)
        & (col("device_novelty") >= 1.0)
        & (col("ip_novelty") >= 1.0)
        & (col("city_novelty") >= 1.0),
        "rare_sensitive_access": (col("resource_sensitive") >= 1.0)
        & (col("resource_novelty") >= 1.0)
        & (peer_share <= t.rare_sensitive_max_peer_share),
        "background_scanning": ~succeeded
        & (col("ctx_source_scanner_like") >= 1.0)
        & (col("ctx_source_attempts_today") <= t.scanning_max_attempts)
        & (col("ctx_source_minutes_today") <= t.scanning_max_minutes),
        "resource_new_to_peers": (col("resource_novelty") >= 1.0)
        & (col("ctx_resource_group_users") == 0)
        & (col("ctx_group_size") >= t.new_to_peers_min_group),
    }
    return {code: np.asarray(hit, dtype=bool) for code, hit in hits.items()}
