"""The forest's trees walked directly give scikit-learn's answers to the last bit."""

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from tests.ztad.detection.detectors.synthetic import far_anomalies, normal_features
from ztad.detection.detectors import forest_paths
from ztad.detection.detectors.forest_paths import ORDERED_MIN_ROWS, forest_leaves, score_samples, tree_leaves


@pytest.fixture(scope="module", params=[1.0, 0.5], ids=["all-features", "feature-subsets"])
def forest(request):
    rows = normal_features(2000, 4).to_numpy()
    return IsolationForest(n_estimators=40, max_samples=512, max_features=request.param, random_state=2).fit(
        rows
    )


@pytest.fixture(params=["trees-at-once", "tree-by-tree", "in-leaf-order"], autouse=True)
def walk(request, monkeypatch):
    """Every test runs on every walk: all trees at once (few rows), each tree's ``apply``, and
    each tree's ``apply`` on the rows ordered by their first trees' leaves (many rows)."""
    if request.param != "trees-at-once":
        monkeypatch.setattr(forest_paths, "AT_ONCE_CELLS", 0)
    if request.param == "in-leaf-order":
        monkeypatch.setattr(forest_paths, "ORDERED_MIN_ROWS", 1)
    return request.param


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


def test_forest_leaves_number_each_trees_leaves_after_the_trees_before_it(forest):
    rows = _rows()[4:]
    first = np.cumsum([0] + [tree.tree_.node_count for tree in forest.estimators_[:-1]])
    expected = np.column_stack([leaves for _, leaves in tree_leaves(forest, rows)]) + first
    np.testing.assert_array_equal(forest_leaves(forest, rows), expected)


def test_a_row_of_another_width_is_refused(forest):
    with pytest.raises(ValueError, match="takes 6 features"):
        score_samples(forest, np.zeros((1, 5)))


def test_a_missing_value_goes_where_the_library_sends_it(forest):
    rows = _rows()[:20]
    rows[5, 1] = np.nan
    np.testing.assert_array_equal(score_samples(forest, rows), forest.score_samples(rows))


def test_few_rows_walk_all_trees_at_once_and_many_rows_tree_by_tree(forest, walk):
    few, many = _rows()[:2], np.repeat(_rows(), 60, axis=0)
    assert forest_paths._walk_at_once(forest, few.astype(np.float32)) == (walk == "trees-at-once")
    assert not forest_paths._walk_at_once(forest, many.astype(np.float32))
    np.testing.assert_array_equal(score_samples(forest, many), forest.score_samples(many))
    np.testing.assert_array_equal(score_samples(forest, few), forest.score_samples(few))


def test_many_rows_are_walked_in_the_order_of_their_first_leaves(forest, walk, monkeypatch):
    ordered = []
    walk_in_order = forest_paths._summed_in_leaf_order
    monkeypatch.setattr(forest_paths, "_summed_in_leaf_order",
                        lambda *args: ordered.append(len(args[1])) or walk_in_order(*args))
    monkeypatch.setattr(forest_paths, "AT_ONCE_CELLS", 0)
    if walk != "in-leaf-order":
        monkeypatch.setattr(forest_paths, "ORDERED_MIN_ROWS", 1000)
    rows = np.repeat(_rows(), 4, axis=0)[:1000]
    np.testing.assert_array_equal(score_samples(forest, rows), forest.score_samples(rows))
    np.testing.assert_array_equal(score_samples(forest, rows[:-1]), forest.score_samples(rows[:-1]))
    assert ordered == ([1000, 999] if walk == "in-leaf-order" else [1000])


def test_a_request_sized_batch_is_walked_in_the_order_of_its_first_leaves(forest, monkeypatch):
    ordered = []
    walk_in_order = forest_paths._summed_in_leaf_order
    monkeypatch.setattr(forest_paths, "_summed_in_leaf_order",
                        lambda *args: ordered.append(len(args[1])) or walk_in_order(*args))
    monkeypatch.setattr(forest_paths, "AT_ONCE_CELLS", 0)
    monkeypatch.setattr(forest_paths, "ORDERED_MIN_ROWS", ORDERED_MIN_ROWS)  # as shipped, whatever the walk
    batch = np.repeat(_rows(), 4, axis=0)[:1000]
    np.testing.assert_array_equal(score_samples(forest, batch), forest.score_samples(batch))
    fewer = batch[: ORDERED_MIN_ROWS - 1]
    np.testing.assert_array_equal(score_samples(forest, fewer), forest.score_samples(fewer))
    assert ordered == [1000]
