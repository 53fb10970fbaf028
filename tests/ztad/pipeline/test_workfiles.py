"""Work files between a night's steps: a file read column by column is the file read whole."""

from __future__ import annotations

import pandas as pd
import pytest

from ztad.pipeline.workfiles import read_parquet, read_parquet_by_column, write_parquet


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "event_id": ["a", "b", None],
        "timestamp": pd.to_datetime(["2026-03-16 01:00", "2026-03-16 02:00", None], utc=True),
        "login_success": [True, False, True],
        "asn": [64500, 64501, 64502],
        "score": [0.1, float("nan"), 0.3],
    })


def test_a_file_read_by_column_holds_what_it_holds_read_whole(tmp_path):
    path = tmp_path / "day.parquet"
    write_parquet(_frame(), path)
    pd.testing.assert_frame_equal(read_parquet_by_column(path), read_parquet(path), check_exact=True)
    pd.testing.assert_frame_equal(read_parquet_by_column(path, ["score", "event_id"]),
                                  read_parquet(path, ["score", "event_id"]), check_exact=True)


def test_a_missing_work_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.parquet"):
        read_parquet_by_column(tmp_path / "missing.parquet")
