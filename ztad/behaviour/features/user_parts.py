"""A large day's features computed a part of its users at a time, with the same result.

Every feature depends on the event's own user, that user's events of the day and the baseline,
except the counts across users (:mod:`ztad.behaviour.features.cross_user`), which are counted
once over the whole day and handed to each part. The families' working arrays (codes, lookups,
coordinates, trips, per-family features) then exist for one part of the day at a time, not for
all of it: a million-event day's features would otherwise hold them all at once beside the
baseline and the events.

The day's events are cut into their parts first, column by column; the cross-user counts are
worked out from narrow inputs taken a part at a time (:func:`signals_of_parts`), and each
part's events are released as soon as its features are computed. The features are
filled part after part into contiguous rows, so the pages of the day's columns are touched as
the parts' events are released rather than all at once: the step holds about the larger of
the day's events and its features, not their sum. The columns are put back in the day's event
order at the end, one column at a time, so the frame has exactly the values and order the
whole day would give.

A day too large to hold its features whole is instead put in part order once
(:func:`part_order`: the users grouped by part, the day's order kept within each part) and
its features are taken part after part (:func:`features_by_part`), each part's events read
when they are needed, and written as they come: nothing then holds the day's events, their
context or their feature table. Every feature of an event is the same whatever
the order of the day's rows (the cross-user counts look at times and values, not positions),
so only the rows' order differs from the day computed in one go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa

from ztad.behaviour.baselines import BaselineState
from ztad.behaviour.features.cross_user import signals_of_parts
from ztad.config import DetectionConfig, FeatureSettings

#: Events per part: large enough that the array work stays vectorised, small enough that
#: one part's working set is a fraction of a large day's.
PART_EVENTS = 100_000
#: A day of up to this many parts is computed in one go: the whole day's cross-user pass that
#: parts need would cost a small day more than splitting it saves.
ONE_GO_PARTS = 2


def user_parts(user_ids: pd.Series, part_events: int) -> np.ndarray:
    """Part number of each event: users in order of first appearance, cut into runs holding
    about ``part_events`` events each; every event of a user is in the same part."""
    codes, _ = pd.factorize(pd.Series(user_ids).astype("string"))
    per_user = np.bincount(codes)
    before = np.cumsum(per_user) - per_user
    return (before // max(1, part_events))[codes]


class _DayColumns:
    """The day's feature columns, filled part by part at the parts' rows (a slice of rows
    when the parts are in order).

    The model inputs are one float64 block (as :func:`compute_features` returns them, a
    column per row of the block). A categorical context column is gathered as codes into
    the union of the parts' categories (their values and dtype kept; each part knows only its
    own places, sources and labels).
    """

    def __init__(self, first: pd.DataFrame, rows: int):
        from ztad.behaviour.features import FEATURE_NAMES

        self.model = list(FEATURE_NAMES)
        self.block = np.empty((len(self.model), rows), dtype="float64")
        self.others: dict[str, np.ndarray] = {}
        self.categories: dict[str, pd.Index] = {}
        for name in list(first.columns)[len(self.model):]:
            if isinstance(first[name].dtype, pd.CategoricalDtype):
                self.categories[name] = first[name].cat.categories[:0]
                self.others[name] = np.empty(rows, dtype="int32")
            else:
                self.others[name] = np.empty(rows, dtype=first[name].dtype)

    def fill(self, rows: np.ndarray | slice, part: pd.DataFrame) -> None:
        for position, name in enumerate(self.model):
            self.block[position, rows] = part[name].to_numpy()
        for name, values in self.others.items():
            if name in self.categories:
                values[rows] = self._day_codes(name, part[name])
            else:
                values[rows] = part[name].to_numpy()

    def _day_codes(self, name: str, column: pd.Series) -> np.ndarray:
        """The part's codes of a categorical column, as codes into the day's categories."""
        known, own = self.categories[name], column.cat.categories
        self.categories[name] = known = known.append(own.difference(known, sort=False))
        day_code = np.append(known.get_indexer(own), -1)  # a missing value (code -1) stays one
        return day_code[column.cat.codes.to_numpy()]

    def put_in_order(self, positions: np.ndarray) -> None:
        """Move every row to its place in the day: row ``i`` goes to ``positions[i]``. One
        column at a time, so that only one column's copy exists at once."""
        for values in (*self.block, *self.others.values()):
            values[positions] = values.copy()

    def frame(self, index: pd.Index) -> pd.DataFrame:
        out = pd.DataFrame(self.block.T, columns=self.model, copy=False)
        for name in list(self.others):
            values = self.others.pop(name)
            if name in self.categories:
                values = pd.Categorical.from_codes(values, categories=self.categories[name])
            out[name] = values
        out.index = index
        return out


def in_one_go(rows: int, part_events: int | None = None) -> bool:
    """Whether a day of ``rows`` events is computed in one go: up to :data:`ONE_GO_PARTS`
    parts of ``part_events`` (default :data:`PART_EVENTS`)."""
    return rows <= ONE_GO_PARTS * (part_events or PART_EVENTS)


