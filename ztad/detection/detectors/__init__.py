"""Anomaly detectors with one interface: fit on normal history, higher score = more anomalous.

``DETECTORS`` maps each registered name to its class; :func:`make_detector` builds one by name
and :func:`load_detector` reads any saved one from artifacts the model registry verified
(:class:`VerifiedArtifacts`), never from a bare path. Importing this package does not import
TensorFlow: the autoencoder imports it when it fits or loads.
"""

from __future__ import annotations

from ztad.detection.detectors.autoencoder import AutoencoderDetector
from ztad.detection.detectors.base import (
    ARTIFACT_FORMAT,
    ArtifactError,
    Detector,
    DetectorError,
    FeatureMismatchError,
    InsufficientDataError,
    InvalidFeaturesError,
    NotFittedError,
    VerifiedArtifacts,
    clone,
    read_description,
    verified_folder,
)
from ztad.detection.detectors.ecod import ECODDetector
from ztad.detection.detectors.isolation_forest import IsolationForestDetector
from ztad.detection.detectors.ocsvm import OneClassSVMDetector


class UnknownDetectorError(DetectorError):
    """No detector is registered under that name."""


DETECTORS: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (IsolationForestDetector, OneClassSVMDetector, AutoencoderDetector, ECODDetector)
}


def make_detector(name: str, **params) -> Detector:
    """A new, unfitted detector of the registered kind ``name`` with ``params``."""
    cls = detector_class(name)
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise DetectorError(f"{name} has no parameter(s) {unknown}; it takes {cls._param_names()}")
    return cls(**params)


def detector_class(name: str) -> type[Detector]:
    """The registered detector class called ``name``."""
    if name not in DETECTORS:
        raise UnknownDetectorError(f"unknown detector {name!r}; known: {sorted(DETECTORS)}")
    return DETECTORS[name]


def load_detector(source: VerifiedArtifacts) -> Detector:
    """Read a detector saved with ``Detector.save``, whatever its kind, from artifacts the
    registry verified (:meth:`ztad.detection.registry.ModelRegistry.load`).

    Raises
    ------
    ArtifactError
        When ``source`` is a path rather than verified artifacts.
    """
    return detector_class(read_description(verified_folder(source))["name"]).load(source)


__all__ = [
    "ARTIFACT_FORMAT",
    "DETECTORS",
    "ArtifactError",
    "AutoencoderDetector",
    "Detector",
    "DetectorError",
    "ECODDetector",
    "FeatureMismatchError",
    "InsufficientDataError",
    "InvalidFeaturesError",
    "IsolationForestDetector",
    "NotFittedError",
    "OneClassSVMDetector",
    "UnknownDetectorError",
    "VerifiedArtifacts",
    "clone",
    "detector_class",
    "load_detector",
    "make_detector",
]
