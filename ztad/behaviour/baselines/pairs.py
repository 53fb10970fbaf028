"""Combined (user, item) statistics over the window: who used which device, address, place or
resource, on how many days, and how much."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import codes_in, reduce_groups

#: Up to this many needles, :func:`sorted_positions` searches them unsorted.
_FEW_NEEDLES = 64


def sorted_positions(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``np.searchsorted(keys, wanted)``, searching each distinct wanted key once and in
    ascending order: a day's events repeat their pairs, and sorted needles walk the keys
    forward instead of jumping across memory for every event. The distinct keys are found by
    hashing and only they are sorted, not every event's. A few needles are searched as they
    are: sorting them costs more than the search."""
    if len(wanted) <= _FEW_NEEDLES:
        return np.searchsorted(keys, wanted)
    position, distinct = pd.factorize(wanted)
    order = np.argsort(distinct)
    found = np.empty(len(distinct), dtype=np.intp)
    found[order] = np.searchsorted(keys, distinct[order])
    return found[position]


@dataclass(frozen=True)
class PairStats:
    """Counts per (owner, item) pair, e.g. user × IP, found by integer codes.

    ``owner`` is a user or a peer group (its code in the state), ``item`` a position in
    ``items``. ``values`` is row-aligned with the sorted composite ``keys``.
    """

    items: pd.Index
    keys: np.ndarray
    values: pd.DataFrame

    def item_codes(self, values: pd.Series) -> np.ndarray:
        """Code of each item value (-1 when the baseline never saw it)."""
        return codes_in(self.items, values)

    def find(self, owner_codes: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
        """Row of each (owner, item) pair in ``values``; -1 when the pair was never seen."""
        owner_codes = np.asarray(owner_codes, dtype="int64")
        item_codes = np.asarray(item_codes, dtype="int64")
        valid = (owner_codes >= 0) & (item_codes >= 0)
        wanted = np.where(valid, owner_codes * max(len(self.items), 1) + item_codes, -1)
        pos = sorted_positions(self.keys, wanted)
        pos_clipped = np.minimum(pos, max(len(self.keys) - 1, 0))
        found = valid & (len(self.keys) > 0)
        if len(self.keys):
            found &= self.keys[pos_clipped] == wanted
        return np.where(found, pos_clipped, -1)

    def get(self, column: str, rows: np.ndarray, default: float = 0.0) -> np.ndarray:
        """Column values at ``rows`` from :meth:`find`, ``default`` where absent.

        The rows are read first and converted to float64 after: an integer column (``days``)
        of a large window is not converted whole for a batch that reads a few of its rows.
        """
        values = self._column(column)
        if len(values) == 0:
            return np.full(len(rows), default, dtype="float64")
        return np.where(rows >= 0, values[np.maximum(rows, 0)].astype("float64"), default)

    def _column(self, column: str) -> np.ndarray:
        """A column of ``values`` as its array, read out of the frame once: the state is
        never changed once built, and the scoring service reads it for every request."""
        read = self.__dict__.setdefault("_read", {})
        if column not in read:
            read[column] = self.values[column].to_numpy()
        return read[column]

    def owners(self) -> np.ndarray:
        """Owner code of each row."""
        return self.keys // max(len(self.items), 1)

    def item_of(self) -> np.ndarray:
        """Item code of each row."""
        return self.keys % max(len(self.items), 1)


def pair_stats(
    owner_codes: np.ndarray,
    item_codes: np.ndarray,
    items: pd.Index,
    sums: dict[str, np.ndarray],
    maxes: dict[str, np.ndarray] | None = None,
    rows_as: str = "rows",
) -> PairStats:
    """Reduce rows of (owner, item) codes to one row per pair seen: ``sums`` summed, ``maxes``
    at their maximum, and the rows per pair as ``rows_as``. Rows with an owner or item
    code of -1 are left out."""
    keep = (owner_codes >= 0) & (item_codes >= 0)
    # Every row kept (the usual case): the columns need no copy without the others.
    kept = slice(None) if keep.all() else keep
    keys = owner_codes[kept].astype("int64") * max(len(items), 1) + item_codes[kept]
    unique_keys, reduced = reduce_groups(
        keys,
        sums={k: v[kept] for k, v in sums.items()},
        maxes={k: v[kept] for k, v in (maxes or {}).items()},
    )
    reduced[rows_as] = reduced.pop("rows")
    return PairStats(items, unique_keys, pd.DataFrame(reduced))
