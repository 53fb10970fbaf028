"""Fields of decoded records as Arrow columns, taken out in C a level of nesting at a time.

An adapter names the fields it reads by attribute path ("client.ipAddress") into the msgspec
``Struct`` records decode into. :class:`RecordColumns` walks the records once per level of
nesting and takes all the attributes it needs at that level in one pass (``astuple`` when it
needs every field of the ``Struct``, else ``attrgetter``), then turns the rows into one
sequence per attribute with ``zip``: all in C, no Python bytecode per record, and a third of
the cost of one ``getattr`` pass per attribute. Leaf fields are converted as text (Arrow
checks every value is a string); a field found to hold anything else (numbers, or a
mixture) is typed by :func:`~ztad.sources.frames.values_array`, and the walk remembers that
for the next records.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter

import pyarrow as pa
from msgspec.structs import astuple

from ztad.sources.frames import values_array

_TEXT = pa.string()


@dataclass
class _Node:
    """One attribute of the record tree: the columns it feeds and its own attributes."""

    names: list[str] = field(default_factory=list)
    children: dict[str, "_Node"] = field(default_factory=dict)
    not_text: bool = False  # a leaf seen holding other values than text


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

    def _walk(self, objects, node: _Node, out: dict) -> None:
        """Columns of ``node``'s attributes of ``objects`` (None where an object is missing)."""
        attributes = list(node.children)
        for attribute, values in zip(attributes, _attribute_values(objects, attributes)):
            child = node.children[attribute]
            for name in child.names:
                out[name] = list(values) if name in self.raw else self._column(values, child)
            if child.children:
                self._walk(values, child, out)

    @staticmethod
    def _column(values, child: _Node) -> pa.Array:
        """A leaf's values as text, or typed by what they hold once they proved not all text."""
        if child.children or child.not_text:
            return values_array(values)
        try:
            return pa.array(values, type=_TEXT)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            child.not_text = True
            return values_array(values)


def _attribute_values(objects, attributes: list[str]) -> list:
    """One sequence per attribute: its value in each object (None where an object is None)."""
    if len(attributes) == 1:
        return [list(map(getattr, objects, repeat(attributes[0]), repeat(None)))]
    sample = next((o for o in objects if o is not None), None)
    if sample is None:
        return [[None] * len(objects)] * len(attributes)
    whole = tuple(attributes) == getattr(type(sample), "__struct_fields__", None)
    getter = astuple if whole else attrgetter(*attributes)
    try:
        rows = list(map(getter, objects))
    except (AttributeError, TypeError):  # a missing level: its fields are missing
        try:
            empty = type(sample)()
        except TypeError:  # a type without defaults: one attribute at a time
            return [list(map(getattr, objects, repeat(a), repeat(None))) for a in attributes]
        rows = list(map(getter, [empty if o is None else o for o in objects]))
    return list(zip(*rows))


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
