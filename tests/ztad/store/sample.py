"""Small findings, quarantine and run values for the store tests."""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pandas as pd

from ztad.store import ModelRecord, RunRecord

DAY = date(2024, 3, 5)
NEXT_DAY = date(2024, 3, 6)


def run(run_id: str = "run-a", day: date = DAY, **fields) -> RunRecord:
    """A successful run of ``day``."""
    values = dict(
        status="success",
        rows_read=100,
        rows_quarantined=2,
        rows_duplicate=1,
        rows_scored=97,
        rows_flagged=3,
        model_version="iforest-0001",
        model_action="loaded",
        threshold=0.93,
        started_at=datetime(2024, 3, 6, 1, 0, tzinfo=timezone.utc),
        finished_at=datetime(2024, 3, 6, 1, 2, 30, tzinfo=timezone.utc),
        timings={"pull": 1.25, "score": 3.5},
        message="",
        target_fpr=0.01,
        expected_alerts=0.97,
        rows_model_flagged=1,
        rows_rule_flagged=2,
    )
    values.update(fields)
    return RunRecord(run_id=run_id, day=day, **values)


def findings(event_ids: list[str], day: date = DAY, run_id: str = "run-a") -> pd.DataFrame:
    """One finding per event id, in the shape ``ztad.findings.build.build_findings`` produces."""
    n = len(event_ids)
    start = pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=2)
    ips = ["203.0.113.7", "2001:db8::1", "10.1.2.3"]
    return pd.DataFrame(
        {
            "finding_id": [f"{day.isoformat()}:{e}" for e in event_ids],
            "day": day,
            "event_id": pd.array(event_ids, dtype="string"),
            "event_time": (start + pd.to_timedelta(np.arange(n) * 61_000_123, unit="us")).astype(
                "datetime64[us, UTC]"
            ),
            "user_id": pd.array([f"user{i % 3}" for i in range(n)], dtype="string"),
            "device_id": pd.array(["laptop-1"] * n, dtype="string"),
            "ip_address": pd.array([ips[i % 3] for i in range(n)], dtype="string"),
            "location": pd.array(["Lagos, Nigeria"] * n, dtype="string"),
            "resource": pd.array(["payroll"] * n, dtype="string"),
            "login_success": np.arange(n) % 2 == 0,
            "bytes_transferred": np.arange(n, dtype="int64") * 1_000_000_007,
            "event_label": pd.array(["impossible_travel"] * n, dtype="string"),
            "score": np.linspace(0.95, 0.99, n),
            "threshold": 0.93,
            "detectors": [["ensemble", "rule:impossible_travel"] for _ in range(n)],
            "detector_scores": [{"isolation_forest": 0.97, "ensemble": 0.96} for _ in range(n)],
            "reasons": [
                [{"code": "impossible_travel", "text": f"3,830 km from Madrid in 40 min ({i})"}]
                for i in range(n)
            ],
            "model_version": "iforest-0001",
            "run_id": run_id,
            "status": "new",
        }
    )


def quarantine(n: int, source: str = "date=2024-03-05/auth.csv") -> pd.DataFrame:
    """``n`` quarantined rows (``ztad.ingest.QUARANTINE_COLUMNS``)."""
    return pd.DataFrame(
        {
            "source": [source] * n,
            "source_row": np.arange(2, n + 2, dtype="int64"),
            "field": ["ip_address"] * n,
            "reason": ["not an IP address"] * n,
            "raw": [f'{{"ip_address": "999.1.1.{i}"}}' for i in range(n)],
        }
    )


def model(version: str = "m-20240305-0123456789ab", **fields) -> ModelRecord:
    """A registered model as the registry's index describes it (trained on 14 days)."""
    values = dict(
        trained_at=datetime(2024, 3, 5, 0, 30, tzinfo=timezone.utc),
        trained_from=date(2024, 2, 20),
        trained_to=date(2024, 3, 5),
        training_rows=12_345,
        kind="ensemble",
        detectors=["isolation_forest", "ecod"],
        feature_names=["hour_rarity", "new_city", "km_per_hour"],
        params={"model": {"combine": "max"}, "detection": {"target_fpr": 0.01, "training_days": 14}},
        libraries={"numpy": "2.1.3", "scikit-learn": "1.6.1"},
        metrics={"fit_seconds": 3.25, "model": {"threshold": 2.5, "members": {"ecod": {"threshold": 2.0}}}},
        target_fpr=0.01,
        threshold=2.5,
        calibration_rows=2_000,
        artifact_uri=f"/srv/ztad/models/{version}",
        metadata_sha256="ab" * 32,
        files={"model/ensemble.json": "cd" * 32, "model/members/isolation_forest/isolation_forest.skops": "ef" * 32},
    )
    values.update(fields)
    return ModelRecord(model_version=version, **values)
