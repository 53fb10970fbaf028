"""Per-feature attributions of the detectors, for flagged rows."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length

from ztad.findings.attributions import (
    EXACT_COLUMN,
    AttributionError,
    attribution_table,
    attributions_documents,
    combined_shares,
    exact_mask,
    isolation_forest_attributions,
    isolation_forest_shap,
    member_attributions,
    model_inputs,
    split_table,
)

NAMES = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def normal_rows():
    # Right-skewed, like counts and ratios: large values are the unusual ones.
    return np.random.default_rng(0).exponential(size=(1500, len(NAMES)))


@pytest.fixture(scope="module", params=[1.0, 0.5], ids=["all-features", "feature-subsets"])
def forest(request, normal_rows):
    return IsolationForest(n_estimators=25, max_samples=256, max_features=request.param, random_state=0).fit(normal_rows)


def _mean_path_length(forest, X):
    # sklearn: score_samples = -2 ** (-mean path length / c(max_samples))
    return -np.log2(-forest.score_samples(X)) * _average_path_length([forest.max_samples_])[0]


def test_path_attributions_add_up_to_the_forests_own_path_length(forest):
    X = np.random.default_rng(1).normal(size=(40, len(NAMES))) * 3
    credits = isolation_forest_attributions(forest, X)
    ordinary = isolation_forest_attributions(forest, np.zeros((1, len(NAMES))))
    expected = _mean_path_length(forest, X) + credits.sum(axis=1)
    # The forest's expected path length is the same for every row.
    assert np.allclose(expected, expected[0])
    assert credits.sum(axis=1).mean() > ordinary.sum()


def test_path_attributions_equal_shaps_path_based_values(forest):
    shap = pytest.importorskip("shap")
    X = np.random.default_rng(2).normal(size=(20, len(NAMES))) * 2
    theirs = shap.TreeExplainer(forest).shap_values(X, approximate=True)
    assert np.allclose(isolation_forest_attributions(forest, X), -theirs, atol=1e-9)


def test_exact_shap_values_equal_shaps_own_and_add_up_like_the_path_credits(forest):
    shap = pytest.importorskip("shap")
    X = np.random.default_rng(4).exponential(size=(15, len(NAMES))) * 3
    exact = isolation_forest_shap(forest, X)
    theirs = shap.TreeExplainer(forest).shap_values(X.astype(np.float32).astype(np.float64), check_additivity=False)
    assert np.allclose(exact, -theirs, atol=1e-9)
    assert np.allclose(exact.sum(axis=1), isolation_forest_attributions(forest, X).sum(axis=1))


def test_the_feature_that_isolates_a_row_gets_the_credit(forest):
    X = np.ones((len(NAMES), len(NAMES)))
    np.fill_diagonal(X, 12.0)
    credits = isolation_forest_attributions(forest, X)
    assert credits.argmax(axis=1).tolist() == list(range(len(NAMES)))


def test_a_matrix_of_another_width_is_refused(forest):
    with pytest.raises(AttributionError, match="takes 4 features"):
        isolation_forest_attributions(forest, np.zeros((2, 3)))


@pytest.fixture(scope="module")
def ensemble(normal_rows):
    from ztad.detection.ensemble import Ensemble

    frame = pd.DataFrame(normal_rows, columns=NAMES)
    return Ensemble.from_names(("isolation_forest", "ecod"), params={"isolation_forest": {"n_estimators": 30}}).fit(frame)


def test_members_that_decompose_their_score_give_attributions(ensemble):
    X = pd.DataFrame([[1.0, 12.0, 1.0, 1.0], [1.0, 1.0, 1.0, 12.0]], columns=NAMES, index=[10, 11])
    frames = member_attributions(ensemble, X)
    assert set(frames) == {"isolation_forest", "ecod"}
    for frame in frames.values():
        assert list(frame.columns) == NAMES and frame.index.tolist() == [10, 11]
        assert frame.to_numpy().argmax(axis=1).tolist() == [1, 3]


def test_the_wide_table_holds_flagged_rows_only_and_splits_back(ensemble):
    features = pd.DataFrame(np.ones((5, len(NAMES))), columns=NAMES)
    features.loc[3, "c"] = 12.0
    flagged = np.array([False, False, False, True, False])
    table = attribution_table(ensemble, features, flagged)
    assert table["row"].tolist() == [3]
    frames = split_table(table)
    assert set(frames) == {"isolation_forest", "ecod"}
    assert frames["ecod"].index.tolist() == [3]
    assert frames["ecod"].idxmax(axis=1).tolist() == ["c"]
    assert list(attribution_table(ensemble, features, np.zeros(5, bool)).columns) == ["row"]
    assert table[EXACT_COLUMN].tolist() == [True]


def test_the_highest_priority_rows_get_exact_shap_values(ensemble):
    pytest.importorskip("shap")
    features = pd.DataFrame(np.ones((6, len(NAMES))), columns=NAMES)
    features.loc[[1, 3, 4], "b"] = [9.0, 12.0, 10.0]
    flagged = np.array([False, True, False, True, True, False])
    priority = np.array([0.0, 1.0, 0.0, 5.0, 3.0, 0.0])
    table = attribution_table(ensemble, features, flagged, priority=priority, exact_rows=2)
    assert table[EXACT_COLUMN].tolist() == [False, True, True]
    assert exact_mask(table).to_dict() == {1: False, 3: True, 4: True}
    frames = split_table(table)
    forest = ensemble.detectors_["isolation_forest"].model_
    expected = isolation_forest_shap(forest, features.loc[[3, 4], NAMES].to_numpy())
    assert np.allclose(frames["isolation_forest"].loc[[3, 4]].to_numpy(), expected, atol=1e-5)
    path = isolation_forest_attributions(forest, features.loc[[1], NAMES].to_numpy())
    assert np.allclose(frames["isolation_forest"].loc[[1]].to_numpy(), path, atol=1e-5)
    assert not attribution_table(ensemble, features, flagged, exact_rows=0)[EXACT_COLUMN].any()


def test_documents_list_the_positive_attributions_largest_first():
    frames = {
        "isolation_forest": pd.DataFrame([[0.5, -1.0, 2.0, 0.0]], columns=NAMES),
        "autoencoder": pd.DataFrame([[0.1, 0.3, 0.0, 0.2]], columns=NAMES),
    }
    (document,) = attributions_documents(frames, top=2)
    assert document["isolation_forest"] == {"method": "tree_path", "top": [["c", 2.0], ["a", 0.5]]}
    (exact,) = attributions_documents(frames, exact=[True], top=2)
    assert exact["isolation_forest"]["method"] == "tree_shap" and exact["autoencoder"]["method"] == "reconstruction_error"
    assert document["autoencoder"]["method"] == "reconstruction_error"
    assert [name for name, _ in document["autoencoder"]["top"]] == ["b", "d"]
    assert attributions_documents({}) == []


def test_combined_shares_weigh_members_by_how_unusual_they_found_the_row():
    frames = {
        "isolation_forest": pd.DataFrame([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], columns=NAMES),
        "ecod": pd.DataFrame([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 1.0]], columns=NAMES),
    }
    scores = pd.DataFrame({"isolation_forest": [3.0, 1.0], "ecod": [1.0, 1.0]})
    shares = combined_shares(frames, scores)
    assert shares.loc[0].tolist() == pytest.approx([0.75, 0.25, 0.0, 0.0])
    # A member with nothing to attribute has no say.
    assert shares.loc[1].tolist() == pytest.approx([0.0, 0.0, 0.75, 0.25])
    assert combined_shares({}).empty


def test_model_inputs_are_the_named_columns_in_order_with_their_values():
    frame = pd.DataFrame({"b": [1.5, np.nan], "ctx": ["x", None], "a": [0.0, 2.0]}, index=[7, 9])
    picked = model_inputs(frame, ["a", "b"])
    pd.testing.assert_frame_equal(picked, frame[["a", "b"]])
    assert picked._mgr.nblocks == 1  # stacked at once


def test_model_inputs_not_all_float_or_absent_are_picked_by_pandas():
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.0]})
    pd.testing.assert_frame_equal(model_inputs(frame, ["b", "a"]), frame[["b", "a"]])
    with pytest.raises(KeyError):
        model_inputs(frame, ["b", "absent"])


def test_model_inputs_carry_the_index_of_names_given():
    frame = pd.DataFrame({"b": [1.5], "a": [0.0]})
    columns = pd.Index(["a", "b"])
    picked = model_inputs(frame, ["a", "b"], columns)
    assert picked.columns is columns
    pd.testing.assert_frame_equal(picked, frame[["a", "b"]])
