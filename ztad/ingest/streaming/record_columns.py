"""Fields of decoded records as Arrow columns, taken out in C a level of nesting at a time.

An adapter names the fields it reads by attribute path ("client.ipAddress") into the msgspec
``Struct`` records decode into. :class:`RecordColumns` walks the records once per level of
nesting and takes all the attributes it needs at that level in one pass (``astuple`` when it
needs every field of the ``Struct``, else ``attrgetter``), then turns the rows into one
sequence per attribute with ``zip``: all in C, no Python bytecode per record, and at a
level of many attributes a third of the cost of one ``getattr`` pass per attribute. Leaf fields are converted as text (Arrow
checks every value is a string); a field found to hold anything else (numbers, or a
mixture) is typed by :func:`~ztad.ingest.streaming.output.values_array`, and the walk remembers that
for the next records.
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter

import pyarrow as pa
from msgspec.structs import astuple

from ztad.ingest.streaming.output import values_array

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
        with collector_paused():
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


@contextmanager
def collector_paused():
    """Pause Python's cycle collector while records are decoded and walked.

    Decoding and walking make containers by the thousand (a tuple per record and level,
    decoded lists), which can hold no cycle but would start a collection every few hundred
    records, each scanning every container still alive (such as the decoded lists of a
    whole block): that costs more than the walk itself. The collector runs again after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _attribute_values(objects, attributes: list[str]) -> list:
    """One sequence per attribute: its value in each object (None where an object is None).

    Objects of one type are taken a row at a time (missing ones stand in as an empty
    object, whose fields are missing); anything else one attribute at a time, which works
    for objects of any kind.
    """
    if len(attributes) == 1:
        return [list(map(getattr, objects, repeat(attributes[0]), repeat(None)))]
    types = set(map(type, objects))
    missing = type(None) in types
    types.discard(type(None))
    if len(types) != 1:
        return [list(map(getattr, objects, repeat(a), repeat(None))) for a in attributes]
    kind = types.pop()
    fields = getattr(kind, "__struct_fields__", None)
    whole = fields is not None and len(fields) == len(attributes) and set(fields) == set(attributes)
    if missing:
        try:
            empty = kind()
        except TypeError:  # a type without defaults: no stand-in for missing objects
            return [list(map(getattr, objects, repeat(a), repeat(None))) for a in attributes]
        objects = [empty if o is None else o for o in objects]
    columns = list(zip(*list(map(astuple if whole else attrgetter(*attributes), objects))))
    if whole and tuple(attributes) != fields:
        position = {name: index for index, name in enumerate(fields)}
        columns = [columns[position[a]] for a in attributes]
    return columns
