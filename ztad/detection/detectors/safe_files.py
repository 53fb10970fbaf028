"""scikit-learn models in files that cannot run code when read (skops, with a list of trusted
types), so that a model file swapped in the artifact store is refused rather than executed.

A pickle (what joblib writes) runs whatever code its bytes name when it is loaded. A skops file
is a zip of JSON and ``.npy`` arrays describing the objects; reading it constructs only the types
that skops trusts by default (scikit-learn estimators, numpy arrays, builtins) and those the
caller names in ``trusted``, and refuses any other. The registry still checks every file against
the digests recorded when the model was trained: this is the second line of defence.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ztad.detection.detectors.base import ArtifactError

#: Types beyond skops' defaults that ztad's saved models hold: the trees of a forest.
TRUSTED_TYPES: tuple[str, ...] = ("sklearn.tree._tree.Tree",)


def _skops_io():
    """``skops.io``, imported with the warnings of its start-up scan silenced.

    On import, skops looks for each of scipy's ufuncs in every loaded module. In a process
    that has loaded Airflow (a task, the demo), Airflow's modules answer each name asked with
    a deprecation warning: over a thousand lines of someone else's warnings in the log.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import skops.io
    return skops.io


def save_model(model, path: Path) -> None:
    """Write a fitted scikit-learn model as a skops file."""
    _skops_io().dump(model, Path(path))


def load_model(path: Path):
    """Read a model written by :func:`save_model`, constructing only trusted types.

    Raises
    ------
    ArtifactError
        When the file is not a skops file or names a type outside the trusted ones.
    """
    skops_io = _skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    path = Path(path)
    try:
        return skops_io.load(path, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as error:
        raise ArtifactError(f"{path.name} holds types ztad does not trust ({error}); refusing it") from None
    except Exception as error:  # noqa: BLE001  (zip, JSON or schema errors: not a file ztad wrote)
        raise ArtifactError(f"{path.name} is not a model file ztad wrote ({type(error).__name__}: {error})") from None
