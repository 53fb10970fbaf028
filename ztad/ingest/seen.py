"""A day's events already seen, remembered by keys: exact duplicates and repeated ids told
batch by batch, without keeping the rows.

:func:`ztad.ingest.load_day` looks at a whole day at once: an event whose identity fields
(:data:`ztad.ingest.ids.IDENTITY_COLUMNS`) and id equal an earlier event's is a duplicate
(dropped, counted); an event whose id an earlier, different event already has is quarantined,
naming where the first one is. :class:`SeenEvents` gives the same answers for a day read in
batches, in file and row order, keeping for each distinct id kept so far only two 128-bit keys
and where it was first seen (44 bytes), and a small set for the rare repeated ids.

Keys
----
Id key
    An id of 32 lowercase hex digits (every id ztad derives, :func:`ids.derive_event_ids`) is
    its own 128 bits; any other id is hashed with keyed SipHash under the two keys of
    :mod:`ztad.ingest.ids` (128 bits). Two ids have one key only if they are equal (collisions
    are negligible, as for derived ids).
Content key
    :func:`ids.content_hashes` of the event: the 128 bits a derived id is written from, which
    the identity fields alone decide. Two events with one id are exact copies when their
    content keys are equal. An event whose id was derived needs no hashing: its content key is
    its id's bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ztad.ingest import ids
from ztad.ingest.validation import quarantine_frame

#: Hex digit (ASCII code) -> its value.
_NIBBLES = np.zeros(256, dtype=np.uint8)
_NIBBLES[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX_ID = r"^[0-9a-f]{32}$"
#: The prefilter's size: some 32 bits an id (about 3 % of new ids pass it and are then looked
#: up exactly), from 2**16 bits, doubled as ids come, up to 2**28 bits (32 MiB: 4 % pass at ten
#: million ids).
_BITS_PER_ID, _FEWEST_BITS, _MOST_BITS = 32, 16, 28
#: Runs of the id index merged at once (:class:`_SortedRuns`).
_FAN_IN = 4


def id_keys(event_ids: pd.Series, all_derived: bool = False) -> np.ndarray:
    """Id keys ``(n, 2)`` uint64 of ``event_ids`` (see the module notes); ``all_derived`` says
    every id was derived by ztad (no id column in the source), which skips the check."""
    if all_derived:
        return _hex_bits(event_ids)
    import pyarrow as pa
    import pyarrow.compute as pc

    hexed = pc.match_substring_regex(pa.array(event_ids.array), _HEX_ID).to_numpy(zero_copy_only=False)
    keys = np.empty((len(event_ids), 2), dtype=np.uint64)
    keys[hexed] = _hex_bits(event_ids[hexed])
    other = event_ids[~hexed].to_numpy(dtype=object)
    for half, key in enumerate(ids._KEYS):
        keys[~hexed, half] = pd.util.hash_array(other, hash_key=key, categorize=False)
    return keys


def content_keys(events: pd.DataFrame, keys: np.ndarray, all_derived: bool = False) -> np.ndarray:
    """Content keys ``(n, 2)`` uint64 of canonical ``events`` whose id keys are ``keys``."""
    return keys if all_derived else ids.content_hashes(events)


def _hex_bits(text: pd.Series) -> np.ndarray:
    """Ids of 32 hex digits as two big-endian 64-bit halves (as :func:`ids.hex_digests` wrote them)."""
    digits = _fixed_width_bytes(text, 32)
    nibbles = _NIBBLES[digits]
    octets = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return np.ascontiguousarray(octets).view(">u8").astype(np.uint64).reshape(len(text), 2)


def _fixed_width_bytes(text: pd.Series, width: int) -> np.ndarray:
    """The UTF-8 bytes of text values all ``width`` long, as an ``(n, width)`` array: read from
    the Arrow buffer where the values lie one after another, else joined."""
    import pyarrow as pa

    values = pa.array(text.array)
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
        _, offsets, data = values.buffers()
        ends = np.frombuffer(offsets, dtype=offset_type)[values.offset:values.offset + len(values) + 1]
        if not values.null_count and np.all(np.diff(ends) == width):
            return np.frombuffer(data, dtype=np.uint8)[ends[0]:ends[-1]].reshape(len(values), width)
    return np.frombuffer("".join(text.tolist()).encode("utf-8"), dtype=np.uint8).reshape(len(text), width)


@dataclass
class Verdict:
    """What a batch's events are, row by row.

    Attributes
    ----------
    duplicate
        Exact copies of an earlier event of the day (dropped, counted).
    repeated
        Events whose id an earlier, different event already has (quarantined).
    first_source, first_row
        For each repeated event, in order: the source number and row of the first event with
        its id.
    """

    duplicate: np.ndarray
    repeated: np.ndarray
    first_source: np.ndarray
    first_row: np.ndarray

    @property
    def kept(self) -> np.ndarray:
        return ~(self.duplicate | self.repeated)


class SeenEvents:
    """The ids and contents of the events a day kept so far, and where each id was first seen."""

    def __init__(self) -> None:
        self._firsts = _SortedRuns()
        self._others: set[tuple[int, int, int, int]] = set()  # (id, content) of repeated ids

    def sort_out(self, keys: np.ndarray, contents: np.ndarray, source: int, rows: np.ndarray) -> Verdict:
        """Tell a batch's events (the next in the day's order) apart, and remember them.

        ``keys`` and ``contents`` are the events' id and content keys, ``source`` the number of
        their file, ``rows`` their ``source_row``.
        """
        n = len(keys)
        rows = np.asarray(rows, dtype=np.int64)
        found, first = self._firsts.find(keys)
        same_first = found & (first["c0"] == contents[:, 0]) & (first["c1"] == contents[:, 1])
        shared = _sharing_first_half(keys)
        duplicate = same_first | (_first_rows(np.column_stack([keys, contents]), shared) != np.arange(n))
        duplicate |= self._other_content(found & ~same_first, keys, contents)
        kept = np.flatnonzero(~duplicate)
        first_in_batch = kept[_first_rows(keys[kept], shared[kept])]
        repeated = np.zeros(n, dtype=bool)
        repeated[kept] = found[kept] | (first_in_batch != kept)
        new = kept[~repeated[kept]]
        self._firsts.add(keys[new], contents[new], source, rows[new])
        if repeated.any():
            self._others.update(map(tuple, np.column_stack([keys[repeated], contents[repeated]]).tolist()))
        earlier = found[repeated]
        at = np.zeros(n, dtype=np.int64)
        at[kept] = first_in_batch
        first_source = np.where(earlier, first["source"][repeated], source).astype(np.int64)
        first_row = np.where(earlier, first["row"][repeated], rows[at[repeated]])
        return Verdict(duplicate, repeated, first_source, first_row)

    def _other_content(self, candidates: np.ndarray, keys: np.ndarray, contents: np.ndarray) -> np.ndarray:
        """Rows among ``candidates`` whose id and content equal those of an earlier repeated id."""
        copies = np.zeros(len(keys), dtype=bool)
        if not self._others or not candidates.any():
            return copies
        pairs = np.column_stack([keys, contents])[candidates].tolist()
        copies[candidates] = [tuple(pair) in self._others for pair in pairs]
        return copies


def _sharing_first_half(keys: np.ndarray) -> np.ndarray:
    """Rows whose id key's first half another row of the batch has too (nearly always none)."""
    order = np.argsort(keys[:, 0])
    ties = keys[order[1:], 0] == keys[order[:-1], 0]
    shared = np.zeros(len(keys), dtype=bool)
    shared[order[1:][ties]] = True
    shared[order[:-1][ties]] = True
    return shared


