"""Anomaly detectors with one interface: fit on normal history, higher score = more anomalous.

``DETECTORS`` maps each registered name to its class; :func:`make_detector` builds one by name
and :func:`load_detector` reads any saved one. Importing this package does not import
TensorFlow: the autoencoder imports it when it fits or loads.
"""

from __future__ import annotations

from ztad.detection.detectors.autoencoder import AutoencoderDetector
from ztad.detection.detectors.base import (
    ArtifactError,
    Detector,
    DetectorError,
    FeatureMismatchError,
    InsufficientDataError,
    InvalidFeaturesError,
    NotFittedError,
    clone,
    read_description,
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


def load_detector(path) -> Detector:
    """Read a detector saved with ``Detector.save``, whatever its kind."""
    return detector_class(read_description(path)["name"]).load(path)


__all__ = [
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
    "clone",
    "detector_class",
    "load_detector",
    "make_detector",
]
