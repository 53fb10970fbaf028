"""A window's tables of one kind, coded from the days' dictionaries as the rows' text would be."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ztad.behaviour.baselines.arrays import codes_in, text_at, text_codes
from ztad.behaviour.baselines.window import read_window_table

DAY = date(2026, 3, 16)
NAMES = ["bob", "alice", None, "mallory", "carol", "bob", "Zoë", "émile", "Åsa"]


class _Saved(dict):
    """Tables read from their files, as a saved aggregate's are."""

    def __init__(self, folder, frames: dict[str, pd.DataFrame], row_group_size: int | None = None):
        super().__init__()
        self._folder = folder
        for name, frame in frames.items():
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"{name}.parquet",
                           row_group_size=row_group_size)
            self[name] = None

    def path_of(self, name: str):
        return self._folder / f"{name}.parquet"


class _Aggregate:
    def __init__(self, tables):
        self.tables = tables


def _days(seed: int, n_days: int = 4) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    days = []
    for k in range(n_days):
        rows = int(rng.integers(0, 12))
        days.append(pd.DataFrame({
            "user_id": pd.array(rng.choice(np.array(NAMES, dtype=object), rows), dtype="string"),
            "count": rng.integers(1, 9, rows).astype("int64"),
            "lat": np.where(rng.random(rows) < 0.3, np.nan, rng.random(rows)),
        }))
        if k == 1:
            days[-1] = days[-1].iloc[:0]
    return days


def _decoded(codes: np.ndarray, values: list) -> list:
    return [None if code < 0 else values[code] for code in codes]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"user_id": pd.array([], dtype="string"), "count": np.array([], "int64"),
                         "lat": np.array([], "float64")})


def _windows(tmp_path, seed: int):
    frames = _days(seed)
    held = [(DAY - timedelta(days=len(frames) - k), _Aggregate({"t": f})) for k, f in enumerate(frames)]
    saved = []
    for k, frame in enumerate(frames):
        folder = tmp_path / f"s{seed}-{k}"
        folder.mkdir()
        saved.append((held[k][0], _Aggregate(_Saved(folder, {"t": frame}, row_group_size=3))))
    whole = pd.concat([*frames, _empty()], ignore_index=True)
    return whole, [read_window_table(dated, "t", _empty(), ("user_id",)) for dated in (held, saved)]


@pytest.mark.parametrize("seed", range(6))
def test_window_text_is_coded_as_the_rows_text_one_after_another(tmp_path, seed):
    whole, windows = _windows(tmp_path, seed)
    index = pd.Index(["alice", "bob", "carol", "Zoë"], dtype="string")
    for window in windows:
        assert len(window) == len(whole)
        codes, values = window.codes("user_id")
        assert _decoded(codes, values.to_pylist()) == whole["user_id"].astype(object).where(
            whole["user_id"].notna(), None).tolist()
        codes, values = window.codes("user_id", sort=True)
        expected_codes, expected_values = text_codes(whole["user_id"], sort=True)
        assert codes.tolist() == expected_codes.tolist()
        assert values.to_pylist() == list(expected_values)
        assert window.codes_in(index, "user_id").tolist() == codes_in(index, whole["user_id"]).tolist()
        assert window.valid("user_id").tolist() == whole["user_id"].notna().tolist()
        rows = np.random.default_rng(seed).integers(-1, max(len(whole), 1), 7) if len(whole) else np.full(3, -1)
        pd.testing.assert_extension_array_equal(window.text_at("user_id", rows), text_at(whole["user_id"], rows))
        every_row_back_and_forth = np.r_[np.arange(len(whole))[::-1], -1, np.arange(len(whole))]
        pd.testing.assert_extension_array_equal(window.text_at("user_id", every_row_back_and_forth),
                                                text_at(whole["user_id"], every_row_back_and_forth))
        pd.testing.assert_series_equal(window.texts("user_id"), whole["user_id"], check_names=False)
        np.testing.assert_array_equal(window.numbers("count", "float64"), whole["count"].to_numpy("float64"))
        np.testing.assert_array_equal(window.numbers("lat", "float64"), whole["lat"].to_numpy("float64"))


def test_the_days_of_the_rows_and_a_window_without_the_table(tmp_path):
    frames = _days(1)
    dated = [(DAY - timedelta(days=3 - k), _Aggregate({"t": f})) for k, f in enumerate(frames[:3])]
    window = read_window_table(dated, "t", _empty(), ("user_id",))
    expected = np.concatenate([np.full(len(f), d.toordinal()) for (d, _), f in zip(dated, frames)])
    assert window.days.tolist() == expected.tolist()
    none = read_window_table([(DAY, _Aggregate({}))], "t", _empty(), ("user_id",))
    assert len(none) == 0 and none.codes("user_id", sort=True)[0].tolist() == []
    assert none.codes_in(pd.Index(["bob"], dtype="string"), "user_id").tolist() == []
