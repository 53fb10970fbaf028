"""Rolling the window's user x item pairs and trusted hours from night to night gives what
combining every day gives, and falls back to that whenever the kept window cannot be trusted."""

from __future__ import annotations

import itertools
import json
import shutil
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ztad.behaviour.baselines import (
    PAIR_COLUMNS,
    baseline_as_of,
    combine_aggregates,
    daily_aggregate,
    rolling,
    save_daily_aggregate,
    window_days_before,
)
from ztad.behaviour.baselines.persist import saved_daily_aggregate
from ztad.behaviour.baselines.rolling import WINDOW_FOLDER, kept_window
from ztad.behaviour.features import compute_features
from ztad.config import DetectionConfig, SourceConfig
from ztad.ingest import MissingPartitionError, load_day
from ztad.synth import generate

START = date(2026, 3, 2)
WINDOW = 5
FIRST = START + timedelta(days=WINDOW)  # the first night with a whole window behind it
CONFIG = DetectionConfig()


@pytest.fixture(scope="module")
def days(tmp_path_factory) -> dict[date, pd.DataFrame]:
    """Twelve generated days of 250 users, each day's events."""
    root = tmp_path_factory.mktemp("rolling_logs")
    generate(root, start=START, days=12, users=250, seed=11, clean_days=12)
    source = SourceConfig(root=str(root))
    out = {}
    for k in range(12):
        d = START + timedelta(days=k)
        try:
            out[d] = load_day(source, d).events
        except MissingPartitionError:
            pass
    return out


#: Each window start the hours were rolled into by the night run last, and whether they were.
HOURS_ROLLED: dict[date, bool] = {}


@pytest.fixture(autouse=True)
def record_rolled_hours(monkeypatch):
    """Record whether each roll of the kept hours added up."""
    roll_hours = rolling.roll_hours

    def recorded(*args):
        hours = roll_hours(*args)
        HOURS_ROLLED[args[-1]] = hours is not None
        return hours

    monkeypatch.setattr(rolling, "roll_hours", recorded)


def loader(events: dict[date, pd.DataFrame]):
    def load(d: date) -> pd.DataFrame:
        if d not in events:
            raise FileNotFoundError(d)
        return events[d]

    return load


def combined(state_dir, day: date):
    """The baseline as of ``day`` combined from every saved day of its window."""
    dated = [(d, a) for d in window_days_before(day, WINDOW) if (a := saved_daily_aggregate(state_dir, d))]
    return combine_aggregates(dated, day, WINDOW)


def times_rolled(state_dir) -> int:
    """Times in a row the kept window was rolled, every kind of pairs rolled the last time
    (0 when it was combined from every day)."""
    kept = kept_window(state_dir)
    assert kept.rolled_kinds in ([], list(PAIR_COLUMNS))
    assert HOURS_ROLLED.get(kept.start, False) == (kept.rolls > 0), "the hours roll with the pairs"
    return kept.rolls


def assert_same_pairs(rolled, full) -> None:
    """Pairs equal kind by kind: items and keys exactly, integer counts exactly, float sums
    within 1e-9."""
    for kind in PAIR_COLUMNS:
        a, b = rolled.pairs[kind], full.pairs[kind]
        assert a.items.dtype == b.items.dtype and a.items.equals(b.items), kind
        np.testing.assert_array_equal(a.keys, b.keys, err_msg=kind)
        assert list(a.values.columns) == list(b.values.columns), kind
        for column in a.values.columns:
            x, y = a.values[column].to_numpy(), b.values[column].to_numpy()
            assert x.dtype == y.dtype, (kind, column)
            if column in ("count", "days", "last_day", "lb_count"):
                np.testing.assert_array_equal(x, y, err_msg=f"{kind}.{column}")
            else:
                np.testing.assert_allclose(x, y, rtol=1e-9, atol=0, err_msg=f"{kind}.{column}")


def assert_same_hours(rolled, full) -> None:
    """Events per user x hour of the week and nights in the small hours exactly equal."""
    assert rolled.hour_counts.dtype == full.hour_counts.dtype
    np.testing.assert_array_equal(rolled.hour_counts, full.hour_counts)
    a, b = rolled.users["night_days"].to_numpy(), full.users["night_days"].to_numpy()
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)


def assert_same_state(rolled, full, events: pd.DataFrame) -> None:
    """Pairs, hours, users and every feature of a day's events equal."""
    assert_same_pairs(rolled, full)
    assert_same_hours(rolled, full)
    assert rolled.user_index.equals(full.user_index)
    pd.testing.assert_frame_equal(rolled.users, full.users, rtol=1e-9)
    a = compute_features(events, rolled, CONFIG)
    b = compute_features(events, full, CONFIG)
    pd.testing.assert_frame_equal(a, b, rtol=1e-9)