def part_order(user_ids: pd.Series, part_events: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The day's rows part by part (:func:`user_parts`), the day's order kept within each part,
    and where each part begins in that order (``bounds[k]:bounds[k + 1]`` is part ``k``)."""
    parts = user_parts(user_ids, part_events or PART_EVENTS)
    order = np.argsort(parts, kind="stable")
    last = int(parts.max()) if len(parts) else -1
    return order, np.searchsorted(parts[order], np.arange(last + 2))


def features_by_part(
    read: Callable[[int, int], pd.DataFrame],
    bounds: np.ndarray,
    baseline: BaselineState,
    config: DetectionConfig,
    settings: FeatureSettings | None,
    signals: pd.DataFrame | None = None,
) -> Iterator[pd.DataFrame]:
    """Each part's :func:`ztad.behaviour.features.compute_features` in turn (indexed from 0),
    the day's cross-user counts handed to every part.

    ``read(begin, end)`` gives the day's events ``begin:end`` (in part order: part ``k`` is
    ``bounds[k]:bounds[k + 1]``), indexed from 0, and is called twice for each part: once for
    the narrow inputs of the cross-user counts (:func:`signals_by_part`), once for its
    features. Neither the day's events nor their context are held whole: only one part's
    events, beside the day's cross-user inputs and then its counts.

    Events that are only some users of a day (a shard's) come with their rows of the whole
    day's cross-user counts, ``signals`` (row-aligned with the events ``read`` gives), which
    are then not counted again: ``read`` is called once for each part.
    """
    from ztad.behaviour.features import compute_features

    settings = settings or FeatureSettings()
    if signals is None:
        signals = signals_by_part(read, bounds, baseline, config, settings)
    for begin, end in pairwise(bounds):
        part = read(begin, end)
        given = _rows_of(signals, begin, end)
        features = compute_features(part, baseline, config, settings, cross_user=given)
        del part
        _release_arrow_memory()
        yield features
        del features  # the caller's now: not held while the next part is computed


def signals_by_part(
    read: Callable[[int, int], pd.DataFrame],
    bounds: np.ndarray,
    baseline: BaselineState,
    config: DetectionConfig,
    settings: FeatureSettings | None,
) -> pd.DataFrame:
    """The cross-user counts of a day in part order (part ``k`` the rows
    ``bounds[k]:bounds[k + 1]``, each read with ``read(begin, end)`` when it is needed, as for
    :func:`features_by_part`), indexed from 0: only one part's events are held at a time,
    beside the day's narrow inputs of the counts."""
    settings = settings or FeatureSettings()

    def parts_read():
        for begin, end in pairwise(bounds):
            yield slice(begin, end), read(begin, end)
            _release_arrow_memory()

    rows = int(bounds[-1]) if len(bounds) else 0
    return signals_of_parts(rows, parts_read(), baseline, config, settings)


def _rows_of(signals: pd.DataFrame, begin: int, end: int) -> pd.DataFrame:
    """The rows ``begin:end`` of the day's cross-user counts, indexed from 0."""
    return signals.iloc[begin:end].reset_index(drop=True)


def _release_arrow_memory() -> None:
    """Hand back what Arrow's pool holds of a part's events (strings): it can then hold the
    next part's features instead of staying in the pool beside them."""
    pa.default_memory_pool().release_unused()


def compute_features_in_parts(
    events: pd.DataFrame,
    baseline: BaselineState,
    config: DetectionConfig,
    settings: FeatureSettings | None = None,
    *,
    part_events: int | None = None,
) -> pd.DataFrame:
    """:func:`ztad.behaviour.features.compute_features` of ``events``, computed for
    ``part_events`` (default :data:`PART_EVENTS`) events' worth of users at a time: the same
    frame, in the same order, with a fraction of the working memory. A day of up to
    :data:`ONE_GO_PARTS` parts is computed in one go.

    A day computed in parts takes ``events`` over: its columns are moved into the parts and
    ``events`` is left without columns, so that each part's events are released once its
    features are computed. Pass a copy to keep them.
    """
    from ztad.behaviour.features import compute_features

    settings = settings or FeatureSettings()
    if in_one_go(len(events), part_events):
        return compute_features(events, baseline, config, settings)
    index = events.index
    order, bounds = part_order(events["user_id"], part_events)
    pieces = _cut(events, order, bounds)
    # Counted in the day's order: each part's rows are its positions in the day.
    day_rows = (order[begin:end] for begin, end in pairwise(bounds))
    signals = signals_of_parts(len(order), zip(day_rows, pieces), baseline, config, settings)
    columns: _DayColumns | None = None
    for part, (begin, end) in enumerate(pairwise(bounds)):
        given = signals.iloc[order[begin:end]].reset_index(drop=True)
        features = compute_features(pieces[part], baseline, config, settings, cross_user=given)
        pieces[part] = None
        _release_arrow_memory()
        columns = columns or _DayColumns(features, len(order))
        columns.fill(slice(begin, end), features)
        del features
    columns.put_in_order(order)
    return columns.frame(index)


def _cut(day: pd.DataFrame, order: np.ndarray, bounds: np.ndarray) -> list[pd.DataFrame]:
    """The rows ``order[bounds[k]:bounds[k + 1]]`` of ``day`` as part ``k``'s own frame,
    numbered from 0. Cut column by column, each column dropped from ``day`` once cut, so that
    the day is held about once while it is cut; ``day`` is left without columns."""
    pieces: list[dict[str, pd.Series]] = [{} for _ in bounds[:-1]]
    for name in list(day.columns):
        column = day.pop(name)
        for piece, begin, end in zip(pieces, bounds[:-1], bounds[1:]):
            piece[name] = column.iloc[order[begin:end]].reset_index(drop=True)
        del column
    return [pd.DataFrame(piece, copy=False) for piece in pieces]