def _first_rows(keys: np.ndarray, shared: np.ndarray) -> np.ndarray:
    """For each row of ``keys`` (``(n, k)`` uint64), the position of the first row equal to it;
    only the rows ``shared`` (sharing the first column with another) can have an earlier one."""
    first = np.arange(len(keys))
    if not shared.any():
        return first
    rows = np.flatnonzero(shared)
    codes = np.zeros(len(rows), dtype=np.int64)
    for column in keys[rows].T:
        part, uniques = pd.factorize(column)
        codes, _ = pd.factorize(codes * len(uniques) + part)
    _, first_code = np.unique(codes, return_index=True)  # codes count from 0 in order of appearance
    first[rows] = rows[first_code[codes]]
    return first


def repeat_quarantine(events: pd.DataFrame, sources: Sequence[str], first_sources: Sequence[str],
                      first_rows: np.ndarray) -> pd.DataFrame:
    """Quarantine records for ``events`` whose id an earlier, different event already has.

    Two different events under one id cannot both be stored: each later one is quarantined,
    naming where the first is (``sources``: each event's file; ``first_*``: the first event's).
    """
    if not len(events):
        return quarantine_frame("", [], "", [], [])
    reasons = [
        f"event_id {event_id!r} repeated with other content (first at {where} row {row})"
        for event_id, where, row in zip(events["event_id"].tolist(), first_sources, first_rows.tolist())
    ]
    raw = events.drop(columns=["source_row"]).to_json(
        orient="records", lines=True, date_format="iso"
    ).rstrip("\n").split("\n")
    return quarantine_frame(list(sources), events["source_row"].to_numpy(), "event_id", reasons, raw)


