"""Versioned, verifiable model artifacts in a folder or an object store.

Layout under the registry root (a local folder or any fsspec URL, e.g. ``s3://bucket/models``)::

    index.json                     every version the registry wrote, with the SHA-256 of its
                                   metadata.json (a listing: nothing is trusted for being in it)
    m-20260315-1a2b3c4d5e6f/
        metadata.json              training interval and rows, feature names, parameters,
                                   library versions, training metrics, SHA-256 of every file
        model/...                  the artifacts written by ``Ensemble.save`` (or a detector's)

**Versions.** ``m-<last training day + 1, YYYYMMDD>-<12 hex>``: the date is the first day the
model may score (training covers ``[start, end)``), the hash digests the training interval,
row count, features, parameters, library versions and the model's scores on its calibration
rows. Retraining on the same data with the same settings yields the same version, and saving it
again returns the existing version without writing anything (idempotent reruns).

**The root of trust.** The index, the metadata and the files all live in the store, so whoever
can write there can rewrite their digests too. The digests a load relies on therefore come from
a :class:`~ztad.detection.registry.trust.RootOfTrust` outside the store, recorded once when the
version is trained and never overwritten: in the pipeline, the findings database's ``models``
table (:class:`ztad.pipeline.FindingsDatabaseTrust`; detection does not import the store, so the
pipeline passes it down). A registry without one saves and lists models but loads none.

**Verified loading.** :meth:`ModelRegistry.load` accepts only version names of the registry's
pattern that the root of trust recorded, checks ``metadata.json`` and every file against the
recorded digests while copying them to a private temporary folder (so what is loaded is what
was checked), refuses files the record does not list, a feature list other than the expected
one, and library versions whose major.minor differ from the installed ones. Only then do the
detectors read the folder (:class:`~ztad.detection.detectors.VerifiedArtifacts`; they read no
bare path). The files themselves cannot run code when read: skops files with a list of trusted
types, ``.npy``/``.npz`` arrays and JSON, no pickle and no serialised network.

On a local root, index updates are serialised with a lock file; on an object store the
registry expects one writer at a time (one nightly job). An empty or corrupt ``index.json`` is
an error naming the file.

**The index in SQL.** :meth:`ModelRegistry.index_record` gives a version's verified facts as
the findings database's ``models`` table keeps them; saving records them in the root of trust,
and the pipeline's write step adds which run trained the model and why, never changing the
digests, so that SQL joins each finding (``findings.model_version``) to the model that raised it.
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
    UntrustedModelError,
)
from ztad.detection.registry.trust import (
    DigestConflictError,
    MemoryTrust,
    RootOfTrust,
    TrustedDigests,
)

__all__ = [
    "INDEX_FILE", "METADATA_FILE", "MODEL_FOLDER", "VERSION_PATTERN", "ArtifactIntegrityError",
    "DigestConflictError", "LibraryVersionError", "MemoryTrust", "ModelRegistry", "RegisteredModel",
    "RegistryError", "RootOfTrust", "TrustedDigests", "UnknownVersionError", "UntrustedModelError",
    "installed_version", "library_mismatches", "library_versions", "sha256_bytes",
]
