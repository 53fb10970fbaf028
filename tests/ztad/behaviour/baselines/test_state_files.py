"""A baseline state kept as data files: a faithful round trip, and no pickle anywhere."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.behaviour.baselines import BaselineError, BaselineState, load_state, save_state
from ztad.behaviour.baselines.pairs import PairStats
from ztad.behaviour.baselines.state_files import STATE_FORMAT
from ztad.config import JobConfig, SourceConfig

DAY = date(2026, 3, 18)


@pytest.fixture(scope="module")
def state_and_events(small_logs, tmp_path_factory):
    """A real baseline (peers, centroids, every pair kind) of the small data set, and the day's events."""
    from ztad.ingest import load_day
    from ztad.pipeline.history import baseline_before

    config = JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path_factory.mktemp("home"))
    return baseline_before(config, DAY), load_day(config.source, DAY).events


def assert_same_value(got, expected, where: str) -> None:
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, obj=where)
    elif isinstance(expected, pd.Index):
        pd.testing.assert_index_equal(got, expected, obj=where)
    elif isinstance(expected, np.ndarray):
        assert got.dtype == expected.dtype, where
        np.testing.assert_array_equal(got, expected, err_msg=where)
    elif isinstance(expected, PairStats):
        for part in ("items", "keys", "values"):
            assert_same_value(getattr(got, part), getattr(expected, part), f"{where}.{part}")
    elif isinstance(expected, dict):
        assert list(got) == list(expected), where
        for key in expected:
            assert_same_value(got[key], expected[key], f"{where}[{key}]")
    else:
        assert got == expected, where


def test_a_saved_state_reads_back_field_by_field(state_and_events, tmp_path):
    state, _ = state_and_events
    assert state.n_users > 0 and len(state.peer_labels) > 0
    # Learned groups (users without a department) give centroids too.
    groups = len(state.peer_labels)
    state = replace(state, centroids=np.random.default_rng(1).random((groups, len(state.centroid_resources))),
                    centroid_peers=np.arange(groups, dtype="int64"))
    loaded = load_state(save_state(state, tmp_path / "baseline"))
    for field in fields(BaselineState):
        assert_same_value(getattr(loaded, field.name), getattr(state, field.name), field.name)


def test_features_from_a_saved_state_are_the_same(state_and_events, tmp_path):
    from ztad.behaviour.features import compute_features
    from ztad.config import DetectionConfig

    state, events = state_and_events
    loaded = load_state(save_state(state, tmp_path / "baseline"))
    detection = DetectionConfig()
    pd.testing.assert_frame_equal(compute_features(events, loaded, detection), compute_features(events, state, detection))


def test_a_state_without_learned_groups_round_trips(tmp_path):
    from ztad.behaviour.baselines import combine_aggregates

    empty = combine_aggregates([], DAY, 30)
    loaded = load_state(save_state(empty, tmp_path / "baseline"))
    assert loaded.n_users == 0 and loaded.day == DAY
    assert (loaded.centroids is None) == (empty.centroids is None)


def test_the_folder_holds_data_files_only(state_and_events, tmp_path):
    folder = save_state(state_and_events[0], tmp_path / "baseline")
    suffixes = {path.suffix for path in folder.rglob("*") if path.is_file()}
    assert suffixes <= {".json", ".parquet", ".npy"}
    for array in folder.rglob("*.npy"):
        assert np.load(array, allow_pickle=False).dtype != object


def test_a_folder_without_a_state_or_of_another_layout_is_refused(state_and_events, tmp_path):
    with pytest.raises(BaselineError, match="holds no saved baseline: state.json is missing"):
        load_state(tmp_path)
    folder = save_state(state_and_events[0], tmp_path / "baseline")
    description = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps({**description, "format": 0}))
    with pytest.raises(BaselineError, match=f"has layout 0, not {STATE_FORMAT}: prepare the day again"):
        load_state(folder)
