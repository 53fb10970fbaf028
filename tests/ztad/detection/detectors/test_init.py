"""The detector registry: building by name, loading any saved detector."""

import pytest

from tests.ztad.detection.detectors.synthetic import normal_features
from ztad.detection.detectors import (
    DETECTORS,
    ArtifactError,
    DetectorError,
    ECODDetector,
    IsolationForestDetector,
    UnknownDetectorError,
    VerifiedArtifacts,
    load_detector,
    make_detector,
)


def test_every_registered_class_carries_its_name():
    assert all(cls.name == name for name, cls in DETECTORS.items())


def test_make_detector_passes_parameters():
    detector = make_detector("isolation_forest", n_estimators=7, random_state=3)
    assert isinstance(detector, IsolationForestDetector)
    assert detector.n_estimators == 7 and detector.random_state == 3


def test_unknown_name_is_refused_with_the_known_names():
    with pytest.raises(UnknownDetectorError, match="'lof'.*autoencoder.*ocsvm"):
        make_detector("lof")


def test_unknown_parameter_is_refused():
    with pytest.raises(DetectorError, match="no parameter\\(s\\) \\['trees'\\]"):
        make_detector("isolation_forest", trees=5)


def test_load_detector_reads_any_kind(tmp_path):
    ECODDetector().fit(normal_features(100, 1)).save(tmp_path)
    assert isinstance(load_detector(VerifiedArtifacts(tmp_path, "test")), ECODDetector)


def test_loading_as_another_kind_is_refused(tmp_path):
    ECODDetector().fit(normal_features(100, 1)).save(tmp_path)
    with pytest.raises(ArtifactError, match="holds a 'ecod' detector, not 'isolation_forest'"):
        IsolationForestDetector.load(VerifiedArtifacts(tmp_path, "test"))


def test_a_folder_that_is_not_a_detector_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="detector.json is missing"):
        load_detector(VerifiedArtifacts(tmp_path, "test"))


def test_a_bare_path_is_refused(tmp_path):
    ECODDetector().fit(normal_features(100, 1)).save(tmp_path)
    with pytest.raises(ArtifactError, match="read only through the model registry"):
        load_detector(tmp_path)
    with pytest.raises(ArtifactError, match="read only through the model registry"):
        ECODDetector.load(str(tmp_path))
