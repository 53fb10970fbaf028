"""The findings database as the model registry's root of trust, and the registry the job uses.

When a model is trained, its ``models`` row records the SHA-256 of its ``metadata.json`` and
of every file, once; a later load checks the artifact store against that row. The database is
reached through the job's findings connection, which whoever can write to the artifact store
(a shared folder, a bucket) need not hold. Detection does not import the store, so the
pipeline builds the registry with this root of trust and passes it down.
"""

from __future__ import annotations

from ztad.config import JobConfig
from ztad.detection.registry import ModelRegistry, TrustedDigests


class FindingsDatabaseTrust:
    """Digests of each trained model, in the findings database's ``models`` table.

    Parameters
    ----------
    database_url
        The findings database (``JobConfig.resolved_database_url``).
    """

    name = "the findings database's models table"

    def __init__(self, database_url: str):
        self.database_url = database_url

    def __repr__(self) -> str:
        from ztad.store import safe_url

        return f"FindingsDatabaseTrust({safe_url(self.database_url)!r})"

    def digests(self, version: str) -> TrustedDigests | None:
        """The digests the ``models`` row of ``version`` recorded, or ``None`` without a row."""
        from ztad.store import FindingsStore

        with FindingsStore(self.database_url) as store:
            found = store.model_digests(version)
        return None if found is None else TrustedDigests(metadata_sha256=found[0], files=found[1])

    def record(self, version: str, facts: dict) -> None:
        """Write the ``models`` row of a newly trained version (never overwriting a stored one)."""
        from ztad.store import FindingsStore, ModelRecord

        with FindingsStore(self.database_url) as store:
            store.create_schema()
            store.record_model(ModelRecord(**facts))


def model_registry(config: JobConfig) -> ModelRegistry:
    """The job's model registry (``<home>/models``), trusting the findings database's digests.

    What the CLI, the DAG's tasks and anything else that scores with the job's models load
    them through: ``model_registry(config).load(version)``.
    """
    return ModelRegistry(config.model_dir, trust=FindingsDatabaseTrust(config.resolved_database_url))
