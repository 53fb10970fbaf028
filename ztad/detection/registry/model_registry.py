"""``ModelRegistry``: versioned model artifacts in a folder or an object store, saved once and
loaded only after their hashes are checked."""

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

from ztad.detection.detectors import Detector, FeatureMismatchError, load_detector
from ztad.detection.ensemble import Ensemble
from ztad.detection.registry.digests import (
    content_digest,
    jsonable,
    sha256_bytes,
)
from ztad.detection.registry.libraries import library_mismatches, library_versions

VERSION_PATTERN = re.compile(r"^m-\d{8}-[0-9a-f]{12}$")


INDEX_FILE = "index.json"


METADATA_FILE = "metadata.json"


MODEL_FOLDER = "model"


METADATA_FORMAT = 1
_SAFE_RELATIVE_PATH = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")



class RegistryError(ValueError):
    """The registry cannot do what was asked."""


class UnknownVersionError(RegistryError):
    """No such version in the registry's index (or the name is not a registry version)."""


class ArtifactIntegrityError(RegistryError):
    """A stored artifact differs from what the registry wrote: changed, missing or extra."""


class LibraryVersionError(RegistryError):
    """The model was trained with library versions incompatible with the installed ones."""


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
    storage_options
        Passed to fsspec (credentials come from the environment or these options).
    """

    def __init__(self, root, *, storage_options: dict | None = None):
        self.root = str(root)
        self.fs, self._root = fsspec.core.url_to_fs(self.root, **(storage_options or {}))

    def __repr__(self) -> str:
        return f"ModelRegistry({self.root!r})"

    def _path(self, *parts: str) -> str:
        return posixpath.join(self._root, *parts)

    # ----------------------------------------------------------------- index

    def entries(self) -> list[dict]:
        """Index entries, oldest first: version, trained_from, trained_to, rows, created_at."""
        path = self._path(INDEX_FILE)
        if not self.fs.exists(path):
            return []
        with self.fs.open(path, "rb") as handle:
            payload = json.loads(handle.read())
        return list(payload.get("versions", []))

    def versions(self) -> list[str]:
        """Every registered version, oldest first."""
        return [e["version"] for e in self.entries()]

    def _entry(self, version: str) -> dict:
        if not isinstance(version, str) or not VERSION_PATTERN.match(version):
            raise UnknownVersionError(
                f"{version!r} is not a model version of this registry (expected a name like "
                "m-20260315-1a2b3c4d5e6f); models are only loaded by version, never by path"
            )
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
            if version in self.versions():
                return version
            self._publish(version, model, summary, description, metrics or {})
            self._write_index(self.entries() + [self._index_entry(version, description)])
        return version

    def _publish(
        self, version: str, model, summary: dict, description: dict, metrics: dict
    ) -> None:
        """Write the version folder via a staging folder: it appears complete or not at all."""
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
                "version": version,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                **description,
                "model": {k: summary[k] for k in ("kind", "name", "params")},
                "metrics": {"model": summary["metrics"], **metrics},
                "files": files,
            }
            (local / METADATA_FILE).write_text(
                json.dumps(metadata, indent=2, default=jsonable)
            )
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

    def _index_entry(self, version: str, description: dict) -> dict:
        with self.fs.open(self._path(version, METADATA_FILE), "rb") as handle:
            stored = handle.read()
        return {
            "version": version,
            "trained_from": description["trained_on"]["start"],
            "trained_to": description["trained_on"]["end"],
            "rows": description["rows"],
            "created_at": json.loads(stored)["created_at"],
            "metadata_sha256": sha256_bytes(stored),
        }

    # ----------------------------------------------------------------- the index in SQL

    def location(self, version: str) -> str:
        """Folder or URL of ``version``'s artifact set (under the registry root)."""
        self._entry(version)
        return f"{self.root.rstrip('/')}/{version}"

    def index_record(self, version: str) -> dict:
        """``version``'s facts as the findings database's ``models`` table keeps them.

        Read from the verified metadata, so that what SQL says about a model is what the
        registry checks when loading it: training interval and rows, features, parameters,
        library versions, training metrics, the calibrated threshold and its budget, where
        the artifacts are and the SHA-256 of each file (the keyword arguments of
        :class:`ztad.store.ModelRecord`, without the run that trained it).
        """
        entry = self._entry(version)
        meta = self.metadata(version)
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
            "metadata_sha256": entry["metadata_sha256"],
            "files": dict(meta["files"]),
        }

    # ----------------------------------------------------------------- loading

    def metadata(self, version: str) -> dict:
        """Verified metadata of ``version`` (checked against the index)."""
        entry = self._entry(version)
        path = self._path(version, METADATA_FILE)
        if not self.fs.exists(path):
            raise ArtifactIntegrityError(
                f"{METADATA_FILE} of {version} is missing under {self.root}"
            )
        with self.fs.open(path, "rb") as handle:
            stored = handle.read()
        if sha256_bytes(stored) != entry["metadata_sha256"]:
            raise ArtifactIntegrityError(
                f"{METADATA_FILE} of {version} was changed after the registry wrote it "
                "(its SHA-256 differs from the index); retrain instead of loading it"
            )
        return json.loads(stored)

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
        meta = self.metadata(version)
        self._check_features(version, meta, expected_features)
        mismatches = library_mismatches(meta["libraries"])
        if mismatches and not allow_version_mismatch:
            raise LibraryVersionError(
                f"model {version} was trained with other library versions "
                f"({'; '.join(mismatches)}); retrain it with the installed libraries, or load "
                "it with allow_version_mismatch=True"
            )
        with tempfile.TemporaryDirectory(prefix="ztad-model-") as tmp:
            self._fetch_verified(version, meta["files"], Path(tmp))
            folder = Path(tmp) / MODEL_FOLDER
            if meta["model"]["kind"] == "ensemble":
                model = Ensemble.load(folder)
            else:
                model = load_detector(folder)
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
                f"{sorted(stored - listed)}"
            )
        if listed - stored:
            raise ArtifactIntegrityError(f"model {version} lacks file(s) {sorted(listed - stored)}")
        for relative, expected in sorted(files.items()):
            with self.fs.open(posixpath.join(folder, relative), "rb") as handle:
                data = handle.read()
            if sha256_bytes(data) != expected:
                raise ArtifactIntegrityError(
                    f"file {relative} of model {version} was changed after the registry wrote it "
                    "(SHA-256 mismatch); retrain instead of loading it"
                )
            local = target / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
