"""A large day's features computed a part of its users at a time, with the same result.

Every feature depends on the event's own user, that user's events of the day and the baseline,
except the counts across users (:mod:`ztad.behaviour.features.cross_user`), which are counted
once over the whole day and handed to each part. The families' working arrays (codes, lookups,
coordinates, trips, per-family features) then exist for one part of the day at a time, not for
all of it: a million-event day's features would otherwise hold them all at once beside the
baseline and the events. Each part's columns are copied into the day's columns at its rows, so
the frame has the day's event order and exactly the values the whole day would give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines import BaselineState
from ztad.behaviour.features.cross_user import cross_user_signals
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
    """The day's feature columns, filled part by part at the parts' rows.

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

    def fill(self, rows: np.ndarray, part: pd.DataFrame) -> None:
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

    def frame(self, index: pd.Index) -> pd.DataFrame:
        out = pd.DataFrame(self.block.T, columns=self.model, copy=False)
        for name in list(self.others):
            values = self.others.pop(name)
            if name in self.categories:
                values = pd.Categorical.from_codes(values, categories=self.categories[name])
            out[name] = values
        out.index = index
        return out


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
    :data:`ONE_GO_PARTS` parts is computed in one go."""
    from ztad.behaviour.features import compute_features

    part_events = part_events or PART_EVENTS
    settings = settings or FeatureSettings()
    if len(events) <= ONE_GO_PARTS * part_events:
        return compute_features(events, baseline, config, settings)
    signals = cross_user_signals(events, baseline, config, settings)
    parts = user_parts(events["user_id"], part_events)
    columns: _DayColumns | None = None
    for part in range(int(parts.max()) + 1):
        rows = np.flatnonzero(parts == part)
        features = compute_features(
            events.iloc[rows], baseline, config, settings, cross_user=signals.iloc[rows]
        )
        columns = columns or _DayColumns(features, len(events))
        columns.fill(rows, features)
        del features
    return columns.frame(events.index)