def night(state_dir, day: date, events: dict[date, pd.DataFrame]):
    """The night's baseline (rolled when it can be) and the one combined from every day."""
    HOURS_ROLLED.clear()
    return baseline_as_of(state_dir, day, WINDOW, loader(events)), combined(state_dir, day)


def test_consecutive_nights_roll_to_what_combining_gives(tmp_path, days):
    nights = []
    for k in range(6):
        day = FIRST + timedelta(days=k)
        rolled, full = night(tmp_path, day, days)
        assert times_rolled(tmp_path) == k
        assert_same_state(rolled, full, days[day])
        nights.append(full.users.set_index(full.user_index)["night_days"])
    # Nights in the small hours entered and left the window as it moved.
    assert all(n.sum() > 0 for n in nights)
    assert any(not a.equals(b) for a, b in itertools.pairwise(nights))


def test_skipped_nights_roll_over_several_days(tmp_path, days):
    night(tmp_path, FIRST, days)
    day = FIRST + timedelta(days=3)
    rolled, full = night(tmp_path, day, days)
    assert times_rolled(tmp_path) == 1
    assert_same_state(rolled, full, days[day])


def test_a_window_with_a_day_without_data_rolls_as_the_day_enters_and_leaves(tmp_path, days):
    without = {d: e for d, e in days.items() if d != FIRST + timedelta(days=1)}
    for k in range(WINDOW + 2):
        day = FIRST + timedelta(days=k)
        rolled, full = night(tmp_path, day, without)
        assert times_rolled(tmp_path) == k
        assert_same_pairs(rolled, full)
        assert_same_hours(rolled, full)


def test_a_rerun_of_the_same_day_gives_the_identical_baseline(tmp_path, days):
    night(tmp_path, FIRST, days)
    day = FIRST + timedelta(days=1)
    first, _ = night(tmp_path, day, days)
    folder = kept_window(tmp_path).folder
    again, _ = night(tmp_path, day, days)
    assert kept_window(tmp_path).folder == folder
    for kind in PAIR_COLUMNS:
        assert again.pairs[kind].items.equals(first.pairs[kind].items)
        np.testing.assert_array_equal(again.pairs[kind].keys, first.pairs[kind].keys)
        pd.testing.assert_frame_equal(again.pairs[kind].values, first.pairs[kind].values, check_exact=True)
    assert_same_hours(again, first)


def test_a_rerun_of_an_earlier_day_combines_every_day(tmp_path, days):
    night(tmp_path, FIRST + timedelta(days=2), days)
    day = FIRST + timedelta(days=1)
    rolled, full = night(tmp_path, day, days)
    assert times_rolled(tmp_path) == 0
    assert_same_state(rolled, full, days[day])


@pytest.mark.parametrize("saved_again", [FIRST - timedelta(days=WINDOW), FIRST - timedelta(days=2)])
def test_a_past_day_saved_again_is_combined_again(tmp_path, days, saved_again):
    """A leaving day or a shared day saved again (here with a user's events taken out)."""
    night(tmp_path, FIRST, days)
    events = days[saved_again]
    save_daily_aggregate(daily_aggregate(events[events["user_id"] != events["user_id"].iloc[0]]),
                         tmp_path, saved_again)
    day = FIRST + timedelta(days=1)
    rolled, full = night(tmp_path, day, days)
    assert times_rolled(tmp_path) == 0
    assert_same_state(rolled, full, days[day])


def test_late_data_for_a_day_of_the_kept_window_is_combined_again(tmp_path, days):
    late = FIRST - timedelta(days=2)
    night(tmp_path, FIRST, {d: e for d, e in days.items() if d != late})
    day = FIRST + timedelta(days=1)
    rolled, full = night(tmp_path, day, days)
    assert times_rolled(tmp_path) == 0
    assert len(rolled.pairs["device"].keys) == len(full.pairs["device"].keys)
    assert_same_pairs(rolled, full)
    assert_same_hours(rolled, full)


def _pointer_to_nowhere(root):
    (root / "current.json").write_text(json.dumps({"folder": "gone"}))


def _torn_pointer(root):
    (root / "current.json").write_text('{"fold')


def _garbled_keys(root):
    (kept_folder(root) / "ip" / "keys.npy").write_bytes(b"not an array")


def _half_written(root):
    (kept_folder(root) / "resource" / "values.parquet").unlink()


def _no_meta(root):
    (kept_folder(root) / "window.json").unlink()


