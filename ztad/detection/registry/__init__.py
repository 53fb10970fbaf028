"""Versioned, verifiable model artifacts in a folder or an object store.

Layout under the registry root (a local folder or any fsspec URL, e.g. ``s3://bucket/models``)::

    index.json                     every version the registry wrote, with the SHA-256 of its
                                   metadata.json (the root of trust for that version)
    m-20260315-1a2b3c4d5e6f/
        metadata.json              training interval and rows, feature names, parameters,
                                   library versions, training metrics, SHA-256 of every file
        model/...                  the artifacts written by ``Ensemble.save`` (or a detector's)

**Versions.** ``m-<last training day + 1, YYYYMMDD>-<12 hex>``: the date is the first day the
model may score (training covers ``[start, end)``), the hash digests the training interval,
row count, features, parameters, library versions and the model's scores on its calibration
rows. Retraining on the same data with the same settings yields the same version, and saving it
again returns the existing version without writing anything (idempotent reruns).

**Verified loading.** :meth:`ModelRegistry.load` accepts only version names of the registry's
pattern that are listed in its index, checks ``metadata.json`` against the index and every file
against ``metadata.json`` while copying it to a private temporary folder (so what is loaded is
what was checked), refuses files the metadata does not list, a feature list other than the
expected one, and library versions whose major.minor differ from the installed ones. Artifacts
include joblib pickles, which is why nothing is ever loaded from a path the registry did not
write and check.

On a local root, index updates are serialised with a lock file; on an object store the
registry expects one writer at a time (one nightly job).

**The index in SQL.** :meth:`ModelRegistry.index_record` gives a version's verified facts as
the findings database's ``models`` table keeps them; the pipeline's write step upserts that row
in the day's transaction, so that SQL joins each finding (``findings.model_version``) to the
model that raised it. ``index.json`` stays the root of trust for loading.
"""

from ztad.detection.registry.digests import sha256_bytes
from ztad.detection.registry.libraries import (
    installed_version,
    library_mismatches,
    library_versions,
)
from ztad.detection.registry.model_registry import (
    INDEX_FILE,
    METADATA_FILE,
    MODEL_FOLDER,
    VERSION_PATTERN,
    ArtifactIntegrityError,
    LibraryVersionError,
    ModelRegistry,
    RegisteredModel,
    RegistryError,
    UnknownVersionError,
)

__all__ = [
    "INDEX_FILE", "METADATA_FILE", "MODEL_FOLDER", "VERSION_PATTERN", "ArtifactIntegrityError",
    "LibraryVersionError", "ModelRegistry", "RegisteredModel", "RegistryError",
    "UnknownVersionError", "installed_version", "library_mismatches", "library_versions",
    "sha256_bytes",
]
