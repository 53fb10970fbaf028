"""The library versions recorded with a model."""

from tests.ztad.detection.registry.ensembles import MEMBERS
from ztad.detection.ensemble import DEFAULT_MEMBERS, Ensemble
from ztad.detection.registry import library_versions


def test_tensorflow_is_recorded_when_the_autoencoder_is_a_member():
    libraries = library_versions(Ensemble.from_names(DEFAULT_MEMBERS))
    assert {"tensorflow", "keras"} <= set(libraries)
    assert "tensorflow" not in library_versions(Ensemble.from_names(MEMBERS))
