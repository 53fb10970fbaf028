"""The forest's trees walked directly give scikit-learn's answers to the last bit."""

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from tests.ztad.detection.detectors.synthetic import far_anomalies, normal_features
from ztad.detection.detectors.forest_paths import decision_paths, score_samples


@pytest.fixture(scope="module", params=[1.0, 0.5], ids=["all-features", "feature-subsets"])
def forest(request):
    rows = normal_features(2000, 4).to_numpy()
    return IsolationForest(n_estimators=40, max_samples=512, max_features=request.param, random_state=2).fit(
        rows
    )


def _rows() -> np.ndarray:
    rows = np.vstack([normal_features(300, 5).to_numpy(), far_anomalies(30, 6).to_numpy()])
    rows[3, 2] = np.inf  # the forest takes non-finite values as scikit-learn does
    return rows


def test_scores_equal_the_library_scores(forest):
    rows = _rows()
    np.testing.assert_array_equal(score_samples(forest, rows), forest.score_samples(rows))


def test_one_row_scores_as_within_many(forest):
    rows = _rows()
    np.testing.assert_array_equal(score_samples(forest, rows[7:8]), score_samples(forest, rows)[7:8])


def test_decision_paths_equal_the_library_paths(forest):
    rows = _rows()[4:]  # the library's decision_path refuses infinite values
    for (estimator, path), tree, features in zip(
        decision_paths(forest, rows), forest.estimators_, forest.estimators_features_
    ):
        assert estimator is tree
        expected = tree.decision_path(rows[:, features].astype(np.float32))
        assert (path != expected).nnz == 0


def test_a_row_of_another_width_is_refused(forest):
    with pytest.raises(ValueError, match="takes 6 features"):
        score_samples(forest, np.zeros((1, 5)))
