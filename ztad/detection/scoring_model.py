"""The registered model that scores a day, loaded and verified by version."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ztad.config import JobConfig


@dataclass
class ScoringModel:
    """A fitted ensemble with its registry version, ready to score feature frames."""

    version: str
    ensemble: object

    @property
    def threshold(self) -> float:
        """The calibrated alert threshold on the combined score."""
        return float(self.ensemble.threshold_)

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per event: the combined ``ensemble_score``, ``threshold``, ``model_flag`` and every
        member's normalised contribution as ``score_<member>``, row-aligned with ``features``."""
        return pd.DataFrame(self.score_columns(features), index=pd.RangeIndex(len(features)))

    def score_columns(self, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """:meth:`score`'s columns as arrays, in order: a caller that adds columns of its own
        builds its frame once."""
        surprises = self.ensemble.member_surprises(model_inputs(features, self.ensemble.feature_names_in_))
        combined = self.ensemble.combined_surprises(surprises)
        threshold = self.threshold
        return {
            "ensemble_score": combined,
            "threshold": np.full(len(combined), threshold),
            "model_flag": combined > threshold,
            **{f"score_{name}": values for name, values in surprises.items()},
        }


#: Rows of the model inputs filled at once: a block of every feature (1.6 MiB) stays in a
#: core's cache while its columns are written into it.
INPUT_BLOCK_ROWS = 8192


def model_inputs(features: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The model's feature columns as one C-ordered float64 matrix: the layout every detector
    scores, made with a single copy of the day's model inputs (selecting the columns and then
    converting would copy them twice). It is filled a block of rows at a time, every column
    into the block: a column written down the whole matrix at once strides across every row,
    and a large day's matrix went through memory once per feature."""
    columns = [_stored_float64(features, name) for name in names]
    matrix = np.empty((len(features), len(names)), dtype=np.float64)
    for start in range(0, len(features), INPUT_BLOCK_ROWS):
        rows = slice(start, start + INPUT_BLOCK_ROWS)
        for position, column in enumerate(columns):
            matrix[rows, position] = column[rows]
    return matrix


def _stored_float64(features: pd.DataFrame, name: str) -> np.ndarray:
    """A column's float64 values: a float64 column's stored array itself, read by position
    (a Series made for each of the model's columns costs more than a request's few rows),
    else :func:`float_values` of the column."""
    position = features.columns.get_loc(name)
    stored = features._get_column_array(position) if isinstance(position, int) else None
    if isinstance(stored, np.ndarray) and stored.dtype == np.float64:  # read only
        return stored
    return float_values(features[name])


def float_values(column: pd.Series) -> np.ndarray:
    """A column as float64 values, nulls as NaN: a float64 column (every feature) as it is,
    without the null-replacing conversion, whose checks cost more than reading a few rows."""
    if column.dtype == np.float64:
        return column.to_numpy()
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def registry_of(config: JobConfig, trust=None):
    """The job's model registry, with the root of trust the pipeline passes down (without one
    it saves and lists models but loads none)."""
    from ztad.detection.registry import ModelRegistry

    return ModelRegistry(config.model_dir, trust=trust)


def load_model(config: JobConfig, version: str, trust) -> ScoringModel:
    """Load a registered model by version (never by path), verified against ``trust``."""
    from ztad.behaviour.features import FEATURE_NAMES

    registered = registry_of(config, trust).load(version, expected_features=list(FEATURE_NAMES))
    return ScoringModel(version=registered.version, ensemble=registered.model)
