"""The scoring model scores a feature frame as its ensemble scores the same rows."""

import numpy as np
import pandas as pd

from tests.ztad.detection.detectors.synthetic import far_anomalies, normal_features
from ztad.detection.ensemble import Ensemble
from ztad.detection.scoring_model import ScoringModel, model_inputs


def _model() -> ScoringModel:
    ensemble = Ensemble.from_names(["ecod", "isolation_forest"], params={"isolation_forest": {"n_estimators": 30}})
    return ScoringModel(version="m-test", ensemble=ensemble.fit(normal_features(1500, 1)))


def _day() -> pd.DataFrame:
    rows = pd.concat([normal_features(200, 2), far_anomalies(10, 3)], ignore_index=True)
    # Columns in another order, and a context column the model does not read.
    return rows[list(reversed(rows.columns))].assign(ctx_place="Lyon")


def test_model_inputs_are_the_named_columns_as_one_c_ordered_float64_matrix():
    day = _day()
    names = ["gauss", "count", "flag"]
    matrix = model_inputs(day, names)
    assert matrix.dtype == np.float64 and matrix.flags.c_contiguous
    np.testing.assert_array_equal(matrix, day[names].to_numpy(dtype=np.float64))


def test_model_inputs_of_other_dtypes_are_float64_with_missing_as_nan():
    day = pd.DataFrame({"a": [1.5, 2.5], "b": pd.array([1.0, None], dtype="Float64"), "c": [3, 4]})
    matrix = model_inputs(day, ["c", "b", "a"])
    np.testing.assert_array_equal(matrix, [[3.0, 1.0, 1.5], [4.0, np.nan, 2.5]])


def test_scores_are_the_ensemble_scores_of_the_same_rows():
    model, day = _model(), _day()
    scored = model.score(day)
    expected = model.ensemble.contributions(day[model.ensemble.feature_names_in_])
    np.testing.assert_array_equal(scored["score_ecod"], expected["ecod"])
    np.testing.assert_array_equal(scored["score_isolation_forest"], expected["isolation_forest"])
    np.testing.assert_array_equal(scored["ensemble_score"], model.ensemble.combined(expected))
    assert scored["model_flag"].tolist() == (scored["ensemble_score"] > model.threshold).tolist()
    assert scored["model_flag"].iloc[-10:].sum() >= 5  # the far anomalies stand out
