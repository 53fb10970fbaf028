"""A work file's columns, each read from disk only when asked for.

What reads a large day's features one at a time (the drift check's PSI, the findings' typical
values) takes this in place of a frame: ``len`` is the file's row count, from its metadata,
and ``columns[name]`` one column as a Series, so that only one column of the day is held.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


class ParquetColumns:
    """The columns of the Parquet file ``path``, read one at a time."""

    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.path = Path(path)
        file = pq.ParquetFile(self.path)
        self.names: list[str] = list(file.schema_arrow.names)
        self._rows = file.metadata.num_rows

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, name: str) -> pd.Series:
        from ztad.pipeline.workfiles import read_parquet_by_column

        if name not in self.names:
            raise KeyError(name)
        return read_parquet_by_column(self.path, [name])[name]
