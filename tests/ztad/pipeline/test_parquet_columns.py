"""A work file's columns read one at a time."""

from __future__ import annotations

import pandas as pd
import pytest

from ztad.pipeline.parquet_columns import ParquetColumns


def test_its_length_is_the_files_rows_and_each_column_is_the_files(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", None, "z"]})
    frame.to_parquet(tmp_path / "f.parquet", index=False, row_group_size=2)
    columns = ParquetColumns(tmp_path / "f.parquet")
    assert len(columns) == 3 and columns.names == ["a", "b"]
    pd.testing.assert_series_equal(columns["b"], frame["b"])
    with pytest.raises(KeyError):
        columns["c"]
