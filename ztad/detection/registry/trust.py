"""The registry's root of trust: where the digests of a model's files are kept, out of reach of
whoever can write to the artifact store.

The artifact store (a folder or a bucket) holds the model files, their ``metadata.json`` and the
``index.json`` that lists the versions. Anyone who can write there can also rewrite the digests
kept there, so those digests prove nothing. A :class:`RootOfTrust` keeps, for each version, the
SHA-256 of its ``metadata.json`` and of every file, recorded once when the model was trained
and never overwritten; :meth:`ztad.detection.registry.ModelRegistry.load` checks the stored
files against it and refuses anything else.

In production the root of trust is the findings database's ``models`` table (the pipeline
passes :class:`ztad.pipeline.FindingsDatabaseTrust` down: detection does not import the
store). :class:`MemoryTrust` keeps the digests in the process, for tests and for a model
trained and used by one program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class TrustedDigests:
    """What a version's files must hash to, as recorded when it was trained."""

    metadata_sha256: str
    files: dict[str, str]


class RootOfTrust(Protocol):
    """Keeps each version's digests, written once, somewhere the artifact store's writers cannot reach."""

    #: Where the digests are kept, in words, for error messages.
    name: str

    def digests(self, version: str) -> TrustedDigests | None:
        """The digests recorded for ``version``, or ``None`` when it was never recorded."""

    def record(self, version: str, facts: dict) -> None:
        """Record a newly trained version: ``facts`` are the keyword arguments of
        :class:`ztad.store.ModelRecord` (``metadata_sha256`` and ``files`` among them). A version
        recorded before keeps its digests; recording other ones for it is an error."""


class DigestConflictError(ValueError):
    """A version is being recorded with digests other than those recorded for it before."""


@dataclass
class MemoryTrust:
    """A root of trust held in the process (tests, or training and scoring in one program)."""

    recorded: dict[str, TrustedDigests] = field(default_factory=dict)
    name: str = "the digests this process recorded"

    def digests(self, version: str) -> TrustedDigests | None:
        return self.recorded.get(version)

    def record(self, version: str, facts: dict) -> None:
        new = TrustedDigests(str(facts["metadata_sha256"]), dict(facts["files"]))
        old = self.recorded.setdefault(version, new)
        if old != new:
            raise DigestConflictError(f"model {version} was recorded before with other digests")
