"""Days split into shards of users, gathered back exactly, with the findings of an unsharded day."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ztad import pipeline
from ztad.behaviour.features.user_parts import part_order
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.pipeline import sharding
from ztad.pipeline.shards import Shard, ShardError, all_shards, shard_of
from ztad.store import FindingsStore

DAY = date(2026, 3, 18)
FIRST_SCORED = date(2026, 3, 16)  # the small data set's attacks start after 14 clean days
#: The detector choice does not matter for equality; these two are fast.
FAST = DetectionConfig(detectors=("isolation_forest", "ecod"))
#: Columns that say when a row was written, not what was found.
WRITE_TIME = {"created_at", "updated_at"}


def config_in(home: Path, root: str = "unused", **changes) -> JobConfig:
    return JobConfig(source=SourceConfig(root=root), home=home, detection=FAST, **changes)


# --------------------------------------------------------------------------- split and gather


@pytest.fixture
def split(tmp_path):
    """A hand-made day of 40 events by 9 users, split into 3 shards, with per-shard
    features (one categorical column) and scores written as the steps would."""
    config = config_in(tmp_path)
    folder = pipeline.day_dir(config, DAY)
    users = [f"user{i % 9}" for i in range(40)]
    events = pd.DataFrame({"event_id": [f"e{i:02d}" for i in range(40)], "user_id": users})
    signals = pd.DataFrame({
        "ip_users_today": np.arange(40, dtype="float64"),
        "ip_failures_60m": np.arange(40, dtype="int64"),
        "ip_failed_users_60m": np.zeros(40, dtype="int64"),
    })
    folder.mkdir(parents=True)
    events.to_parquet(folder / "events.parquet", index=False)
    manifest = sharding.split_day(folder, signals, 3, batch_rows=7)
    for shard in all_shards(3):
        part = pd.read_parquet(folder / shard.folder_name / "events.parquet")
        ids = part["event_id"].str[1:].astype(int).to_numpy()
        where = folder / shard.folder_name
        pd.DataFrame({
            "value": ids.astype("float64"),
            "place": pd.Categorical([f"city{i % 4}" for i in ids]),
        }).to_parquet(where / "features.parquet")
        flagged = ids % 5 == 0
        pd.DataFrame({"score": ids.astype("float64"), "flagged": flagged}).to_parquet(where / "scored.parquet")
        (where / "score.json").write_text(json.dumps({
            "day": DAY.isoformat(), "rows_scored": len(ids), "rows_flagged": int(flagged.sum()),
            "threshold": 2.5, "model_version": "m1",
        }))
    return config, folder, events, manifest


def test_every_event_goes_to_its_users_shard_once(split):
    config, folder, events, manifest = split
    assert manifest["shards"] == 3 and sum(manifest["events_per_shard"]) == 40
    seen = []
    for shard in all_shards(3):
        part = pd.read_parquet(folder / shard.folder_name / "events.parquet")
        counts = pd.read_parquet(folder / shard.folder_name / "cross_user.parquet")
        assert set(shard_of(part["user_id"], 3)) <= {shard.index}
        assert part["event_id"].tolist() == events["event_id"].iloc[counts["row"]].tolist()
        assert counts["ip_failures_60m"].tolist() == counts["row"].tolist()
        seen += counts["row"].tolist()
    assert sorted(seen) == list(range(40))


def test_gathered_features_are_the_days_in_event_order(split):
    config, folder, events, _ = split
    assert sharding.gather_features(DAY, config) == {"day": DAY.isoformat(), "shards": 3, "rows": 40}
    features = pd.read_parquet(folder / "features.parquet")
    assert features["value"].tolist() == list(range(40))
    assert isinstance(features["place"].dtype, pd.CategoricalDtype)
    assert features["place"].astype(str).tolist() == [f"city{i % 4}" for i in range(40)]


def test_gathering_a_few_rows_at_a_time_interleaves_the_shards_in_event_order(split):
    _, folder, _, manifest = split
    shards = all_shards(manifest["shards"])
    paths = [folder / s.folder_name / "features.parquet" for s in shards]
    positions = [pd.read_parquet(folder / s.folder_name / "cross_user.parquet")["row"].to_numpy() for s in shards]
    assert sharding._write_in_day_order(paths, positions, folder / "small.parquet", "features", batch_rows=7) == 40
    features = pd.read_parquet(folder / "small.parquet")
    assert features["value"].tolist() == list(range(40))
    assert features["place"].astype(str).tolist() == [f"city{i % 4}" for i in range(40)]
    twice = np.sort(np.r_[positions[1][:-1], positions[0][0]])  # one of shard 1's rows is shard 0's
    with pytest.raises(ShardError, match="exactly once"):
        sharding._write_in_day_order(paths, [positions[0], twice, positions[2]], folder / "bad.parquet", "x")


def test_gathered_scores_and_counts_are_the_days_and_the_day_is_then_explained(split, monkeypatch):
    config, folder, _, _ = split
    explained = []
    monkeypatch.setattr(sharding, "attribute_scores", lambda day, config: explained.append(
        pd.read_parquet(pipeline.day_dir(config, day) / "scored.parquet")["flagged"].sum()
    ))
    counts = sharding.gather_scores(DAY, config)
    assert counts == {"day": DAY.isoformat(), "rows_scored": 40, "rows_flagged": 8,
                      "threshold": 2.5, "model_version": "m1"}
    assert pd.read_parquet(folder / "scored.parquet")["score"].tolist() == list(range(40))
    assert explained == [8], "the whole day's flags are explained, once"


def test_shards_scored_with_different_models_are_refused(split, monkeypatch):
    config, folder, _, _ = split
    monkeypatch.setattr(sharding, "attribute_scores", lambda day, config: None)
    path = folder / Shard(1, 3).folder_name / "score.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "threshold": 9.9}))
    with pytest.raises(ShardError, match="different thresholds"):
        sharding.gather_scores(DAY, config)


def test_a_shard_that_lost_rows_is_refused(split):
    config, folder, _, _ = split
    path = folder / Shard(2, 3).folder_name / "features.parquet"
    pd.read_parquet(path).iloc[1:].to_parquet(path)
    with pytest.raises(ShardError, match="rows for"):
        sharding.gather_features(DAY, config)


def test_a_new_split_replaces_the_old_shards(split):
    _, folder, _, _ = split
    signals = pd.DataFrame({"ip_users_today": np.zeros(40), "ip_failures_60m": 0, "ip_failed_users_60m": 0})
    sharding.split_day(folder, signals, 2)
    assert sorted(p.name for p in folder.glob("shard=*")) == ["shard=001-of-002", "shard=002-of-002"]
    assert sharding.read_manifest(folder)["shards"] == 2


def _streamed_day(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """A day of 60 events by 11 users in part order (parts of 20 rows), with columns of
    several types (text with gaps, a categorical, times, integers), and its cross-user counts."""
    users = [f"user{(i * 7) % 11}" for i in range(60)]
    order, bounds = part_order(pd.Series(users), 20)
    events = pd.DataFrame({
        "event_id": [f"e{i:02d}" for i in range(60)],
        "user_id": users,
        "timestamp": pd.date_range("2026-03-18", periods=60, freq="min", tz="UTC"),
        "resource": [None if i % 9 == 0 else f"r{i % 4}" for i in range(60)],
        "place": pd.Categorical([f"city{i % 5}" for i in range(60)], categories=[f"city{k}" for k in range(6)]),
        "bytes_transferred": np.arange(60, dtype="int64") * 1000,
    }).iloc[order].reset_index(drop=True)
    folder.mkdir(parents=True)
    events.to_parquet(folder / "events.parquet", index=False)
    signals = pd.DataFrame({"ip_users_today": np.arange(60, dtype="int32"), "source_scanner_like": np.arange(60) % 3 == 0})
    return events, signals, bounds


def test_a_streamed_split_gives_each_shard_its_users_rows_in_the_days_order_and_types(tmp_path):
    folder = tmp_path / "day"
    events, signals, bounds = _streamed_day(folder)
    manifest = sharding.split_day(folder, signals, 3, bounds=bounds, batch_rows=7)
    assignment = shard_of(events["user_id"], 3)
    for shard, parts in zip(all_shards(3), manifest["parts_per_shard"]):
        part = pd.read_parquet(folder / shard.folder_name / "events.parquet")
        counts = pd.read_parquet(folder / shard.folder_name / "cross_user.parquet")
        rows = np.flatnonzero(assignment == shard.index)
        assert counts[sharding.ROW].tolist() == rows.tolist()
        pd.testing.assert_frame_equal(part, events.iloc[rows].reset_index(drop=True), check_exact=True)
        pd.testing.assert_frame_equal(counts.drop(columns=[sharding.ROW]), signals.iloc[rows].reset_index(drop=True))
        # The shard's parts are its rows of whole parts of the day, each a run of its row groups.
        day_part = np.searchsorted(bounds, rows, side="right") - 1
        assert parts[0] == 0 and parts[-1] == len(rows)
        assert all(day_part[begin - 1] < day_part[begin] for begin in parts[1:-1])
        assert all(np.diff(parts) <= 20) or len(parts) == 2
        file = pq.ParquetFile(folder / shard.folder_name / "events.parquet")
        group_starts = np.cumsum([0] + [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)])
        assert set(parts) <= set(group_starts.tolist())
    assert manifest["events_per_shard"] == np.bincount(assignment, minlength=3).tolist()


def test_a_split_again_writes_the_same_shards(tmp_path):
    folder = tmp_path / "day"
    _, signals, bounds = _streamed_day(folder)
    first = sharding.split_day(folder, signals, 2, bounds=bounds, batch_rows=7)
    files = {p.relative_to(folder): pd.read_parquet(p) for p in folder.glob("shard=*/*.parquet")}
    again = sharding.split_day(folder, signals, 2, bounds=bounds, batch_rows=11)
    assert again == first
    assert {p.relative_to(folder) for p in folder.glob("shard=*/*")} == set(files)
    for name, frame in files.items():
        pd.testing.assert_frame_equal(pd.read_parquet(folder / name), frame)


def test_a_split_that_fails_leaves_no_shard_file(tmp_path, monkeypatch):
    folder = tmp_path / "day"
    _, signals, bounds = _streamed_day(folder)
    sharding.split_day(folder, signals, 2, bounds=bounds)
    batches = []

    def failing_shard_of(user_ids, count):
        batches.append(len(user_ids))
        if len(batches) == 3:
            raise OSError("disk full")
        return shard_of(user_ids, count)

    monkeypatch.setattr(sharding, "shard_of", failing_shard_of)
    with pytest.raises(OSError, match="disk full"):
        sharding.split_day(folder, signals, 3, bounds=bounds, batch_rows=7)
    assert [p.name for p in folder.glob("shard=*/*") if p.name.endswith(".parquet")] == []
    assert list(folder.glob("shard=*/.*")) == [], "no temporary file is left"


def test_a_day_without_events_is_split_into_empty_shards_of_its_columns(tmp_path):
    folder = tmp_path / "day"
    events, signals, _ = _streamed_day(folder)
    events.iloc[:0].to_parquet(folder / "events.parquet", index=False)
    manifest = sharding.split_day(folder, signals.iloc[:0], 2)
    assert manifest["events_per_shard"] == [0, 0] and manifest["parts_per_shard"] == [[0, 0], [0, 0]]
    for shard in all_shards(2):
        part = pd.read_parquet(folder / shard.folder_name / "events.parquet")
        pd.testing.assert_frame_equal(part, pd.read_parquet(folder / "events.parquet"))
        assert list(pd.read_parquet(folder / shard.folder_name / "cross_user.parquet").columns) == [
            *signals.columns, sharding.ROW]


def test_a_split_refuses_counts_or_parts_that_do_not_fit_the_day(tmp_path):
    folder = tmp_path / "day"
    _, signals, bounds = _streamed_day(folder)
    with pytest.raises(ShardError, match="59 cross-user rows for 60 events"):
        sharding.split_day(folder, signals.iloc[1:], 2)
    with pytest.raises(ShardError, match="do not cover the 60 events"):
        sharding.split_day(folder, signals, 2, bounds=bounds[:-1])


@pytest.mark.parametrize(("counts", "bounds"), [
    ([30, 30, 50, 0, 90, 10], [0, 60, 110, 210]),
    ([250, 5], [0, 250, 255]),
    ([40], [0, 40]),
    ([0, 0], [0, 0]),
    ([], [0, 0]),
])
def test_a_shards_parts_join_the_days_parts_up_to_a_parts_size(counts, bounds):
    assert sharding.shard_parts(np.array(counts), 100).tolist() == bounds


def test_gathering_a_day_that_was_never_split_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the cross_user step"):
        sharding.gather_features(DAY, config_in(tmp_path))


def test_a_shard_step_before_the_split_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the earlier pipeline steps"):
        pipeline.update_baselines(DAY, config_in(tmp_path), shard=Shard(0, 2))


def test_the_days_baseline_is_kept_for_its_shards(split):
    from ztad.behaviour.baselines import combine_aggregates

    _, folder, _, _ = split
    baseline = combine_aggregates([], DAY, 30)
    sharding.save_baseline(folder, baseline)
    assert sharding.load_baseline(folder, DAY).day == DAY
    with pytest.raises(ShardError, match="holds the baseline of 2026-03-18, not of 2026-03-19"):
        sharding.load_baseline(folder, DAY + timedelta(days=1))


def test_a_shard_without_the_days_baseline_says_what_to_run(split):
    with pytest.raises(FileNotFoundError, match="run the cross_user step"):
        sharding.load_baseline(split[1], DAY)


# --------------------------------------------------------------------------- end to end


def stored(url: str, days: list[date]) -> dict[str, pd.DataFrame]:
    """The findings and incidents of ``days``, in a fixed order, without write times."""
    with FindingsStore(url) as store:
        findings = pd.concat([store.findings(day=d) for d in days], ignore_index=True)
        incidents = pd.concat([store.incidents(day=d) for d in days], ignore_index=True)
    return {
        "findings": findings.drop(columns=list(WRITE_TIME & set(findings.columns)))
        .sort_values("finding_id").reset_index(drop=True),
        "incidents": incidents.drop(columns=list(WRITE_TIME & set(incidents.columns)))
        .sort_values("incident_id").reset_index(drop=True),
    }


def exactly_explained(findings: pd.DataFrame) -> pd.Series:
    """Findings per day whose Isolation Forest attributions are exact TreeSHAP values."""
    from ztad.findings.attributions import EXACT_METHOD

    exact = findings["attributions"].map(
        lambda doc: (doc or {}).get("isolation_forest", {}).get("method") == EXACT_METHOD
    )
    return exact.groupby(findings["day"]).sum()


@pytest.mark.postgres
@pytest.mark.parametrize("part_events", [None, 100], ids=["one-go", "in-parts"])
def test_a_sharded_day_gives_the_findings_of_an_unsharded_one(
    small_logs, empty_postgres_url, another_empty_postgres_url, tmp_path, monkeypatch, part_events
):
    """Three days, whole then in 3 shards (each with its own state and database), into
    PostgreSQL: the same findings, incidents, scores, flags and explanations, column for column.
    With small parts, the days (and each shard) are computed a part of their users at a time,
    the whole days' events put in part order first."""
    from ztad.behaviour.features import user_parts
    from ztad.findings import attributions

    if part_events is not None:
        monkeypatch.setattr(user_parts, "PART_EVENTS", part_events)

    # Only the day's 3 highest findings get exact TreeSHAP (250 in production, more than
    # these small days flag; a quiet day may have fewer findings than 3): the choice must be
    # the whole day's, not each shard's.
    monkeypatch.setattr(attributions.attribution_table, "__defaults__", (None, 3))
    days = [FIRST_SCORED + timedelta(days=k) for k in range(3)]
    whole = config_in(tmp_path / "whole", str(small_logs), database_url=empty_postgres_url)
    split = config_in(tmp_path / "split", str(small_logs), database_url=another_empty_postgres_url)

    for day in days:
        pipeline.run_day(day, whole, run_id=f"whole-{day}")
    expected = stored(empty_postgres_url, days)
    summaries = [pipeline.run_sharded_day(day, split, 3, run_id=f"split-{day}") for day in days]
    actual = stored(another_empty_postgres_url, days)

    assert len(expected["findings"]) > 0 and len(expected["incidents"]) > 0
    assert "password_spray" in set(expected["findings"]["category"]), "the cross-user case is covered"
    per_day = expected["findings"].groupby("day").size()
    assert (per_day > 3).any(), "a day flags more than are explained exactly, so the choice matters"
    assert exactly_explained(expected["findings"]).tolist() == per_day.clip(upper=3).tolist()
    for table in ("findings", "incidents"):
        left, right = expected[table], actual[table].assign(run_id=lambda f: f["run_id"].str.replace("split-", "whole-"))
        pd.testing.assert_frame_equal(left, right, check_exact=True)
    if part_events is not None:
        manifests = [sharding.read_manifest(pipeline.day_dir(split, day)) for day in days]
        assert any(len(bounds) > 2 and not user_parts.in_one_go(bounds[-1])
                   for m in manifests for bounds in m["parts_per_shard"]), "shards are computed in parts"
    for day, summary in zip(days, summaries):
        assert summary.timings["update_baselines_slowest_shard"] <= summary.timings["update_baselines"]
        a = pd.read_parquet(pipeline.day_dir(whole, day) / "scored.parquet")
        b = pd.read_parquet(pipeline.day_dir(split, day) / "scored.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    runs = []
    for url in (empty_postgres_url, another_empty_postgres_url):
        with FindingsStore(url) as store:
            runs.append(store.runs())
    runs = pd.concat(runs, ignore_index=True).set_index("run_id")
    for day, summary in zip(days, summaries):
        assert runs.loc[summary.run_id, "rows_flagged"] == runs.loc[f"whole-{day}", "rows_flagged"]
        assert runs.loc[summary.run_id, "status"] == "success"


def test_a_text_column_missing_in_the_first_shard_keeps_the_other_shards_values(tmp_path):
    """A shard's file where a text feature has no value stores the column as nulls; gathering
    must take the column's type from the shards that have values, not drop them."""
    empty = pd.DataFrame({"x": [1.0, 2.0], "ip": pd.Categorical([None, None], categories=pd.Index([], dtype=object))})
    valued = pd.DataFrame({"x": [3.0], "ip": pd.Categorical(["10.0.0.1"])})
    empty.to_parquet(tmp_path / "a.parquet")
    valued.to_parquet(tmp_path / "b.parquet")
    rows = sharding._write_in_day_order([tmp_path / "a.parquet", tmp_path / "b.parquet"],
                                        [np.array([0, 2]), np.array([1])], tmp_path / "day.parquet", "features")
    gathered = pd.read_parquet(tmp_path / "day.parquet")
    assert rows == 3
    assert gathered["ip"].astype(object).fillna("<NA>").tolist() == ["<NA>", "10.0.0.1", "<NA>"]
    assert gathered["x"].tolist() == [1.0, 3.0, 2.0]
