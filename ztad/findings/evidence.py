"""The flagged rows' evidence, read column by column: event fields, features, ``ctx_*`` facts
and rule hits, each as a numpy array aligned with the flagged rows.

Sentences and top features both quote this evidence; each says what an absent or unknown
value reads as (``missing_number``, ``missing_text``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.attempt_source import sources_of

#: The largest finite float64: what ``numpy.nan_to_num`` reads an infinity as.
LARGEST = np.finfo(np.float64).max


class FlaggedRows:
    """The flagged rows' events, features and rule hits, with safe column access.

    A name is looked up among the features (``ctx_*`` facts included) first, then among the
    event fields. Each column is converted once however many sentences and top features
    quote it; every reader gets its own copy of the few flagged rows' values.
    """

    def __init__(
        self,
        events: pd.DataFrame,
        features: pd.DataFrame,
        hits: pd.DataFrame | None = None,
        *,
        missing_number: float = np.nan,
        missing_text: str | None = None,
    ):
        self.events, self.features, self.hits = events, features, hits
        self.missing_number, self.missing_text = missing_number, missing_text
        self._read: dict[tuple[str, str], np.ndarray] = {}

    def _once(self, kind: str, name: str, convert) -> np.ndarray:
        key = (kind, name)
        if key not in self._read:
            self._read[key] = convert(name)
        return self._read[key].copy()

    def _column(self, name: str):
        """The column's stored values (a NumPy or extension array), features first."""
        for frame in (self.features, self.events):
            column = column_values(frame, name)
            if column is not None:
                return column
        return None

    def num(self, name: str) -> np.ndarray:
        """The column as float64, NaN where a value is not a number."""
        return self._once("num", name, self._num)

    def _num(self, name: str) -> np.ndarray:
        column = self._column(name)
        if column is None:
            return np.full(len(self.features), self.missing_number, dtype="float64")
        if isinstance(column, np.ndarray) and column.dtype == np.float64:  # every feature: as it is
            return column
        numbers = pd.to_numeric(pd.Series(column, copy=False), errors="coerce")
        return numbers.to_numpy("float64", na_value=np.nan)

    def finite(self, name: str) -> np.ndarray:
        """``numpy.nan_to_num`` of :meth:`num`: NaN as 0, infinities as the largest finite
        numbers; done in place on the reader's own copy, in two thirds of the time."""
        values = self.num(name)
        values[np.isnan(values)] = 0.0
        return np.clip(values, -LARGEST, LARGEST, out=values)

    def text(self, name: str) -> np.ndarray:
        """The column as text (object array), ``missing_text`` where a value is null."""
        return self._once("text", name, self._text)

    def _text(self, name: str) -> np.ndarray:
        column = self._column(name)
        if column is None:
            return np.full(len(self.features), self.missing_text, dtype=object)
        if isinstance(column.dtype, pd.CategoricalDtype):
            return _category_texts(column, self.missing_text)
        if column.dtype != "string":
            column = pd.Series(column, copy=False).astype("string").array
        return column.to_numpy(dtype=object, na_value=self.missing_text)

    def rule(self, code: str) -> np.ndarray:
        """Whether the rule ``code`` fired on each row (False when it was not evaluated)."""
        return self._once("rule", code, self._rule)

    def _rule(self, code: str) -> np.ndarray:
        return rule_marks(self.hits, code, len(self.features))

    def present(self, name: str) -> np.ndarray:
        """Whether each row has a value in the event field ``name`` (False without one)."""
        column = column_values(self.events, name)
        if column is None:
            return np.zeros(len(self.features), dtype=bool)
        return ~np.asarray(pd.isna(column), dtype=bool)

    def source(self) -> np.ndarray:
        """Each row's attempt source: its IP address, else its workstation, else None."""
        sources = sources_of(self.events)
        return sources.astype(object).where(sources.notna(), None).to_numpy(dtype=object)


def positional(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` indexed 0..n-1: as it is when it is already (the flagged rows mostly are)."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None:
        return frame
    return frame.reset_index(drop=True)


def column_values(frame: pd.DataFrame | None, name: str):
    """The stored values of ``frame``'s column ``name`` (a NumPy or extension array), ``None``
    without one. Read by position: a Series made for each of the hundred columns sentences and
    top features quote costs more than converting a few flagged rows' values."""
    if frame is None or name not in frame.columns:
        return None
    position = frame.columns.get_loc(name)
    if isinstance(position, int):
        return frame._get_column_array(position)
    return frame[name].array  # a name given twice: pandas picks it out


def rule_marks(hits: pd.DataFrame | None, code: str, rows: int) -> np.ndarray:
    """Whether the rule ``code`` fired on each of the ``rows`` rows of ``hits`` (rule codes as
    column names; False when the rule was not evaluated)."""
    column = column_values(hits, code)
    if column is None:
        return np.zeros(rows, dtype=bool)
    if isinstance(column, np.ndarray) and column.dtype == np.bool_:  # as scoring keeps them
        return column
    return pd.Series(column, copy=False).fillna(False).to_numpy(dtype=bool)


#: Text categories read whole rather than picked by code up to this many.
FEW_CATEGORIES = 1024


def _category_texts(column: pd.Categorical, missing_text: str | None) -> np.ndarray:
    """A categorical column as text (object array), ``missing_text`` where a value is null.

    Only the categories the rows use are written as text, each once, and picked by code:
    converting the column itself, or all its categories, to text costs a millisecond however
    few rows it has, and the ``ctx_*`` facts sentences quote (time zone, peer group, holiday)
    are categorical. Text categories, when there are few (a request's), are read all at once
    instead: a few microseconds, where picking out the used ones costs a hundred.
    """
    codes, categories = column.codes, column.categories
    labels = np.full(len(categories) + 1, missing_text, dtype=object)  # the last: code -1
    if isinstance(categories.dtype, pd.StringDtype) and len(categories) <= FEW_CATEGORIES:
        labels[:-1] = categories.array.to_numpy(dtype=object)  # text already, none missing
        return labels[codes]
    used = np.unique(codes[codes >= 0])
    labels[used] = categories.take(used).astype("string").to_numpy(dtype=object, na_value=missing_text)
    return labels[codes]
