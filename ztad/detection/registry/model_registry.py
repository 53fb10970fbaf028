"""``ModelRegistry``: versioned model artifacts in a folder or an object store, saved once and
loaded only after their hashes are checked against a root of trust outside the store."""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import fsspec
import numpy as np
from fsspec.implementations.local import LocalFileSystem

from ztad.detection.detectors import (
    ARTIFACT_FORMAT,
    Detector,
    FeatureMismatchError,
    VerifiedArtifacts,
    load_detector,
)
from ztad.detection.ensemble import Ensemble
from ztad.detection.registry.digests import (
    content_digest,
    jsonable,
    sha256_bytes,
)
from ztad.detection.registry.libraries import library_mismatches, library_versions
from ztad.detection.registry.trust import RootOfTrust, TrustedDigests

VERSION_PATTERN = re.compile(r"^m-\d{8}-[0-9a-f]{12}$")


INDEX_FILE = "index.json"


METADATA_FILE = "metadata.json"


MODEL_FOLDER = "model"


METADATA_FORMAT = 1

#: What to do about a version whose files differ from the digests recorded at training.
_RECOVERY = (
    "the artifact store was altered, so nothing of it was loaded. Restore the version's folder "
    "from a backup, or delete its models row (DELETE FROM models WHERE model_version = '{version}') "
    "and retrain"
)
_SAFE_RELATIVE_PATH = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")



class RegistryError(ValueError):
    """The registry cannot do what was asked."""


class UnknownVersionError(RegistryError):
    """No such version in the registry's index (or the name is not a registry version)."""


class ArtifactIntegrityError(RegistryError):
    """A stored artifact differs from what the registry wrote: changed, missing or extra."""


class LibraryVersionError(RegistryError):
    """The model was trained with library versions incompatible with the installed ones."""


class UntrustedModelError(UnknownVersionError):
    """The root of trust holds no digests for the version: it was not trained by this job."""


@dataclass(frozen=True)
class RegisteredModel:
    """A model read from the registry, with its version and verified metadata."""

    version: str
    model: Ensemble | Detector
    metadata: dict


