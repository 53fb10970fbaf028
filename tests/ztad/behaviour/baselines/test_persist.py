"""Daily aggregates saved per day and read back, including those of older layouts."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from tests.ztad.behaviour.baselines.days import day_events, loader
from tests.ztad.behaviour.features.sequences import DAY
from ztad.behaviour.baselines import (
    AGGREGATE_VERSION,
    aggregate_dir,
    baseline_as_of,
    daily_aggregate,
    has_daily_aggregate,
    load_daily_aggregate,
    save_daily_aggregate,
)
from ztad.behaviour.baselines.persist import saved_daily_aggregate


def test_an_aggregate_saved_before_autonomous_systems_were_kept_still_combines(tmp_path):
    d = DAY - timedelta(days=1)
    save_daily_aggregate(daily_aggregate(day_events(d, asn=64500)), tmp_path, d)
    folder = aggregate_dir(tmp_path, d)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "user_asn.parquet").unlink()
    (folder / "meta.json").write_text(json.dumps({**meta, "tables": [t for t in meta["tables"] if t != "user_asn"]}))
    state = baseline_as_of(tmp_path, DAY, 30, loader({}))
    assert state.n_users == 1 and len(state.pairs["asn"].items) == 0


def test_save_then_load_gives_the_same_tables(tmp_path):
    agg = daily_aggregate(day_events(date(2026, 3, 9)))
    path = save_daily_aggregate(agg, tmp_path, date(2026, 3, 9))
    assert path == aggregate_dir(tmp_path, date(2026, 3, 9))
    loaded = load_daily_aggregate(tmp_path, date(2026, 3, 9))
    for name, table in agg.tables.items():
        pd.testing.assert_frame_equal(loaded.tables[name], table)
    # Saving again replaces the day instead of piling up.
    save_daily_aggregate(daily_aggregate(day_events(date(2026, 3, 9), "bob")), tmp_path, date(2026, 3, 9))
    assert load_daily_aggregate(tmp_path, date(2026, 3, 9)).tables["users"]["user_id"].tolist() == ["bob"]


def test_absent_or_outdated_aggregates_load_as_none(tmp_path):
    assert load_daily_aggregate(tmp_path, date(2026, 3, 9)) is None
    assert not has_daily_aggregate(tmp_path, date(2026, 3, 9))
    save_daily_aggregate(daily_aggregate(day_events(date(2026, 3, 9))), tmp_path, date(2026, 3, 9))
    assert has_daily_aggregate(tmp_path, date(2026, 3, 9))
    meta = aggregate_dir(tmp_path, date(2026, 3, 9)) / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "version": AGGREGATE_VERSION - 1}))
    assert load_daily_aggregate(tmp_path, date(2026, 3, 9)) is None
    assert not has_daily_aggregate(tmp_path, date(2026, 3, 9))


def test_a_saved_aggregate_reads_each_table_only_when_asked_for(tmp_path):
    d = date(2026, 3, 9)
    agg = daily_aggregate(day_events(d))
    save_daily_aggregate(agg, tmp_path, d)
    saved = saved_daily_aggregate(tmp_path, d)
    assert sorted(saved.tables) == sorted(agg.tables) and len(saved.tables) == len(agg.tables)
    (aggregate_dir(tmp_path, d) / "user_ip.parquet").unlink()
    pd.testing.assert_frame_equal(saved.tables["users"], agg.tables["users"])
    assert saved.events == agg.events
    with pytest.raises(FileNotFoundError):
        saved.tables["user_ip"]
    with pytest.raises(KeyError):
        saved.tables["user_planet"]
    # Whether a table is there is told by the folder's list, without reading the table.
    assert "user_ip" in saved.tables and "user_planet" not in saved.tables
    assert saved_daily_aggregate(tmp_path, d + timedelta(days=1)) is None
