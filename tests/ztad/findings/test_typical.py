"""The day's typical feature values: worked out a column at a time, equal to the whole frame's."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.findings.typical import MIN_SPREAD, TypicalValues, median_and_quartiles


def _day(rows: int = 5_001) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "bytes_z": rng.normal(size=rows),
        "login_failed": (rng.random(rows) < 0.1).astype("float64"),
        "travel_speed": rng.exponential(300.0, size=rows),
        "hour_rarity": rng.random(rows),
    })
    frame.loc[rng.choice(rows, 40, replace=False), "travel_speed"] = np.nan
    return frame


def test_column_by_column_equals_the_whole_frames_median_and_interquartile_range():
    day = _day()
    typical = TypicalValues.of_frame(day)
    median = day.median()
    spread = (day.quantile(0.75) - day.quantile(0.25)).clip(lower=MIN_SPREAD)
    # Exactly equal: the same numbers the comparison with the whole day's frame gave.
    assert typical.median.to_dict() == median.to_dict()
    assert typical.spread.to_dict() == spread.to_dict()
    assert typical.spread["login_failed"] == MIN_SPREAD  # a flag of mostly zeros


def test_each_column_is_read_once_and_only_when_asked_for():
    day = _day(101)
    read: list[str] = []

    def column(name: str) -> np.ndarray:
        read.append(name)
        return day[name].to_numpy()

    typical = TypicalValues(list(day.columns), column)
    assert read == []
    typical.median, typical.spread  # noqa: B018
    assert read == list(day.columns)


def test_distance_is_in_spreads_from_the_median():
    day = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "y": [5.0] * 5})
    typical = TypicalValues.of_frame(day, ["x", "y"])
    rows = pd.DataFrame({"x": [6.0, 2.0], "y": [5.0, 6.0]})
    assert typical.distance(rows, ["x", "y"]).tolist() == [[2.0, 0.0], [0.0, 1.0 / MIN_SPREAD]]


def _pandas_statistics(values: np.ndarray) -> np.ndarray:
    series = pd.Series(values)
    return np.array([series.median(), series.quantile(0.25), series.quantile(0.75)], dtype="float64")


def _columns_of_every_shape() -> list[np.ndarray]:
    """Odd and even lengths, ties, missing values, constants, infinities, nothing at all."""
    rng = np.random.default_rng(11)
    columns = [np.array([]), np.array([np.nan] * 7), np.array([2.5]), np.array([np.inf]), np.array([-np.inf, np.inf]),
               np.array([1.0, np.nan, np.inf, 3.0]), np.full(10, 4.2), np.array([0.0, -0.0, 0.0, -0.0])]
    for size in [*range(2, 40), 599, 600, 601, 1_000, 4_096, 100_001]:
        normal = rng.normal(scale=rng.choice([1e-3, 1.0, 1e6]), size=size)
        ties = np.round(rng.exponential(size=size), 1)
        flags = (rng.random(size) < 0.2).astype("float64")
        for values in (normal, ties, flags):
            holes = values.copy()
            holes[rng.random(size) < 0.3] = np.nan
            columns += [values, holes]
    return columns


def test_median_and_quartiles_are_pandas_own_to_the_bit():
    for values in _columns_of_every_shape():
        ours = np.array(median_and_quartiles(values), dtype="float64")
        assert ours.tobytes() == _pandas_statistics(values).tobytes(), values[:10]


def test_median_and_quartiles_of_other_types_are_pandas_own():
    for values in (np.array([3, 1, 2, 8], dtype="int64"), np.array([1.5, 2.25, 7.0], dtype="float32"),
                   pd.array([1.0, None, 4.0, 5.0], dtype="Float64")):
        assert np.array(median_and_quartiles(values), dtype="float64").tolist() == _pandas_statistics(values).tolist()