def as_day(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def check_relative_path(path: str) -> str:
    parts = path.split("/")
    if not _SAFE_RELATIVE_PATH.match(path) or any(part in ("", ".", "..") for part in parts):
        raise ArtifactIntegrityError(
            f"metadata lists the file {path!r}, which is not a plain path inside its version "
            "folder; the registry never writes such paths, so the metadata was altered"
        )
    return path


def _model_summary(model) -> dict:
    """Kind, parameters and training metrics the model itself knows."""
    kind = "ensemble" if isinstance(model, Ensemble) else "detector"
    members = model.detectors_ if isinstance(model, Ensemble) else {model.name: model}
    metrics = {
        "threshold": float(model.threshold_),
        "target_fpr": float(model.target_fpr),
        "calibration_rows": int(np.asarray(model.calibration_scores_).size),
    }
    if isinstance(model, Ensemble):
        metrics["fit_seconds"] = model.fit_seconds_
    metrics["members"] = {name: _member_metrics(d) for name, d in members.items()}
    return {
        "kind": kind,
        "name": getattr(model, "name", "ensemble"),
        "params": model.get_params(),
        "metrics": metrics,
    }


def _member_metrics(detector: Detector) -> dict:
    out = {"threshold": float(detector.threshold_)}
    if hasattr(detector, "history_"):
        out["training"] = detector.history_
    return out


class ModelRegistry:
    """Model artifact sets under ``root``, each with verified metadata.

    Parameters
    ----------
    root
        Local folder or fsspec URL.
    trust
        Where each version's digests are recorded when it is trained and checked when it is
        loaded (:class:`~ztad.detection.registry.trust.RootOfTrust`): the findings database in
        the pipeline. Without one the registry can save and list models but loads none.
    storage_options
        Passed to fsspec (credentials come from the environment or these options).
    """

    def __init__(self, root, *, trust: RootOfTrust | None = None, storage_options: dict | None = None):
        self.root = str(root)
        self.trust = trust
        self.fs, self._root = fsspec.core.url_to_fs(self.root, **(storage_options or {}))

    def __repr__(self) -> str:
        return f"ModelRegistry({self.root!r})"

    def _path(self, *parts: str) -> str:
        return posixpath.join(self._root, *parts)

    # ----------------------------------------------------------------- index

    def entries(self) -> list[dict]:
        """Index entries, oldest first: version, trained_from, trained_to, rows, created_at.

        The index lists what the store holds; it is not trusted (loading checks every file
        against the root of trust).

        Raises
        ------
        RegistryError
            When ``index.json`` is empty or not an index the registry wrote, naming the file.
        """
        path = self._path(INDEX_FILE)
        if not self.fs.exists(path):
            return []
        with self.fs.open(path, "rb") as handle:
            text = handle.read()
        where = f"{self.root.rstrip('/')}/{INDEX_FILE}"
        try:
            payload = json.loads(text)
        except ValueError as error:
            state = "is empty" if not text.strip() else f"is not valid JSON ({error})"
            raise RegistryError(
                f"the model index {where} {state}; restore it from a backup, or move it away to "
                "start a new index (models are then trained afresh)"
            ) from None
        versions = payload.get("versions") if isinstance(payload, dict) else None
        if not isinstance(versions, list) or not all(isinstance(e, dict) and "version" in e for e in versions):
            raise RegistryError(
                f"the model index {where} is not an index this registry wrote (no list of versions); "
                "restore it from a backup, or move it away to start a new index"
            )
        return list(versions)

    def versions(self) -> list[str]:
        """Every registered version, oldest first."""
        return [e["version"] for e in self.entries()]

    @staticmethod
    def _check_name(version: str) -> None:
        if not isinstance(version, str) or not VERSION_PATTERN.match(version):
            raise UnknownVersionError(
                f"{version!r} is not a model version of this registry (expected a name like "
                "m-20260315-1a2b3c4d5e6f); models are only loaded by version, never by path"
            )

    def _entry(self, version: str) -> dict:
        self._check_name(version)
        for entry in self.entries():
            if entry["version"] == version:
                return entry
        raise UnknownVersionError(
            f"version {version} is not in the index of {self.root}; known versions: "
            f"{self.versions()[-5:]} (newest last)"
        )

    def latest(self, before: date | None = None) -> str | None:
        """Newest version trained on data strictly before ``before`` (or newest of all).

        "Newest" means the latest end of the training interval, then the latest saved; so a
        backfill of a past day uses the model that existed for it, not a later one.
        """
        limit = as_day(before) if before is not None else None
        candidates = [
            (e["trained_to"], e["created_at"], e["version"])
            for e in self.entries()
            if limit is None or as_day(e["trained_to"]) <= limit
        ]
        return max(candidates)[2] if candidates else None

    @contextlib.contextmanager
    def _index_lock(self):
        if not isinstance(self.fs, LocalFileSystem):
            yield
            return
        import fcntl

        Path(self._root).mkdir(parents=True, exist_ok=True)
        with open(Path(self._root) / ".index.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_index(self, entries: list[dict]) -> None:
        staging = self._path(f".{INDEX_FILE}.{uuid.uuid4().hex}")
        with self.fs.open(staging, "wb") as handle:
            payload = {"format": METADATA_FORMAT, "versions": entries}
            handle.write(json.dumps(payload, indent=2).encode())
        self.fs.mv(staging, self._path(INDEX_FILE))

    # ----------------------------------------------------------------- saving

    def save(
        self,
        model: Ensemble | Detector,
        *,
        trained_on: tuple[date, date],
        rows: int,
        feature_names,
        params: dict | None = None,
        metrics: dict | None = None,
    ) -> str:
        """Store a fitted model with its metadata and return its version.

        Parameters
        ----------
        model
            A fitted :class:`~ztad.detection.ensemble.Ensemble` or detector.
        trained_on
            ``(start, end)``: the training rows came from days ``[start, end)``.
        rows
            Number of training rows.
        feature_names
            The features, in order; must be the model's.
        params
            Job settings to record (e.g. the detection configuration).
        metrics
            Training metrics to record beside those the model knows itself.
        """
        if not getattr(model, "is_fitted", False):
            raise RegistryError("only fitted models can be registered: call fit(X) first")
        names = [str(n) for n in feature_names]
        if model.feature_names_in_ is not None and names != list(model.feature_names_in_):
            raise FeatureMismatchError(
                f"feature_names {names} are not the model's features {model.feature_names_in_}"
            )
        start, end = as_day(trained_on[0]), as_day(trained_on[1])
        if not start < end:
            raise RegistryError(
                f"trained_on must be (start, end) with start < end, got ({start}, {end})"
            )
        if int(rows) <= 0:
            raise RegistryError(f"rows must be positive, got {rows}")
        summary = _model_summary(model)
        description = {
            "trained_on": {"start": start.isoformat(), "end": end.isoformat()},
            "rows": int(rows),
            "feature_names": names,
            "params": params or {},
            "libraries": library_versions(model),
        }
        digest = content_digest(summary, description, model.calibration_scores_)
        version = f"m-{end:%Y%m%d}-{digest[:12]}"
        with self._index_lock():
            entries = self.entries()
            if self._already_saved(version, entries):
                return version
            record = self._publish(version, model, summary, description, metrics or {})
            kept = [e for e in entries if e["version"] != version]
            self._write_index(kept + [self._index_entry(record)])
            if self.trust is not None:
                self.trust.record(version, record)
        return version

    def _already_saved(self, version: str, entries: list[dict]) -> bool:
        """Whether ``version`` is indexed and recorded (indexed, without a root of trust).

        An indexed version the root of trust does not know is written and recorded again; a
        recorded one the index lost is refused rather than overwritten.
        """
        indexed = any(e["version"] == version for e in entries)
        recorded = self.trust is not None and self.trust.digests(version) is not None
        if recorded and not indexed:
            raise ArtifactIntegrityError(
                f"model {version} is recorded in {self.trust.name} but missing from {INDEX_FILE} "
                f"of {self.root}; {_RECOVERY.format(version=version)}"
            )
        return indexed and (recorded or self.trust is None)

    def _publish(
        self, version: str, model, summary: dict, description: dict, metrics: dict
    ) -> dict:
        """Write the version folder via a staging folder: it appears complete or not at all.

        Returns the version's facts (:meth:`index_record`), with the digests of the files as
        they were written here, before they reached the store.
        """
        with tempfile.TemporaryDirectory(prefix="ztad-model-") as tmp:
            local = Path(tmp)
            model.save(local / MODEL_FOLDER)
            files = {
                p.relative_to(local).as_posix(): sha256_bytes(p.read_bytes())
                for p in sorted(local.rglob("*"))
                if p.is_file()
            }
            metadata = {
                "format": METADATA_FORMAT,
                "artifact_format": ARTIFACT_FORMAT,
                "version": version,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                **description,
                "model": {k: summary[k] for k in ("kind", "name", "params")},
                "metrics": {"model": summary["metrics"], **metrics},
                "files": files,
            }
            stored = json.dumps(metadata, indent=2, default=jsonable).encode()
            (local / METADATA_FILE).write_bytes(stored)
            staging = self._path(f".staging-{version}-{uuid.uuid4().hex[:8]}")
            for path in sorted(local.rglob("*")):
                if path.is_file():
                    target = posixpath.join(staging, path.relative_to(local).as_posix())
                    self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
                    self.fs.put_file(str(path), target)
            final = self._path(version)
            if self.fs.exists(final):
                # Left by a save that died before updating the index: never indexed, never loaded.
                self.fs.rm(final, recursive=True)
            self.fs.mv(staging, final, recursive=True)
        return self._record_of(version, json.loads(stored), sha256_bytes(stored))

    @staticmethod
    def _index_entry(record: dict) -> dict:
        return {
            "version": record["model_version"],
            "trained_from": record["trained_from"],
            "trained_to": record["trained_to"],
            "rows": record["training_rows"],
            "created_at": record["trained_at"],
            "metadata_sha256": record["metadata_sha256"],
        }

    # ----------------------------------------------------------------- the index in SQL

    def location(self, version: str) -> str:
        """Folder or URL of ``version``'s artifact set (under the registry root)."""
        self._check_name(version)
        return f"{self.root.rstrip('/')}/{version}"

    def index_record(self, version: str) -> dict:
        """``version``'s facts as the findings database's ``models`` table keeps them.

        Read from the verified metadata, so that what SQL says about a model is what the
        registry checks when loading it: training interval and rows, features, parameters,
        library versions, training metrics, the calibrated threshold and its budget, where
        the artifacts are and the SHA-256 of each file (the keyword arguments of
        :class:`ztad.store.ModelRecord`, without the run that trained it).
        """
        stored = self._verified_metadata_bytes(version)
        return self._record_of(version, json.loads(stored), sha256_bytes(stored))

    def _record_of(self, version: str, meta: dict, metadata_sha256: str) -> dict:
        metrics = dict(meta.get("metrics", {}))
        # A per-feature reference distribution for drift checks: bulky and not a metric.
        metrics.pop("drift_reference", None)
        own = metrics.get("model", {})
        return {
            "model_version": version,
            "trained_at": meta["created_at"],
            "trained_from": meta["trained_on"]["start"],
            "trained_to": meta["trained_on"]["end"],
            "training_rows": int(meta["rows"]),
            "kind": meta["model"]["kind"],
            "detectors": list(own.get("members", {})),
            "feature_names": list(meta["feature_names"]),
            "params": {"model": meta["model"]["params"], **meta.get("params", {})},
            "libraries": dict(meta["libraries"]),
            "metrics": metrics,
            "target_fpr": own.get("target_fpr"),
            "threshold": own.get("threshold"),
            "calibration_rows": own.get("calibration_rows"),
            "artifact_uri": self.location(version),
            "metadata_sha256": metadata_sha256,
            "files": dict(meta["files"]),
        }

    # ----------------------------------------------------------------- loading

    def trusted_digests(self, version: str) -> TrustedDigests:
        """The digests the root of trust recorded for ``version`` when it was trained.

        Raises
        ------
        RegistryError
            Without a root of trust: the registry loads nothing it cannot check.
        UntrustedModelError
            When the root of trust never recorded ``version``.
        """
        self._check_name(version)
        if self.trust is None:
            raise RegistryError(
                f"{self!r} has no root of trust, so it loads no model: give it the digests recorded "
                "at training, ModelRegistry(root, trust=...) (the pipeline passes the findings database)"
            )
        digests = self.trust.digests(version)
        if digests is None:
            raise UntrustedModelError(
                f"model {version} under {self.root} was never recorded in {self.trust.name} when it "
                "was trained, so this job did not train it: refusing to load it; retrain (ztad run "
                "--retrain, DAG Param retrain)"
            )
        return digests

    def _read(self, version: str, relative: str) -> bytes:
        path = self._path(version, relative)
        if not self.fs.exists(path):
            raise ArtifactIntegrityError(f"{relative} of model {version} is missing under {self.root}")
        with self.fs.open(path, "rb") as handle:
            return handle.read()

    def _verified_metadata_bytes(self, version: str) -> bytes:
        """``metadata.json`` of ``version``, checked against the root of trust (against the
        index without one: the facts can then be read, not relied on)."""
        if self.trust is None:
            expected = self._entry(version)["metadata_sha256"]
            source = f"the index {INDEX_FILE}"
        else:
            expected = self.trusted_digests(version).metadata_sha256
            source = f"{self.trust.name} when it was trained"
        stored = self._read(version, METADATA_FILE)
        if sha256_bytes(stored) != expected:
            raise ArtifactIntegrityError(
                f"{METADATA_FILE} of model {version} was changed after the registry wrote it: its "
                f"SHA-256 {sha256_bytes(stored)[:12]}... differs from {expected[:12]}... recorded in "
                f"{source}; {_RECOVERY.format(version=version)}"
            )
        return stored

    def metadata(self, version: str) -> dict:
        """Verified metadata of ``version`` (checked against the root of trust)."""
        return json.loads(self._verified_metadata_bytes(version))

    def load(
        self,
        version: str | None = None,
        *,
        expected_features=None,
        allow_version_mismatch: bool = False,
    ) -> RegisteredModel:
        """Read and verify a model: ``version``, or the newest one when ``None``.

        Raises
        ------
        UnknownVersionError
            The registry holds no models, or not this version.
        ArtifactIntegrityError
            A file was changed, removed or added after the registry wrote the version.
        FeatureMismatchError
            ``expected_features`` differ from the model's features.
        LibraryVersionError
            A recorded library's major.minor differs from the installed one (unless
            ``allow_version_mismatch``).
        """
        if version is None:
            version = self.latest()
            if version is None:
                raise UnknownVersionError(
                    f"the registry at {self.root} holds no models yet: train one first"
                )
        digests = self.trusted_digests(version)
        meta = self.metadata(version)
        if meta.get("files") != digests.files:
            raise ArtifactIntegrityError(
                f"{METADATA_FILE} of model {version} lists other files than {self.trust.name} "
                f"recorded when it was trained; {_RECOVERY.format(version=version)}"
            )
        self._check_features(version, meta, expected_features)
        mismatches = library_mismatches(meta["libraries"])
        if mismatches and not allow_version_mismatch:
            raise LibraryVersionError(
                f"model {version} was trained with other library versions "
                f"({'; '.join(mismatches)}); retrain it with the installed libraries, or load "
                "it with allow_version_mismatch=True"
            )
        with tempfile.TemporaryDirectory(prefix="ztad-model-") as tmp:
            self._fetch_verified(version, digests.files, Path(tmp))
            verified = VerifiedArtifacts(Path(tmp) / MODEL_FOLDER, version)
            model = Ensemble.load(verified) if meta["model"]["kind"] == "ensemble" else load_detector(verified)
        return RegisteredModel(version=version, model=model, metadata=meta)

    @staticmethod
    def _check_features(version: str, meta: dict, expected_features) -> None:
        if expected_features is None:
            return
        expected = [str(n) for n in expected_features]
        if expected != meta["feature_names"]:
            missing = [n for n in meta["feature_names"] if n not in expected]
            extra = [n for n in expected if n not in meta["feature_names"]]
            raise FeatureMismatchError(
                f"model {version} was trained on other features: it lacks {extra} and needs "
                f"{missing}{' (same names, other order)' if not missing and not extra else ''}. "
                "Retrain on the current features"
            )

    def _fetch_verified(self, version: str, files: dict[str, str], target: Path) -> None:
        """Copy the listed files into ``target``, checking each hash and refusing extras."""
        folder = self._path(version)
        stored = {
            posixpath.relpath(p, folder)
            for p in self.fs.find(folder)
        } - {METADATA_FILE}
        listed = {check_relative_path(p) for p in files}
        if stored - listed:
            raise ArtifactIntegrityError(
                f"model {version} holds file(s) the registry did not write: "
                f"{sorted(stored - listed)}; {_RECOVERY.format(version=version)}"
            )
        if listed - stored:
            raise ArtifactIntegrityError(
                f"model {version} lacks file(s) {sorted(listed - stored)}; {_RECOVERY.format(version=version)}"
            )
        for relative, expected in sorted(files.items()):
            with self.fs.open(posixpath.join(folder, relative), "rb") as handle:
                data = handle.read()
            if sha256_bytes(data) != expected:
                raise ArtifactIntegrityError(
                    f"file {relative} of model {version} was changed after the registry wrote it "
                    f"(its SHA-256 differs from the one recorded at training); "
                    f"{_RECOVERY.format(version=version)}"
                )
            local = target / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
