"""Labels are never a model input, and a scored day's own labels are never read: shuffling
``event_label``, ``scenario`` and ``attack_id`` within the scored days leaves every event id,
score, flag and reason of a real pipeline run unchanged. (The labels of history the job never
scored do count: only its events labelled normal are learnt, see ``test_history``.)"""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ztad import pipeline
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.store import FindingsStore

DAYS = [date(2026, 3, 16) + timedelta(days=n) for n in range(3)]
FAST = DetectionConfig(detectors=("isolation_forest", "ecod"))
#: Finding columns that say when or by which run a row was written, not what was found.
WRITE_FIELDS = ["run_id", "created_at", "updated_at", "event_label"]


def shuffled_labels(logs, target):
    """A copy of the partitioned logs whose labels, scenarios and attack ids are permuted within
    each scored day."""
    rng = np.random.default_rng(11)
    shutil.copytree(logs, target)
    for path in sorted(target.glob("date=*/*.csv")):
        if path.parent.name < f"date={DAYS[0].isoformat()}":
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in ("event_label", "scenario", "attack_id"):
            frame[column] = rng.permutation(frame[column].to_numpy())
        frame.to_csv(path, index=False)
    return target


def run_days(root, home) -> JobConfig:
    config = JobConfig(source=SourceConfig(root=str(root)), home=home, detection=FAST)
    pipeline.run_range(DAYS[0], DAYS[-1], config)
    return config


@pytest.fixture(scope="module")
def both_runs(small_logs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("permutation")
    permuted = shuffled_labels(small_logs, folder / "permuted-logs")
    return run_days(small_logs, folder / "original"), run_days(permuted, folder / "permuted")


def test_the_permutation_really_moved_the_labels(both_runs):
    original, permuted = both_runs
    a = pd.read_parquet(pipeline.day_dir(original, DAYS[0]) / "events.parquet")
    b = pd.read_parquet(pipeline.day_dir(permuted, DAYS[0]) / "events.parquet")
    assert (a["event_label"].fillna("") != b["event_label"].fillna("")).sum() > 10
    assert (a["scenario"].fillna("") != b["scenario"].fillna("")).sum() > 10


def test_event_ids_scores_and_flags_are_unchanged(both_runs):
    for day in DAYS:
        a, b = (pd.read_parquet(pipeline.day_dir(c, day) / "events.parquet") for c in both_runs)
        pd.testing.assert_series_equal(a["event_id"], b["event_id"])
        scored_a, scored_b = (pd.read_parquet(pipeline.day_dir(c, day) / "scored.parquet") for c in both_runs)
        assert scored_a["flagged"].any()
        pd.testing.assert_frame_equal(scored_a, scored_b, check_exact=True)


def test_findings_and_their_reasons_are_unchanged(both_runs):
    stored = []
    for config in both_runs:
        with FindingsStore(config.resolved_database_url) as store:
            findings = store.findings().drop(columns=WRITE_FIELDS)
            stored.append(findings.sort_values("finding_id").reset_index(drop=True))
    assert len(stored[0]) > 0
    pd.testing.assert_frame_equal(stored[0], stored[1], check_exact=True)


def test_the_same_models_were_trained(both_runs):
    versions = [FindingsStore(c.resolved_database_url).models()["model_version"].tolist() for c in both_runs]
    assert versions[0] == versions[1]
