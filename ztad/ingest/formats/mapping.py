"""Generic CSV or JSON Lines logs described by a column-mapping file.

Format ``mapping`` reads any CSV or JSON Lines file whose columns a small mapping file
describes (YAML or JSON)::

    format: csv                      # or jsonl (also a JSON array); default: from the name
    columns:                         # ztad input column -> source column (dotted path in JSON)
      timestamp: EventTime
      user_id: user.name
      ip_address: src_ip
      login_success: result
      resource_accessed: app
    timestamp_format: "%d/%m/%Y %H:%M:%S"   # strftime format; default ISO 8601
    timezone: Europe/Madrid          # zone of timestamps that carry no offset; default UTC
    success_values: [success, ok]    # login_success values meaning success, any case;
                                     # every other value is a failure
    failure_values: [failure, denied]   # optional: then a value in neither list is quarantined
    constants: {resource_accessed: vpn}   # fixed values for columns the source lacks
    delimiter: ","                   # CSV only

The source option ``mapping`` is the path (or fsspec URL) of that file, or the mapping itself
as a dict.

JSON Lines are streamed like the vendor formats (:mod:`ztad.ingest.streaming.json_stream`) and CSV
by the builtin CSV reader, so a large file is never held in memory at once: each block of
about ``chunk_bytes`` bytes (option, default 16 MiB) becomes one
:class:`~ztad.ingest.readers.RawBatch`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from ztad.ingest.options import SourceOptionError, chunk_bytes, option_timezone
from ztad.ingest.readers import RawBatch, open_binary
from ztad.ingest.streaming.json_stream import iter_json_records
from ztad.ingest.streaming.output import (
    batch,
    concat_quarantine,
    localize,
    parse_times,
    quarantine_records,
    text_column,
)
from ztad.schema import OPTIONAL_INPUT_COLUMNS, REQUIRED_INPUT_COLUMNS

__all__ = ["MappingError", "MappingSpec", "SourceOptionError", "load_mapping", "read"]


class MappingError(ValueError):
    """The mapping file is unusable (unknown column, missing source column, bad format)."""


INPUT_COLUMNS = tuple(REQUIRED_INPUT_COLUMNS) + tuple(OPTIONAL_INPUT_COLUMNS)


@dataclass(frozen=True)
class MappingSpec:
    """A parsed mapping file: how a CSV or JSON Lines file becomes ztad input columns."""

    format: str | None
    columns: dict[str, str]
    timestamp_format: str | None = None
    timezone: str = "UTC"
    success_values: tuple[str, ...] | None = None
    failure_values: tuple[str, ...] | None = None
    constants: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","


def load_mapping(spec: str | Mapping[str, Any]) -> MappingSpec:
    """Read and check a mapping (a YAML/JSON file path or URL, or the mapping as a dict)."""
    if isinstance(spec, Mapping):
        data, where = dict(spec), "mapping"
    else:
        data, where = _read_mapping_file(str(spec)), str(spec)
    if not isinstance(data, Mapping) or not isinstance(data.get("columns"), Mapping):
        raise MappingError(f"{where}: a mapping needs a 'columns' table of ztad column -> source column")
    columns = {str(k): str(v) for k, v in data["columns"].items()}
    constants = {str(k): str(v) for k, v in (data.get("constants") or {}).items()}
    unknown = sorted(set(columns) - set(INPUT_COLUMNS) | set(constants) - set(INPUT_COLUMNS))
    if unknown:
        raise MappingError(f"{where}: unknown ztad column(s) {unknown}; known: {list(INPUT_COLUMNS)}")
    missing = [c for c in REQUIRED_INPUT_COLUMNS if c not in columns and c not in constants]
    if missing:
        raise MappingError(f"{where}: required column(s) {missing} are not mapped")
    fmt = data.get("format")
    if fmt is not None and str(fmt).lower() not in {"csv", "jsonl"}:
        raise MappingError(f"{where}: format must be csv or jsonl, not {fmt!r}")
    timezone = option_timezone({"timezone": data.get("timezone") or "UTC"})
    return MappingSpec(
        format=str(fmt).lower() if fmt else None,
        columns=columns,
        timestamp_format=data.get("timestamp_format") or None,
        timezone=timezone,
        success_values=_lowered(data.get("success_values")),
        failure_values=_lowered(data.get("failure_values")),
        constants=constants,
        delimiter=str(data.get("delimiter") or ","),
    )


def _read_mapping_file(path: str):
    with open_binary(path) as stream:
        text = stream.read().decode("utf-8")
    try:
        if path.lower().endswith(".json"):
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except (ValueError, ImportError) as error:
        raise MappingError(f"{path}: cannot read the mapping file: {error}") from None


def _lowered(values) -> tuple[str, ...] | None:
    if values is None:
        return None
    if not isinstance(values, (list, tuple)):
        values = [values]
    return tuple(str(v).strip().lower() for v in values)


def read(path: str, options: dict) -> Iterator[RawBatch]:
    """Read a CSV or JSON Lines file through the mapping named by option ``mapping``.

    Yields one :class:`RawBatch` per block of about ``chunk_bytes`` bytes. Rows whose
    timestamp cannot be parsed with the mapping's format, or whose ``login_success`` is in
    neither value list (when both are given), are quarantined with their line number.
    """
    if not options.get("mapping"):
        raise SourceOptionError("format 'mapping' needs option 'mapping': the path of a mapping file")
    spec = load_mapping(options["mapping"])
    fmt = spec.format or _format_from_name(path)
    tables = _csv_tables(path, spec, options) if fmt == "csv" else _jsonl_tables(path, spec, options)
    for table, rows, raw_at, quarantine in tables:
        frame, bad = _apply_mapping(table, rows, raw_at, spec, path)
        yield batch(frame, concat_quarantine([quarantine, bad]))


def _format_from_name(path: str) -> str:
    suffixes = [s.lower() for s in PurePosixPath(path.split("?")[0]).suffixes]
    if ".csv" in suffixes or ".tsv" in suffixes:
        return "csv"
    if {".jsonl", ".ndjson", ".json"} & set(suffixes):
        return "jsonl"
    raise MappingError(f"{path}: cannot tell csv from jsonl by the name; set 'format' in the mapping")


def _csv_tables(path: str, spec: MappingSpec, options):
    """Yield (source columns, line numbers, None, quarantine) per batch of a CSV file.

    The builtin CSV reader does the splitting, so line numbers and quoting follow the same
    rules as format ``csv``.
    """
    from ztad.ingest.readers import read_csv

    csv_options = {"delimiter": spec.delimiter, "chunk_bytes": chunk_bytes(options)}
    for raw_batch in read_csv(path, csv_options):
        table = raw_batch.frame
        missing = sorted(set(spec.columns.values()) - set(table.columns))
        if missing:
            raise MappingError(
                f"{path}: column(s) {missing} named in the mapping are not in the file; "
                f"its columns are {[c for c in table.columns if c != 'source_row']}"
            )
        rows = table.pop("source_row").to_numpy(dtype=np.int64)
        yield table, rows, None, raw_batch.quarantine


def _jsonl_tables(path: str, spec: MappingSpec, options):
    """Yield (columns frame, line numbers, raw text getter, quarantine) per block of JSON Lines."""
    record_type, attribute_paths = _struct_for_paths(sorted(set(spec.columns.values())))
    for chunk in iter_json_records(path, record_type, options, attribute_paths):
        table = pd.DataFrame({source: text_column(column) for source, column in chunk.columns.items()})
        yield table, chunk.rows, chunk.raw_at, chunk.quarantine


def _struct_for_paths(paths: list[str]) -> tuple[type, dict[str, str]]:
    """Build a msgspec Struct type that decodes only the given dotted JSON paths.

    Returns the type and, for each path, the attribute path to pluck. Keys become generated
    attribute names (``f0``, ``f1``...) renamed to the JSON key, so any key text works.
    """
    tree: dict = {}
    for path in paths:
        node = tree
        for key in path.split("."):
            node = node.setdefault(key, {})
    counter = iter(range(1_000_000))
    attribute_paths: dict[str, str] = {}

    def build(node: dict, prefix_keys: list[str], prefix_attrs: list[str]) -> type:
        fields, rename = [], {}
        for key, child in node.items():
            attr = f"f{next(counter)}"
            rename[attr] = key
            if child:
                fields.append((attr, build(child, prefix_keys + [key], prefix_attrs + [attr]) | None, None))
            else:
                fields.append((attr, Any, None))
                attribute_paths[".".join(prefix_keys + [key])] = ".".join(prefix_attrs + [attr])
        return msgspec.defstruct(f"Record{next(counter)}", fields, rename=rename, gc=False)

    return build(tree, [], []), attribute_paths


def _apply_mapping(table: pd.DataFrame, rows: np.ndarray, raw_at, spec: MappingSpec, source: str):
    """Turn source columns into ztad input columns; return (frame, quarantine)."""
    frame = pd.DataFrame({c: table[s] for c, s in spec.columns.items()}, index=table.index)
    for column, value in spec.constants.items():
        frame[column] = pd.Series(value, index=table.index, dtype="string")
    field_name = pd.Series(pd.NA, index=table.index, dtype="string")
    reason = pd.Series(pd.NA, index=table.index, dtype="string")
    if "timestamp" in spec.columns:
        text = frame["timestamp"]
        frame["timestamp"] = _mapped_times(text, spec)
        bad = (frame["timestamp"].isna() & text.notna()).to_numpy()
        field_name[bad] = "timestamp"
        reason[bad] = "unparseable timestamp " + text[bad].map(repr)
    if spec.success_values is not None and "login_success" in spec.columns:
        text = frame["login_success"]
        frame["login_success"], unknown = _mapped_success(text, spec)
        bad = (unknown & field_name.isna()).to_numpy()
        field_name[bad] = "login_success"
        reason[bad] = text[bad].map(repr) + " is neither a success nor a failure value"
    frame["source_row"] = rows
    bad = field_name.notna().to_numpy()
    quarantine = quarantine_records(
        source, rows[bad], field_name[bad], reason[bad], _raw_rows(table, raw_at, bad), raw_is_json=True
    )
    return frame[~bad], quarantine


def _raw_rows(table: pd.DataFrame, raw_at, bad: np.ndarray) -> list:
    """Original text of the bad rows: the JSON line, or the CSV row's fields as JSON."""
    if raw_at is not None:
        return raw_at(np.flatnonzero(bad))
    return [json.dumps(row) for row in table[bad].to_dict("records")]


def _mapped_times(text: pd.Series, spec: MappingSpec) -> pd.Series:
    """Timestamps in UTC; with a format carrying no zone, local to the mapping's zone."""
    fmt = spec.timestamp_format
    if not fmt:
        return parse_times(text, spec.timezone)
    if "%z" in fmt or "%Z" in fmt:
        return pd.to_datetime(text, format=fmt, utc=True, errors="coerce").astype("datetime64[us, UTC]")
    naive = pd.to_datetime(text, format=fmt, errors="coerce")
    return localize(naive, spec.timezone).astype("datetime64[us, UTC]")


def _mapped_success(text: pd.Series, spec: MappingSpec) -> tuple[pd.Series, pd.Series]:
    """Success flags from the value lists, and a mask of values in neither list."""
    value = text.str.strip().str.lower()
    success = value.isin(spec.success_values).fillna(False).astype(bool)
    if spec.failure_values is None:
        return success, pd.Series(False, index=text.index)
    failure = value.isin(spec.failure_values).fillna(False).astype(bool)
    return success, ~(success | failure)
