"""Auth events in, with nothing lost: find, read, validate and account for a day's log rows.

Layouts, formats and accounting are described in :mod:`ztad.sources.files` and
:mod:`ztad.sources.readers`; the validation rules in :mod:`ztad.validation`.

>>> from datetime import date
>>> from ztad.config import SourceConfig
>>> result = load_day(SourceConfig(root="logs/"), date(2024, 3, 1))  # doctest: +SKIP
>>> result.rows_read == len(result.events) + len(result.quarantine) + result.duplicates  # doctest: +SKIP
True
"""

from ztad.sources.files import (
    ColumnMappingError,
    LoadResult,
    MissingPartitionError,
    SourceNotFoundError,
    available_days,
    load_day,
    load_range,
)
from ztad.sources.readers import (
    QUARANTINE_COLUMNS,
    RawBatch,
    SourceReadError,
    UnknownFormatError,
    get_reader,
)
from ztad.validation import MissingColumnError

__all__ = [
    "QUARANTINE_COLUMNS",
    "ColumnMappingError",
    "LoadResult",
    "MissingColumnError",
    "MissingPartitionError",
    "RawBatch",
    "SourceNotFoundError",
    "SourceReadError",
    "UnknownFormatError",
    "available_days",
    "get_reader",
    "load_day",
    "load_range",
]
