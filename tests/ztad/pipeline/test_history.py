"""Labelled history: the baseline and the training rows learn only from events labelled normal,
and the counts of trusted and excluded events are kept for the run to report."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ztad.behaviour.baselines import aggregate_dir, daily_aggregate, load_daily_aggregate
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.ingest import load_day
from ztad.pipeline.history import baseline_before, history_loader, label_trust_counts
from ztad.pipeline.training_data import training_file_of
from ztad.synth import generate

START = date(2026, 3, 2)
DAYS = 3


@pytest.fixture(scope="module")
def attacked_history(tmp_path_factory):
    """Three days of logs with attacks from the first day on (a history that is not clean)."""
    root = tmp_path_factory.mktemp("attacked")
    generate(root, start=START, days=DAYS, users=30, seed=5, clean_days=0, attack_rate=0.2)
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(root.glob("date=*/events.csv"))]
    return root, frames


def _config(root, home, use_labels=True) -> JobConfig:
    return JobConfig(source=SourceConfig(root=str(root)), home=home, use_labels=use_labels,
                     detection=DetectionConfig(history_days=7))


def _baseline_events(config) -> int:
    return int(baseline_before(config, START + timedelta(days=DAYS)).users["events"].sum())


def test_the_baseline_learns_only_events_labelled_normal(attacked_history, tmp_path):
    root, frames = attacked_history
    normal = sum(int((f["event_label"] == "normal").sum()) for f in frames)
    attacks = sum(int((f["event_label"] != "normal").sum()) for f in frames)
    assert attacks > 50
    config = _config(root, tmp_path / "labels")
    assert _baseline_events(config) == normal
    assert label_trust_counts(config) == {"days": DAYS, "trusted": normal, "excluded": attacks}


def test_without_labels_every_event_is_learnt_and_nothing_is_counted(attacked_history, tmp_path):
    root, frames = attacked_history
    config = _config(root, tmp_path / "no-labels", use_labels=False)
    assert _baseline_events(config) == sum(len(f) for f in frames)
    assert label_trust_counts(config) == {"days": 0, "trusted": 0, "excluded": 0}


def test_unlabelled_logs_are_learnt_whole(attacked_history, tmp_path):
    root, frames = attacked_history
    bare = tmp_path / "bare"
    for path in sorted(root.glob("date=*/events.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["event_label", "attack_id"])
        (bare / path.parent.name).mkdir(parents=True)
        frame.to_csv(bare / path.parent.name / "events.csv", index=False)
    config = _config(bare, tmp_path / "bare-home")
    assert _baseline_events(config) == sum(len(f) for f in frames)
    assert label_trust_counts(config)["days"] == 0


def test_training_rows_of_labelled_history_are_those_labelled_normal(attacked_history, tmp_path):
    root, frames = attacked_history
    config = _config(root, tmp_path / "training")
    rows = pd.read_parquet(training_file_of(config, START + timedelta(days=1)))
    day_two = frames[1]
    assert len(rows) == int((day_two["event_label"] == "normal").sum()) < len(day_two)


def test_the_loader_gives_each_day_the_source_holds_and_nothing_for_days_before_it(attacked_history, tmp_path):
    root, _ = attacked_history
    config = _config(root, tmp_path / "loader")
    load = history_loader(config)
    assert load(START - timedelta(days=1)).empty and load(START - timedelta(days=300)).empty
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        pd.testing.assert_frame_equal(load(day), load_day(config.source, day, config.flat_index_dir).events)
    assert load(START + timedelta(days=DAYS)).empty


def test_history_files_give_a_day_the_source_lacks_nothing_and_a_day_it_holds_its_parts(attacked_history, tmp_path):
    from ztad.pipeline.history import HistoryFiles

    root, _ = attacked_history
    files = HistoryFiles(_config(root, tmp_path / "files"))
    assert files.trusted_parts(START - timedelta(days=1)) is None
    assert not files.folder(START - timedelta(days=1)).exists()
    parts = list(files.trusted_parts(START))
    assert parts and sum(len(part) for part in parts) > 0


def test_a_history_day_read_for_training_leaves_the_aggregate_of_its_trusted_events(attacked_history, tmp_path):
    root, _ = attacked_history
    config = _config(root, tmp_path / "aggregate")
    day = START + timedelta(days=1)
    training_file_of(config, day)
    events = load_day(config.source, day).events
    expected = daily_aggregate(events[events["event_label"] == "normal"].reset_index(drop=True))
    saved = load_daily_aggregate(config.state_dir, day)
    assert saved is not None and saved.events == expected.events < len(events)
    for name, table in expected.tables.items():
        pd.testing.assert_frame_equal(saved.tables[name], table)
    assert not aggregate_dir(config.state_dir, day + timedelta(days=1)).exists()


def test_a_history_day_is_read_from_the_source_once_for_its_baseline_and_training_file(small_logs, tmp_path,
                                                                                         monkeypatch):
    import shutil

    from ztad.behaviour.baselines import baseline_as_of
    from ztad.behaviour.features import FEATURE_NAMES, compute_features
    from ztad.behaviour.features import user_parts as parts_module
    from ztad.feedback import trusted_by_labels
    from ztad.pipeline.history import history_folder

    monkeypatch.setattr(parts_module, "PART_EVENTS", 50)  # the day is learnt a part of its users at a time
    logs = tmp_path / "logs"
    shutil.copytree(small_logs, logs)
    detection = DetectionConfig(history_days=3, training_days=2)
    config = JobConfig(source=SourceConfig(root=str(logs)), home=tmp_path / "home", detection=detection)
    day = date(2026, 3, 10)
    past, window = day - timedelta(days=1), [day - timedelta(days=k) for k in (3, 2, 1)]
    baseline_before(config, day)
    # Only the training window's days are kept for their training files.
    assert sorted(p.name for p in history_folder(config).iterdir()) == [f"day={d}" for d in window[1:]]
    for d in window:  # the source no longer holds them: read again, a day would have no event
        shutil.rmtree(logs / f"date={d}")
    rows = pd.read_parquet(training_file_of(config, past))
    assert not (history_folder(config) / f"day={past}").exists()

    # What the whole day read from the source gives, from a baseline of whole days.
    source = SourceConfig(root=str(small_logs))

    def trusted_day(d):
        events = load_day(source, d).events
        trusted = trusted_by_labels(events)
        return events if trusted is None else events[trusted].reset_index(drop=True)

    baseline = baseline_as_of(tmp_path / "whole", past, 3, trusted_day)
    events = trusted_day(past)
    assert len(rows) == len(events) > 3 * 50
    features = compute_features(events, baseline, detection, detection.feature_settings)
    expected = features[list(FEATURE_NAMES)].assign(event_id=events["event_id"].to_numpy())
    pd.testing.assert_frame_equal(rows.set_index("event_id").sort_index(), expected.set_index("event_id").sort_index(),
                                  check_exact=True)
