"""Content digests of model artifacts: SHA-256 of bytes and of canonical JSON."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

import numpy as np


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(payload) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=jsonable).encode()


def jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} value {value!r} cannot be stored in model metadata")




def content_digest(summary: dict, description: dict, calibration_scores: np.ndarray) -> str:
    """What identifies a trained model: its inputs and its scores on calibration rows."""
    digest = hashlib.sha256(canonical_json({"model": summary["params"], **description}))
    digest.update(np.ascontiguousarray(calibration_scores, dtype=np.float64).tobytes())
    return digest.hexdigest()