# --------------------------------------------------------------------------- the index


class _SortedRuns:
    """Entries (id key, content key, source, row), one per distinct id, looked up by id key.

    The entries are kept batch by batch as they come (never moved); their numbers are found
    through runs sorted by the id key's first half: a new batch is a run, and every
    :data:`_FAN_IN` runs of one level are merged into one of the next, so an entry's number is
    moved about log4(ids / batch) times in all and a lookup searches a few runs. A bit set of
    the keys lets most new ids through without any search.
    """

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (first halves sorted, entry numbers: uint32)
        self.levels: list[int] = []  # how many merges made each run
        self.batches: list[_Entries] = []
        self.starts = np.zeros(1, dtype=np.int64)  # entry number of each batch's first entry, then the count
        self.width = _FEWEST_BITS  # the prefilter has 2**width bits
        self.bits = np.zeros(1 << (self.width - 3), dtype=np.uint8)

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Which rows' id keys are held, and for each row the held entry's content key
        (``c0``, ``c1``), ``source`` and ``row`` (zeros where none)."""
        n = len(keys)
        found = np.zeros(n, dtype=bool)
        entry = np.zeros(n, dtype=np.int64)
        maybe = np.flatnonzero(self._maybe(keys[:, 0])) if self.runs else np.zeros(0, dtype=np.int64)
        maybe = maybe[np.argsort(keys[maybe, 0])]  # sorted queries search faster
        for lo, numbers in self.runs:
            at = np.searchsorted(lo, keys[maybe, 0])
            hit = np.zeros(len(maybe), dtype=bool)
            inside = at < len(lo)
            hit[inside] = lo[at[inside]] == keys[maybe[inside], 0]
            same_half = np.flatnonzero(hit)
            other = same_half[self._fields(numbers[at[same_half]], keys[maybe[same_half]])["hi"]
                              != keys[maybe[same_half], 1]]
            for i in other:  # first halves collide: look further along
                hit[i], at[i] = self._further(lo, numbers, keys[maybe[i]], at[i])
            found[maybe[hit]] = True
            entry[maybe[hit]] = numbers[at[hit]]
        fields = {name: np.zeros(n, dtype=np.uint64) for name in ("c0", "c1")}
        fields |= {name: np.zeros(n, dtype=np.int64) for name in ("source", "row")}
        for name, values in self._fields(entry[found], keys[found]).items():
            if name in fields:
                fields[name][found] = values
        return found, fields

    def _further(self, lo: np.ndarray, numbers: np.ndarray, key: np.ndarray, at: int) -> tuple[bool, int]:
        """The entry with ``key`` among those from ``at`` on sharing its first half (only a
        collision of first halves has several; a search that missed has none)."""
        while at < len(lo) and lo[at] == key[0]:
            if self._fields(numbers[at:at + 1], key[None, :])["hi"][0] == key[1]:
                return True, at
            at += 1
        return False, at

    def _fields(self, numbers: np.ndarray, keys: np.ndarray) -> dict[str, np.ndarray]:
        """``hi``, ``c0``, ``c1``, ``source`` and ``row`` of the entries ``numbers``, gathered
        from their batches; ``keys`` are the id keys they are looked up for (an entry whose
        content key is its id key does not keep it)."""
        out = {name: np.zeros(len(numbers), dtype=np.uint64) for name in ("hi", "c0", "c1")}
        out |= {name: np.zeros(len(numbers), dtype=np.int64) for name in ("source", "row")}
        batch = np.searchsorted(self.starts, numbers, side="right") - 1
        for b in np.unique(batch):
            mine = np.flatnonzero(batch == b)
            held, at = self.batches[b], numbers[mine] - self.starts[b]
            out["hi"][mine], out["row"][mine], out["source"][mine] = held.hi[at], held.row[at], held.source
            contents = keys[mine] if held.contents is None else held.contents[at]
            out["c0"][mine], out["c1"][mine] = contents[:, 0], contents[:, 1]
        return out

    def add(self, keys: np.ndarray, contents: np.ndarray, source: int, rows: np.ndarray) -> None:
        """Hold new ids (none of them held yet) with their content keys, source and rows."""
        if not len(keys):
            return
        first = int(self.starts[-1])
        self.batches.append(_Entries.of(keys, contents, source, rows))
        self.starts = np.append(self.starts, first + len(keys))
        order = np.argsort(keys[:, 0])
        self._widen(int(self.starts[-1]))
        self._mark(keys[:, 0])
        if self.starts[-1] > np.iinfo(np.uint32).max:
            raise OverflowError("more than 2**32 distinct event ids in one day")
        self.runs.append((keys[order, 0], (first + order).astype(np.uint32)))
        self.levels.append(0)
        while len(self.levels) >= _FAN_IN and len(set(self.levels[-_FAN_IN:])) == 1:
            level = self.levels[-1] + 1
            taken = self.runs[-_FAN_IN:]
            del self.runs[-_FAN_IN:], self.levels[-_FAN_IN:]
            self.runs.append(_merged(taken))
            self.levels.append(level)

    def _slots(self, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slot = lo >> np.uint64(64 - self.width)
        return (slot >> np.uint64(3)).astype(np.int64), np.left_shift(1, (slot & np.uint64(7)).astype(np.uint8))

    def _widen(self, ids: int) -> None:
        """A larger prefilter, marked again from the runs, once ``ids`` outgrow it."""
        width = self.width
        while width < _MOST_BITS and ids * _BITS_PER_ID > 1 << width:
            width += 1
        if width == self.width:
            return
        self.width, self.bits = width, np.zeros(1 << (width - 3), dtype=np.uint8)
        for lo, _ in self.runs:
            self._mark(lo)

    def _mark(self, lo: np.ndarray) -> None:
        octet, bit = self._slots(lo)
        for value in np.unique(bit):  # each write of one bit gives the same byte: repeats do no harm
            at = octet[bit == value]
            self.bits[at] |= np.uint8(value)

    def _maybe(self, lo: np.ndarray) -> np.ndarray:
        octet, bit = self._slots(lo)
        return (self.bits[octet] & bit.astype(np.uint8)) != 0


@dataclass
class _Entries:
    """One batch's new ids as held: second halves of their keys, content keys (``None`` when
    each equals the id key, as for derived ids), their rows and their file's number."""

    hi: np.ndarray
    contents: np.ndarray | None
    row: np.ndarray
    source: int

    @classmethod
    def of(cls, keys: np.ndarray, contents: np.ndarray, source: int, rows: np.ndarray) -> _Entries:
        own = None if np.array_equal(keys, contents) else contents.copy()
        small = len(rows) and rows.min() >= 0 and rows.max() < np.iinfo(np.int32).max
        return cls(keys[:, 1].copy(), own, rows.astype(np.int32 if small else np.int64), source)


def _merged(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Runs (handed over: the list is emptied) as one, sorted by first half; each array is
    let go as soon as it is copied, so that a large merge holds little twice."""
    lo = np.concatenate([run[0] for run in runs])
    numbers = np.concatenate([run[1] for run in runs])
    runs.clear()
    order = np.argsort(lo)
    lo = lo[order]
    numbers = numbers[order]
    return lo, numbers
