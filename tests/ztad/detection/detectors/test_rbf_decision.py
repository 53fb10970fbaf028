"""The One-Class SVM's decision function in numpy blocks gives libsvm's answers within 1e-9."""

import numpy as np
import pytest
from sklearn.svm import OneClassSVM

from tests.ztad.detection.detectors.synthetic import far_anomalies, normal_features
from ztad.detection.detectors import rbf_decision
from ztad.detection.detectors.base import SCORE_CHUNK_ROWS
from ztad.detection.detectors.ocsvm import OneClassSVMDetector
from ztad.detection.detectors.rbf_decision import decision_function


def _rows() -> np.ndarray:
    return np.vstack([normal_features(600, 5).to_numpy(), far_anomalies(60, 6).to_numpy()])


@pytest.fixture(scope="module", params=["exact", "subsample"])
def detector(request):
    training = normal_features(3000, 4)
    return OneClassSVMDetector(method=request.param, exact_max_rows=1500).fit(training)


def test_decisions_equal_the_library_decisions_within_1e9(detector):
    scaled = detector.scaler_.transform(_rows())
    expected = detector.model_.decision_function(scaled)
    np.testing.assert_allclose(decision_function(detector.model_, scaled), expected, rtol=0, atol=1e-9)


def test_the_detector_scores_are_the_negated_library_decisions(detector):
    rows = _rows()
    expected = -detector.model_.decision_function(detector.scaler_.transform(rows))
    np.testing.assert_allclose(detector.score_samples(rows), expected, rtol=0, atol=1e-9)


def test_blocks_of_any_size_give_the_same_decisions(detector, monkeypatch):
    scaled = detector.scaler_.transform(_rows())
    whole = decision_function(detector.model_, scaled)
    monkeypatch.setattr(rbf_decision, "BLOCK_ELEMENTS", 7 * len(detector.model_.support_vectors_))
    np.testing.assert_allclose(decision_function(detector.model_, scaled), whole, rtol=0, atol=1e-12)


def test_a_model_of_unscaled_features_agrees_too():
    training = normal_features(2000, 8).to_numpy()
    model = OneClassSVM(kernel="rbf", gamma=0.05, nu=0.1).fit(training)
    rows = _rows()
    np.testing.assert_allclose(decision_function(model, rows), model.decision_function(rows), rtol=0, atol=1e-9)


def test_a_row_of_another_width_is_refused(detector):
    with pytest.raises(ValueError, match="takes 6 features"):
        decision_function(detector.model_, np.zeros((1, 5)))


def test_another_kernel_is_refused():
    model = OneClassSVM(kernel="linear").fit(normal_features(200, 1).to_numpy())
    with pytest.raises(ValueError, match="RBF kernel only"):
        decision_function(model, np.zeros((1, 6)))


@pytest.mark.parametrize("support_vectors", [1, 16, 17, 548, 10_000, 3_000_000])
def test_blocks_are_powers_of_two_that_line_up_with_the_scoring_chunks(support_vectors):
    rows = rbf_decision.block_rows(support_vectors)
    assert rows & (rows - 1) == 0 and SCORE_CHUNK_ROWS % rows == 0
    assert rows * support_vectors <= max(rbf_decision.BLOCK_ELEMENTS, support_vectors)
