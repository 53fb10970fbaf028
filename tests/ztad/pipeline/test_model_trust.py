"""The findings database as the model registry's root of trust, on real runs of the job."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ztad.cli import main
from ztad.detection.registry import TrustedDigests, UntrustedModelError
from ztad.pipeline import FindingsDatabaseTrust, model_registry
from ztad.store import FindingsStore

DAY = date(2026, 3, 16)
FAST = "isolation_forest,ecod"


class _TouchOnLoad:
    """Unpickling it creates a marker file: a model file that runs code when loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def tamper(model_folder: Path, relative: str, data: bytes) -> None:
    """Write ``data`` as a model file and recompute its SHA-256 in metadata.json and that of
    metadata.json in index.json: everything an attacker who can write to the store can do."""
    (model_folder / relative).write_bytes(data)
    meta = json.loads((model_folder / "metadata.json").read_text())
    meta["files"][relative] = hashlib.sha256(data).hexdigest()
    stored = json.dumps(meta, indent=2).encode()
    (model_folder / "metadata.json").write_bytes(stored)
    index_path = model_folder.parent / "index.json"
    index = json.loads(index_path.read_text())
    for entry in index["versions"]:
        if entry["version"] == model_folder.name:
            entry["metadata_sha256"] = hashlib.sha256(stored).hexdigest()
    index_path.write_text(json.dumps(index))


def run(home: Path, logs: Path, day: date, *extra: str) -> int:
    return main(["run", "--home", str(home), "--logs", str(logs), "--day", day.isoformat(), "--detectors", FAST, *extra])


@pytest.fixture(scope="module")
def trained_home(small_logs, tmp_path_factory):
    """A home whose first scored day trained a model (shared: copy it before changing it)."""
    home = tmp_path_factory.mktemp("trained") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("ZTAD_DATABASE_URL", raising=False)
        assert run(home, small_logs, DAY) == 0
    return home


@pytest.fixture
def trained(trained_home, tmp_path, monkeypatch, capsys):
    """A copy of the trained home, its model's version and its models row."""
    monkeypatch.delenv("ZTAD_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    capsys.readouterr()
    models = FindingsStore(f"sqlite:///{home / 'findings.db'}").models()
    assert len(models) == 1
    return home, models["model_version"].iloc[0], models


@pytest.mark.parametrize(
    "relative",
    [
        "model/members/isolation_forest/isolation_forest.skops",  # the forest swapped for code
        "model/members/isolation_forest/isolation_forest.joblib",  # code added where joblib lived
    ],
)
def test_a_model_swapped_for_code_with_rewritten_digests_is_refused(trained, small_logs, tmp_path, capsys, relative):
    home, version, models_before = trained
    marker = tmp_path / "the-payload-ran"
    tamper(home / "models" / version, relative, pickle.dumps(_TouchOnLoad(marker)))

    code = run(home, small_logs, DAY + timedelta(days=1))  # the model is a day old: loaded, not retrained

    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("ztad: error: metadata.json of model ")
    assert version in error and "was changed after the registry wrote it" in error
    assert "the findings database's models table when it was trained" in error
    assert not marker.exists()
    store = FindingsStore(f"sqlite:///{home / 'findings.db'}")
    pd.testing.assert_frame_equal(store.models(), models_before)
    assert store.findings(day=DAY + timedelta(days=1)).empty


def test_a_retrain_of_the_same_data_does_not_launder_a_tampered_model(trained, small_logs, tmp_path, capsys):
    home, version, models_before = trained
    marker = tmp_path / "the-payload-ran"
    tamper(home / "models" / version, "model/members/isolation_forest/isolation_forest.skops",
           pickle.dumps(_TouchOnLoad(marker)))
    assert run(home, small_logs, DAY, "--retrain") == 2
    assert "DELETE FROM models WHERE model_version" in capsys.readouterr().err
    assert not marker.exists()
    pd.testing.assert_frame_equal(FindingsStore(f"sqlite:///{home / 'findings.db'}").models(), models_before)


def test_an_untampered_model_is_loaded_by_a_later_day(trained, small_logs, capsys):
    # Saturday: fewer events than drift_min_rows, so only the trust check decides. A weekday
    # retrains on drift here: the small set's 14 days of history start from an empty baseline.
    home, version, _ = trained
    assert run(home, small_logs, DAY + timedelta(days=5)) == 0
    assert f"model {version}, loaded" in capsys.readouterr().out


def test_the_database_trust_reads_and_records_digests_once(tmp_path):
    from ztad.store import ModelDigestConflictError

    trust = FindingsDatabaseTrust(f"sqlite:///{tmp_path / 'findings.db'}")
    version = "m-20260316-0123456789ab"
    assert trust.digests(version) is None
    facts = {
        "model_version": version, "trained_at": "2026-03-16T00:10:00+00:00", "trained_from": "2026-03-02",
        "trained_to": "2026-03-16", "training_rows": 10, "feature_names": ["a"], "artifact_uri": "/m",
        "metadata_sha256": "ab" * 32, "files": {"model/ensemble.json": "cd" * 32},
    }
    trust.record(version, facts)
    trust.record(version, facts)
    assert trust.digests(version) == TrustedDigests("ab" * 32, {"model/ensemble.json": "cd" * 32})
    with pytest.raises(ModelDigestConflictError):
        trust.record(version, {**facts, "metadata_sha256": "ef" * 32})
    assert trust.digests(version).metadata_sha256 == "ab" * 32


def test_the_jobs_registry_loads_only_what_the_database_recorded(trained, tmp_path):
    from ztad.config import JobConfig, SourceConfig

    home, version, _ = trained
    config = JobConfig(source=SourceConfig(root="unused"), home=home)
    assert model_registry(config).load(version).version == version
    other = config.with_overrides(database_url=f"sqlite:///{tmp_path / 'other.db'}")
    with pytest.raises(UntrustedModelError, match="never recorded in the findings database's models table"):
        model_registry(other).load(version)
