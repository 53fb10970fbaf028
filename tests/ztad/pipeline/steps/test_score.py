"""The score step: a day scored in batches is scored as it is whole, analysts' false positives
and attributions included, and a day whose features were computed in parts gets the scores
(keyed by event) of the day computed in one go."""

from __future__ import annotations

import json
import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.behaviour.features import user_parts as parts_module
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.feedback import load_day_feedback, suppressed_mask
from ztad.feedback.allowlist import EVENT_COLUMN
from ztad.feedback.relearning import FEEDBACK_FILE
from ztad.pipeline.scoring import rule_hits_of
from ztad.pipeline.steps import score as score_module
from ztad.pipeline.steps.score import attribute_scores, score
from ztad.pipeline.steps.update_baselines import update_baselines
from ztad.pipeline.workfiles import day_dir

DAY = date(2026, 3, 16)  # the small data set's first attack day
#: A business trip of one established user: a city, laptop and address never seen before.
TRIP = {"location": "Reykjavik, Iceland", "device_id": "LT-TRIPREYKJAVIK", "ip_address": "198.51.100.77"}
FAST = DetectionConfig(detectors=("isolation_forest", "ecod"))


@pytest.fixture(scope="module")
def trip_home(small_logs, tmp_path_factory) -> tuple[JobConfig, str]:
    """The day run on the small data set with two logins of a business trip added, and the
    user who travelled."""
    from ztad import pipeline

    root = tmp_path_factory.mktemp("trip") / "logs"
    shutil.copytree(small_logs, root)
    path = root / f"date={DAY}" / "events.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    user = frame[frame["event_label"] == "normal"]["user_id"].value_counts().index[0]
    trip = frame[frame["user_id"] == user].iloc[[0, 0]].assign(
        timestamp=[f"{DAY}T11:00:00Z", f"{DAY}T11:30:00Z"], access_time=["11:00:00", "11:30:00"],
        login_success="1", event_label="normal", scenario="business_travel", **TRIP,
    )
    pd.concat([frame, trip], ignore_index=True).to_csv(path, index=False)
    config = JobConfig(source=SourceConfig(root=str(root)), home=root.parent / "home", detection=FAST)
    pipeline.run_day(DAY, config)
    return config, user


@pytest.fixture
def config(trip_home, tmp_path) -> JobConfig:
    """A copy of the run's home, so that the day can be scored again."""
    home = tmp_path / "home"
    shutil.copytree(trip_home[0].home, home)
    return JobConfig(source=trip_home[0].source, home=home, detection=FAST)


def _outputs(config: JobConfig) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    folder = day_dir(config, DAY)
    return (pd.read_parquet(folder / "scored.parquet"), pd.read_parquet(folder / "attributions.parquet"),
            json.loads((folder / "score.json").read_text()))


def _allow_the_trip(config: JobConfig, user: str) -> None:
    """Feedback that allows the trip's place, laptop and address for the user who travelled."""
    entries = [
        {"user_id": user, "kind": kind, "value": TRIP[column], "valid_from": "2026-03-01", "source_finding_id": "f"}
        for kind, column in EVENT_COLUMN.items() if column in TRIP
    ]
    (day_dir(config, DAY) / FEEDBACK_FILE).write_text(json.dumps({"allowlist": entries, "protected_event_ids": []}))


def test_a_day_scored_in_batches_is_scored_as_whole(config, trip_home, monkeypatch):
    _allow_the_trip(config, trip_home[1])
    score(DAY, config)
    scored, attributions, counts = _outputs(config)
    assert counts["rows_suppressed"] > 0 and counts["rows_flagged"] > 0
    assert len(scored) > 5 * 64
    # Read for the flagged rows alone, the feedback suppresses what it does judged on the whole day.
    folder = day_dir(config, DAY)
    whole_day = suppressed_mask(
        pd.read_parquet(folder / "events.parquet"), pd.read_parquet(folder / "features.parquet"),
        rule_hits_of(scored), (scored["flagged"] | scored["suppressed"]).to_numpy(),
        load_day_feedback(folder).allowlist,
    )
    assert np.array_equal(whole_day, scored["suppressed"].to_numpy())
    monkeypatch.setattr(score_module, "SCORE_BATCH_ROWS", 64)
    score(DAY, config)
    in_batches, batch_attributions, batch_counts = _outputs(config)
    pd.testing.assert_frame_equal(in_batches, scored, check_exact=True)
    pd.testing.assert_frame_equal(batch_attributions, attributions, check_exact=True)
    assert batch_counts == counts


def _by_event(frame: pd.DataFrame, event_ids: pd.Series) -> pd.DataFrame:
    """``frame``'s values as objects (missing as one marker), indexed by event id."""
    out = frame.astype(object).where(frame.notna(), "<NA>")
    out.index = pd.Index(event_ids.astype(str), name="event_id")
    return out.sort_index()


def _day_by_event(config: JobConfig, name: str) -> pd.DataFrame:
    folder = day_dir(config, DAY)
    return _by_event(pd.read_parquet(folder / name), pd.read_parquet(folder / "events.parquet")["event_id"])


def test_a_day_in_parts_gets_the_features_and_scores_of_the_day_in_one_go(config, monkeypatch):
    update_baselines(DAY, config)
    score(DAY, config)
    features, scored = _day_by_event(config, "features.parquet"), _day_by_event(config, "scored.parquet")
    whole_attributions = _outputs(config)[1]
    events = pd.read_parquet(day_dir(config, DAY) / "events.parquet")
    assert len(events) > 3 * 100
    monkeypatch.setattr(parts_module, "PART_EVENTS", 100)
    monkeypatch.setattr(score_module, "SCORE_BATCH_ROWS", 64)
    update_baselines(DAY, config)
    score(DAY, config)
    in_parts = pd.read_parquet(day_dir(config, DAY) / "events.parquet")
    assert not in_parts["event_id"].equals(events["event_id"])  # the events were put in part order
    pd.testing.assert_frame_equal(_day_by_event(config, "features.parquet"), features)
    pd.testing.assert_frame_equal(_day_by_event(config, "scored.parquet"), scored)
    # The same flagged events are explained, with the same attributions.
    attributions = _outputs(config)[1]
    assert len(attributions) == len(whole_attributions) > 0
    by_event = {
        name: table.assign(event_id=ids.to_numpy()[table["row"].to_numpy()]).drop(columns="row")
        .set_index("event_id").sort_index()
        for name, table, ids in (("parts", attributions, in_parts["event_id"]),
                                 ("whole", whole_attributions, events["event_id"]))
    }
    pd.testing.assert_frame_equal(by_event["parts"], by_event["whole"], check_exact=True)
    assert np.isin(attributions["row"], np.flatnonzero(pd.read_parquet(
        day_dir(config, DAY) / "scored.parquet")["flagged"])).all()


def test_the_flagged_rows_are_explained_from_the_batches_as_from_the_features_file(config, monkeypatch):
    read = []
    read_rows = score_module.read_rows
    monkeypatch.setattr(score_module, "read_rows", lambda path, *args: read.append(path.name) or read_rows(path, *args))
    monkeypatch.setattr(score_module, "SCORE_BATCH_ROWS", 64)
    score(DAY, config)
    assert read == []  # no feedback to apply: no file is read again for the flagged rows
    attributions = _outputs(config)[1]
    assert len(attributions) > 0
    attribute_scores(DAY, config)  # the flagged rows' features read back from the features file
    assert read == ["features.parquet"]
    pd.testing.assert_frame_equal(_outputs(config)[1], attributions, check_exact=True)
