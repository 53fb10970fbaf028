"""The baselines step: the day's features, computed a part of its users at a time, are those of
the whole day computed in one go, and only the columns the features read are read."""

from __future__ import annotations

from datetime import date

import pandas as pd

from ztad.behaviour.features import INPUT_COLUMNS, compute_features
from ztad.behaviour.features import user_parts as parts_module
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.pipeline.history import baseline_before
from ztad.pipeline.steps.pull import pull
from ztad.pipeline.steps.update_baselines import feature_input_columns, update_baselines
from ztad.pipeline.workfiles import day_dir

DAY = date(2026, 3, 18)  # the small data set's spray day


def test_the_days_features_in_parts_are_the_whole_days(small_logs, tmp_path, monkeypatch):
    config = JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path, detection=DetectionConfig())
    pull(DAY, config)
    events = pd.read_parquet(day_dir(config, DAY) / "events.parquet")
    whole = compute_features(events, baseline_before(config, DAY), config.detection, config.detection.feature_settings)
    monkeypatch.setattr(parts_module, "PART_EVENTS", 150)
    assert len(events) > parts_module.ONE_GO_PARTS * 150
    update_baselines(DAY, config)
    written = pd.read_parquet(day_dir(config, DAY) / "features.parquet")
    assert list(written.columns) == list(whole.columns) and len(written) == len(whole)
    for name in whole.columns:
        assert written[name].astype(object).fillna("<NA>").tolist() == whole[name].astype(object).fillna("<NA>").tolist(), name


def test_only_the_columns_the_features_read_are_read(small_logs, tmp_path):
    config = JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path)
    pull(DAY, config)
    path = day_dir(config, DAY) / "events.parquet"
    columns = feature_input_columns(path)
    assert set(columns) <= set(INPUT_COLUMNS) and "event_id" not in columns
    assert set(columns) == set(INPUT_COLUMNS) & set(pd.read_parquet(path).columns)
