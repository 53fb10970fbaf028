"""The baselines step: the day's features, computed and written a part of its users at a time,
are those of the whole day computed in one go (the events put in part order beside them), and
only the columns the features read are read."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ztad.behaviour.features import INPUT_COLUMNS, compute_features
from ztad.behaviour.features import user_parts as parts_module
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.pipeline.history import baseline_before
from ztad.pipeline.steps.pull import pull
from ztad.pipeline.steps.update_baselines import feature_input_columns, update_baselines
from ztad.pipeline.workfiles import day_dir

DAY = date(2026, 3, 18)  # the small data set's spray day


def _by_event(frame: pd.DataFrame, event_ids: pd.Series) -> pd.DataFrame:
    """``frame``'s values as objects (missing as one marker), indexed by event id."""
    out = frame.astype(object).where(frame.notna(), "<NA>")
    out.index = pd.Index(event_ids.astype(str), name="event_id")
    return out.sort_index()


def test_the_days_features_in_parts_are_the_whole_days(small_logs, tmp_path, monkeypatch):
    config = JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path, detection=DetectionConfig())
    pull(DAY, config)
    path = day_dir(config, DAY) / "events.parquet"
    events = pd.read_parquet(path)
    whole = compute_features(events, baseline_before(config, DAY), config.detection, config.detection.feature_settings)
    monkeypatch.setattr(parts_module, "PART_EVENTS", 150)
    assert len(events) > parts_module.ONE_GO_PARTS * 150
    update_baselines(DAY, config)
    written = pd.read_parquet(day_dir(config, DAY) / "features.parquet")
    in_parts = pd.read_parquet(path)
    # The events file is rewritten in part order, row-aligned with the features written.
    order, _ = parts_module.part_order(events["user_id"], 150)
    assert not np.array_equal(order, np.arange(len(order)))
    pd.testing.assert_frame_equal(in_parts, events.iloc[order].reset_index(drop=True))
    assert list(written.columns) == list(whole.columns) and len(written) == len(whole)
    pd.testing.assert_frame_equal(_by_event(written, in_parts["event_id"]), _by_event(whole, events["event_id"]))


def test_a_day_in_parts_is_written_again_the_same(small_logs, tmp_path, monkeypatch):
    config = JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path, detection=DetectionConfig())
    pull(DAY, config)
    monkeypatch.setattr(parts_module, "PART_EVENTS", 150)
    folder = day_dir(config, DAY)
    update_baselines(DAY, config)
    first = pd.read_parquet(folder / "events.parquet"), pd.read_parquet(folder / "features.parquet")
    update_baselines(DAY, config)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "events.parquet"), first[0])
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "features.parquet"), first[1])


def test_only_the_columns_the_features_read_are_read(small_logs, tmp_path):
    config = JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path)
    pull(DAY, config)
    path = day_dir(config, DAY) / "events.parquet"
    columns = feature_input_columns(path)
    assert set(columns) <= set(INPUT_COLUMNS) and "event_id" not in columns
    assert set(columns) == set(INPUT_COLUMNS) & set(pd.read_parquet(path).columns)


def test_a_days_shards_computed_in_parts_have_the_whole_days_features(small_logs, tmp_path, monkeypatch):
    from ztad.pipeline import sharding
    from ztad.pipeline.shards import all_shards
    from ztad.pipeline.steps.update_baselines import cross_user

    config = JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path, detection=DetectionConfig())
    pull(DAY, config)
    folder = day_dir(config, DAY)
    events = pd.read_parquet(folder / "events.parquet")
    whole = compute_features(events, baseline_before(config, DAY), config.detection, config.detection.feature_settings)
    monkeypatch.setattr(parts_module, "PART_EVENTS", 100)
    cross_user(DAY, config, 2)
    # The day is put in part order, as an unsharded day in parts is.
    order, _ = parts_module.part_order(events["user_id"], 100)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "events.parquet"), events.iloc[order].reset_index(drop=True))
    parts = sharding.read_manifest(folder)["parts_per_shard"]
    assert all(len(bounds) > 2 and not parts_module.in_one_go(bounds[-1]) for bounds in parts)
    for shard in all_shards(2):
        summary = update_baselines(DAY, config, shard=shard)
        written = pd.read_parquet(day_dir(config, DAY, shard) / "features.parquet")
        ids = pd.read_parquet(day_dir(config, DAY, shard) / "events.parquet")["event_id"]
        assert summary["rows"] == len(written) == len(ids) and list(written.columns) == list(whole.columns)
        expected = _by_event(whole, events["event_id"]).loc[sorted(ids.astype(str))]
        pd.testing.assert_frame_equal(_by_event(written, ids), expected)