def _no_days_column(root):
    values = kept_folder(root) / "city" / "values.parquet"
    pd.read_parquet(values).drop(columns="days").to_parquet(values)


def _other_layout(root):
    meta = kept_folder(root) / "window.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": 0}))


def _garbled_hours(root):
    (kept_folder(root) / "hours" / "cells.npy").write_bytes(b"not an array")


def _no_night_rows(root):
    (kept_folder(root) / "hours" / "nights.npy").unlink()


def _hours_of_an_unknown_user(root):
    cells = kept_folder(root) / "hours" / "cells.npy"
    kept = np.load(cells)
    kept[0, 0] = len(pd.read_parquet(kept_folder(root) / "user_index.parquet"))
    np.save(cells, kept)


def _hours_short_of_events(root):
    """Each kept cell one event short: the leaving day's rows leave some negative."""
    cells = kept_folder(root) / "hours" / "cells.npy"
    kept = np.load(cells)
    kept[:, 2] -= 1
    np.save(cells, kept)


def _float_hours(root):
    cells = kept_folder(root) / "hours" / "cells.npy"
    np.save(cells, np.load(cells).astype("float64"))


def kept_folder(root):
    return root / json.loads((root / "current.json").read_text())["folder"]


@pytest.mark.parametrize("damage", [
    _pointer_to_nowhere, _torn_pointer, _garbled_keys, _half_written, _no_meta, _no_days_column, _other_layout,
    _garbled_hours, _no_night_rows, _hours_of_an_unknown_user, _hours_short_of_events, _float_hours,
])
def test_a_damaged_kept_window_is_combined_again_without_error(tmp_path, days, damage):
    night(tmp_path, FIRST, days)
    damage(tmp_path / WINDOW_FOLDER)
    day = FIRST + timedelta(days=1)
    rolled, full = night(tmp_path, day, days)
    assert_same_state(rolled, full, days[day])
    # The window kept that night is whole again, and the next night rolls from it.
    night(tmp_path, day + timedelta(days=1), days)
    assert times_rolled(tmp_path) >= 1


def test_a_user_seen_only_on_the_leaving_day_leaves_the_pairs(tmp_path, days):
    leaving = FIRST - timedelta(days=WINDOW)
    user = days[leaving]["user_id"].iloc[0]
    edited = {d: (e if d == leaving else e[e["user_id"] != user]) for d, e in days.items()}
    night(tmp_path, FIRST, edited)
    assert user in combined(tmp_path, FIRST).user_index
    day = FIRST + timedelta(days=1)
    rolled, full = night(tmp_path, day, edited)
    assert times_rolled(tmp_path) == 1
    assert user not in rolled.user_index
    assert_same_state(rolled, full, edited[day])
    assert len(rolled.hour_counts) == len(rolled.user_index)


def test_an_item_seen_only_on_the_leaving_day_leaves_the_items(tmp_path, days):
    leaving = FIRST - timedelta(days=WINDOW)
    events = days[leaving].copy()
    events["device_id"] = events["device_id"].astype("string")
    events.loc[events.index[:3], "device_id"] = "zz-only-on-the-leaving-day"
    edited = {**days, leaving: events}
    night(tmp_path, FIRST, edited)
    assert "zz-only-on-the-leaving-day" in combined(tmp_path, FIRST).pairs["device"].items
    day = FIRST + timedelta(days=1)
    rolled, full = night(tmp_path, day, edited)
    assert times_rolled(tmp_path) == 1
    assert "zz-only-on-the-leaving-day" not in rolled.pairs["device"].items
    assert_same_state(rolled, full, days[day])


def test_older_kept_windows_are_removed(tmp_path, days):
    for k in range(3):
        night(tmp_path, FIRST + timedelta(days=k), days)
    kept = [p.name for p in (tmp_path / WINDOW_FOLDER).iterdir() if p.is_dir()]
    assert kept == [kept_window(tmp_path).folder.name]


def test_the_window_is_not_kept_when_asked_not_to(tmp_path, days):
    baseline_as_of(tmp_path, FIRST, WINDOW, loader(days), keep_window=False)
    assert kept_window(tmp_path) is None
    shutil.rmtree(tmp_path / "baselines")


def test_pairs_rolled_too_many_times_are_combined_again(tmp_path, days, monkeypatch):
    monkeypatch.setattr("ztad.behaviour.baselines.rolling.MAX_ROLLS", 2)
    for k, rolls in enumerate((0, 1, 2, 0, 1)):
        day = FIRST + timedelta(days=k)
        rolled, full = night(tmp_path, day, days)
        assert times_rolled(tmp_path) == rolls
        assert_same_pairs(rolled, full)
        assert_same_hours(rolled, full)
