"""Fields of decoded records as Arrow columns, taken out in C a level of nesting at a time.

An adapter names the fields it reads by attribute path ("client.ipAddress") into the msgspec
``Struct`` records decode into. :class:`RecordColumns` walks the records once per level of
nesting (``map`` with ``getattr``, no Python bytecode per record) and, at each level, takes
the text fields out together: one tuple per record, turned into an Arrow struct array by
pyarrow in C, which costs about half as much as one pass per field. Fields found to hold
anything but text (numbers, or a mixture) are taken one by one and typed by
:func:`~ztad.sources.frames.values_array`, and the walk remembers that for the next records.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter

import pyarrow as pa
from msgspec.structs import astuple

from ztad.sources.frames import values_array


@dataclass
class _Node:
    """One attribute of the record tree: the columns it feeds and its own attributes."""

    names: list[str] = field(default_factory=list)
    children: dict[str, "_Node"] = field(default_factory=dict)
    not_text: set[str] = field(default_factory=set)  # leaves seen holding other values


class RecordColumns:
    """Takes ``fields`` (column name -> attribute path) out of lists of decoded records.

    Columns named in ``raw`` are handed over as the plucked Python values (a list), for the
    caller to convert; the others as Arrow arrays. Missing levels give missing values.
    """

    def __init__(self, fields: Mapping[str, str], raw: Collection[str] = ()):
        self.raw = frozenset(raw)
        self.root = _Node()
        for name, path in fields.items():
            node = self.root
            for attribute in path.split("."):
                node = node.children.setdefault(attribute, _Node())
            node.names.append(name)

    def __call__(self, records: list) -> dict[str, pa.Array | list]:
        out: dict[str, pa.Array | list] = {}
        self._walk(records, self.root, out)
        return out

    def _walk(self, objects: list, node: _Node, out: dict) -> None:
        """Columns of ``node``'s attributes of ``objects`` (None where an object is missing)."""
        leaves = [a for a, child in node.children.items() if not child.children and not self._converted(child)]
        grouped = [a for a in leaves if a not in node.not_text]
        if len(grouped) < 2 or not self._texts_together(objects, node, grouped, out):
            grouped = []
        for attribute, child in node.children.items():
            if attribute in grouped:
                continue
            values = list(map(getattr, objects, repeat(attribute), repeat(None)))
            for name in child.names:
                out[name] = values if name in self.raw else values_array(values)
                if attribute in leaves and not _is_text(out[name]):
                    node.not_text.add(attribute)
            if child.children:
                self._walk(values, child, out)

    def _converted(self, node: _Node) -> bool:
        return any(name in self.raw for name in node.names)

    def _texts_together(self, objects: list, node: _Node, attributes: list[str], out: dict) -> bool:
        """Take the text ``attributes`` of ``objects`` in one pass; False if one is no text."""
        sample = next((o for o in objects if o is not None), None)
        if sample is None:
            return False
        getter = astuple if tuple(attributes) == type(sample).__struct_fields__ else attrgetter(*attributes)
        try:
            rows = list(map(getter, objects))
        except (AttributeError, TypeError):  # a missing level: its fields are missing
            try:
                empty = type(sample)()
            except TypeError:  # a type without defaults: no stand-in for missing objects
                return False
            rows = list(map(getter, [empty if o is None else o for o in objects]))
        try:
            table = pa.array(rows, type=pa.struct([(a, pa.string()) for a in attributes]))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            return False
        for index, attribute in enumerate(attributes):
            for name in node.children[attribute].names:
                out[name] = table.field(index)
        return True


def pluck_many(records: list, paths: Mapping[str, str]) -> dict[str, list]:
    """Values at each attribute path ("a.b.c") of every record; None where a level is None.

    ``map`` with ``getattr`` runs in C, so this costs no Python bytecode per record, and
    each shared prefix ("a.b") is walked only once.
    """
    walked: dict[str, list] = {"": records}

    def values_at(path: str) -> list:
        if path not in walked:
            parent, _, name = path.rpartition(".")
            walked[path] = list(map(getattr, values_at(parent), repeat(name), repeat(None)))
        return walked[path]

    return {name: values_at(path) for name, path in paths.items()}


def _is_text(values: pa.Array) -> bool:
    return pa.types.is_string(values.type) or values.type == pa.null()
