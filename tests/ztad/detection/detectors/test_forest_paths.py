"""The forest's trees walked directly give scikit-learn's answers to the last bit."""

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from tests.ztad.detection.detectors.synthetic import far_anomalies, normal_features
from ztad.detection.detectors.forest_paths import score_samples, tree_leaves


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


def test_leaves_equal_the_library_leaves(forest):
    rows = _rows()[4:]  # the library's apply refuses infinite values
    for (estimator, leaves), tree, features in zip(
        tree_leaves(forest, rows), forest.estimators_, forest.estimators_features_
    ):
        assert estimator is tree
        np.testing.assert_array_equal(leaves, tree.apply(rows[:, features].astype(np.float32)))


def test_a_row_of_another_width_is_refused(forest):
    with pytest.raises(ValueError, match="takes 6 features"):
        score_samples(forest, np.zeros((1, 5)))
