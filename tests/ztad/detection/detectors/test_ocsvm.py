"""One-Class SVM specifics: the method follows the training size, approximations still detect."""

import numpy as np
import pytest

from tests.ztad.detection.detectors.synthetic import far_anomalies, normal_features
from ztad.detection.detectors import DetectorError, OneClassSVMDetector, VerifiedArtifacts
from ztad.detection.detectors.ocsvm import EXACT_MAX_ROWS


@pytest.fixture(scope="module")
def train():
    return normal_features(1500, seed=1)


def test_auto_uses_the_exact_kernel_up_to_the_cutoff(train):
    detector = OneClassSVMDetector(exact_max_rows=len(train)).fit(train)
    assert detector.method_ == "exact"
    assert hasattr(detector.model_, "support_vectors_")


def test_auto_subsamples_beyond_the_cutoff(train):
    detector = OneClassSVMDetector(exact_max_rows=500).fit(train)
    assert detector.method_ == "subsample"
    assert detector.model_.shape_fit_[0] == 500


def test_nystroem_uses_a_linear_model_on_the_kernel_map(train):
    detector = OneClassSVMDetector(method="nystroem", n_components=50).fit(train)
    assert detector.method_ == "nystroem"
    assert detector.model_[0].components_.shape[0] == 50


def test_default_cutoff_is_documented_constant():
    assert OneClassSVMDetector().exact_max_rows == EXACT_MAX_ROWS


@pytest.mark.parametrize("method", ["nystroem", "subsample"])
def test_approximations_flag_far_anomalies(train, method):
    detector = OneClassSVMDetector(method=method, exact_max_rows=400, n_components=100).fit(train)
    anomalies = far_anomalies(12, seed=3)
    assert (detector.score_samples(anomalies) > detector.threshold_).all()


def test_subsample_fits_the_exact_kernel_on_at_most_the_cap(train):
    detector = OneClassSVMDetector(method="subsample", exact_max_rows=300).fit(train)
    assert detector.method_ == "subsample"
    assert detector.model_.shape_fit_[0] == 300


def test_all_methods_share_one_kernel_width(train):
    widths = {
        OneClassSVMDetector(method=m, exact_max_rows=400).fit(train).gamma_
        for m in ("exact", "nystroem", "subsample")
    }
    assert len(widths) == 1


def test_explicit_gamma_is_used(train):
    assert OneClassSVMDetector(gamma=0.5).fit(train).gamma_ == 0.5


@pytest.mark.parametrize(
    "params, message",
    [({"method": "kernel"}, "unknown ocsvm method"), ({"gamma": -1.0}, "gamma must be")],
)
def test_invalid_settings_are_refused(train, params, message):
    with pytest.raises(DetectorError, match=message):
        OneClassSVMDetector(**params).fit(train)


def test_scaler_state_survives_save_and_load(train, tmp_path):
    detector = OneClassSVMDetector(method="nystroem").fit(train)
    detector.save(tmp_path)
    loaded = OneClassSVMDetector.load(VerifiedArtifacts(tmp_path, "test"))
    assert loaded.method_ == "nystroem" and loaded.gamma_ == detector.gamma_
    np.testing.assert_array_equal(loaded.scaler_.center, detector.scaler_.center)
