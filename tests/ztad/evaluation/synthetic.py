"""Small labelled event sets and ztad-style scored frames, built in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.evaluation.origin import OriginResult

CATEGORIES = (
    "impossible_travel",
    "large_data_transfer",
    "off_hours_login",
    "impossible_travel+large_data_transfer",
)


def make_events(n: int = 1200, days: int = 12, seed: int = 0, anomaly_rate: float = 0.05):
    """Canonical-looking labelled events over ``days`` days from 2026-03-02 (UTC).

    Anomalies move far more bytes than normal events, so a sensible detector can find them.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-03-02", tz="UTC")
    stamps = start + pd.to_timedelta(rng.integers(0, days * 24 * 60, n), unit="min")
    labels = np.where(rng.random(n) < anomaly_rate, rng.choice(CATEGORIES, n), "normal")
    scenario = np.where(
        (labels == "normal") & (rng.random(n) < 0.1),
        rng.choice(["business_travel", "vpn", "new_employee", "new_laptop"], n),
        None,
    )
    events = pd.DataFrame({
        "event_id": [f"e{i:05d}" for i in range(n)],
        "timestamp": stamps.astype("datetime64[us, UTC]"),
        "user_id": rng.choice([f"u{i}" for i in range(30)], n),
        "device_id": rng.choice([f"d{i}" for i in range(45)], n),
        "ip_address": rng.choice([f"10.0.0.{i}" for i in range(60)], n),
        "location": rng.choice(["Paris, France", "Madrid, Spain", "Berlin, Germany"], n),
        "login_success": rng.random(n) > 0.05,
        "resource": rng.choice(["crm", "git", "mail", "hr"], n),
        "bytes_transferred": rng.lognormal(8, 0.7, n).astype("int64"),
        "event_label": pd.array(labels, dtype="string"),
        "scenario": pd.array(scenario, dtype="string"),
    })
    anomalous = (events["event_label"] != "normal").to_numpy()
    events.loc[anomalous, "bytes_transferred"] *= 30
    return events.sort_values("timestamp", kind="stable").reset_index(drop=True)


def make_scored(events: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """ztad-style scored events: a final score and flag and two detector score columns."""
    rng = np.random.default_rng(seed)
    scored = events.copy()
    anomalous = (scored["event_label"] != "normal").to_numpy()
    scored["score_isolation_forest"] = rng.random(len(scored)) + 0.8 * anomalous
    scored["flag_isolation_forest"] = scored["score_isolation_forest"] > 1.0
    scored["score_robust_z"] = rng.random(len(scored)) + 0.3 * anomalous
    scored["score"] = scored["score_isolation_forest"] + scored["score_robust_z"]
    scored["flagged"] = scored["score"] > np.quantile(scored["score"], 0.97)
    return scored


def fake_origin(events: pd.DataFrame, seed: int = 2) -> OriginResult:
    """Origin-style scores that know nothing: uniform noise, flagged above 0.9."""
    rng = np.random.default_rng(seed)
    scores = pd.DataFrame({"isolation_forest": rng.random(len(events))})
    return OriginResult(
        event_id=events["event_id"].astype("string").reset_index(drop=True),
        scores=scores,
        flags=scores > 0.9,
        params={"contamination": 0.1},
    )
