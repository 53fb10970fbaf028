"""Auth events in, with nothing lost: find, read, validate and account for a day's log rows.

Layouts and accounting are described in :mod:`ztad.ingest.files` (a whole day at once) and
:mod:`ztad.ingest.day_files` (a day written to files batch by batch), the builtin readers in
:mod:`ztad.ingest.readers` and the vendor formats in :mod:`ztad.ingest.formats`; the
validation rules in :mod:`ztad.ingest.validation`. Event ids are :mod:`ztad.ingest.ids`;
places come from :mod:`ztad.ingest.gazetteer` (place names) and :mod:`ztad.ingest.geoip`
(addresses). This package imports only :mod:`ztad.schema` and :mod:`ztad.config` above
the standard library and the data libraries.

>>> from datetime import date
>>> from ztad.config import SourceConfig
>>> result = load_day(SourceConfig(root="logs/"), date(2024, 3, 1))  # doctest: +SKIP
>>> result.accounted()  # rows read = scored + quarantined + duplicates + skipped  # doctest: +SKIP
True
"""

from ztad.ingest.day_files import write_day_files
from ztad.ingest.files import (
    ColumnMappingError,
    LoadResult,
    MissingPartitionError,
    SourceNotFoundError,
    available_days,
    load_day,
    load_range,
    partition_size,
)
from ztad.ingest.readers import (
    QUARANTINE_COLUMNS,
    RawBatch,
    SourceReadError,
    UnknownFormatError,
    UnreadableFileError,
    get_reader,
)
from ztad.ingest.validation import MissingColumnError

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
    "UnreadableFileError",
    "available_days",
    "get_reader",
    "load_day",
    "load_range",
    "partition_size",
    "write_day_files",
]
