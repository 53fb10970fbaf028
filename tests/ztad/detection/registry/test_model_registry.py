"""Model registry: versioned artifacts, verified loading, point-in-time choice, the index in SQL."""

import hashlib
import json
import re
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pytest

import ztad.detection.registry as registry_module
import ztad.detection.registry.libraries as libraries_module
from tests.ztad.detection.detectors.synthetic import normal_features
from tests.ztad.detection.registry.ensembles import MEMBERS, fitted_ensemble
from ztad.detection.detectors import FeatureMismatchError, make_detector
from ztad.detection.ensemble import Ensemble
from ztad.detection.registry import (
    ArtifactIntegrityError,
    LibraryVersionError,
    MemoryTrust,
    ModelRegistry,
    RegistryError,
    UnknownVersionError,
    UntrustedModelError,
)

MARCH = (date(2026, 3, 1), date(2026, 3, 15))


@pytest.fixture(scope="module")
def model_and_rows():
    return fitted_ensemble()


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "models", trust=MemoryTrust())


def save(registry, model, rows, trained_on=MARCH, **extra):
    return registry.save(
        model,
        trained_on=trained_on,
        rows=len(rows),
        feature_names=list(rows.columns),
        params={"training_days": 14},
        metrics={"train_seconds": 1.5},
        **extra,
    )


def test_round_trip_gives_identical_scores(registry, model_and_rows):
    model, rows = model_and_rows
    version = save(registry, model, rows)
    loaded = registry.load(version, expected_features=list(rows.columns))
    assert loaded.version == version
    probe = normal_features(300, seed=9)
    np.testing.assert_array_equal(loaded.model.score_samples(probe), model.score_samples(probe))
    assert loaded.model.threshold_ == model.threshold_


def test_version_names_the_first_day_the_model_may_score(registry, model_and_rows):
    version = save(registry, *model_and_rows)
    assert version.startswith("m-20260315-")
    assert registry_module.VERSION_PATTERN.match(version)


def test_metadata_records_what_the_model_was_trained_on(registry, model_and_rows):
    model, rows = model_and_rows
    meta = registry.metadata(save(registry, model, rows))
    assert meta["trained_on"] == {"start": "2026-03-01", "end": "2026-03-15"}
    assert meta["rows"] == len(rows)
    assert meta["feature_names"] == list(rows.columns)
    assert meta["params"] == {"training_days": 14}
    assert meta["model"]["kind"] == "ensemble"
    assert list(meta["model"]["params"]["members"]) == list(MEMBERS)
    assert meta["metrics"]["train_seconds"] == 1.5
    assert meta["metrics"]["model"]["threshold"] == model.threshold_
    assert {"numpy", "pandas", "scikit-learn", "ztad"} <= set(meta["libraries"])
    assert meta["libraries"]["numpy"] == np.__version__


def test_metadata_holds_the_sha256_of_every_file(registry, model_and_rows):
    version = save(registry, *model_and_rows)
    folder = Path(registry.root) / version
    meta = registry.metadata(version)
    on_disk = {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "metadata.json"
    }
    assert meta["files"] == on_disk
    assert any(name.endswith(".skops") for name in on_disk)
    assert not any(name.endswith((".joblib", ".pkl", ".pickle", ".keras")) for name in on_disk)


def test_saving_the_same_model_again_is_idempotent(registry, model_and_rows):
    first = save(registry, *model_and_rows)
    second = save(registry, *model_and_rows)
    assert first == second
    assert registry.versions() == [first]


def test_a_model_of_other_data_gets_another_version(registry, model_and_rows):
    other, rows = fitted_ensemble(seed=2)
    assert save(registry, *model_and_rows) != save(registry, other, rows)


def test_latest_before_a_day_is_point_in_time(registry, model_and_rows):
    model, rows = model_and_rows
    other, other_rows = fitted_ensemble(seed=2)
    march = save(registry, model, rows, trained_on=MARCH)
    later = save(registry, other, other_rows, trained_on=(date(2026, 3, 8), date(2026, 3, 22)))
    assert registry.latest(before=date(2026, 3, 14)) is None
    assert registry.latest(before=date(2026, 3, 15)) == march
    assert registry.latest(before=date(2026, 3, 21)) == march
    assert registry.latest(before=date(2026, 3, 22)) == later
    assert registry.latest() == later
    assert registry.load().version == later


def test_object_store_url_round_trip(model_and_rows):
    model, rows = model_and_rows
    registry = ModelRegistry(f"memory://ztad-tests/{uuid.uuid4().hex}", trust=MemoryTrust())
    version = save(registry, model, rows)
    probe = normal_features(50, seed=9)
    loaded = registry.load(version).model
    np.testing.assert_array_equal(loaded.score_samples(probe), model.score_samples(probe))


def test_a_single_detector_can_be_registered(registry):
    rows = normal_features(500, seed=1)
    detector = make_detector("ecod").fit(rows)
    version = save(registry, detector, rows)
    loaded = registry.load(version)
    assert loaded.metadata["model"]["kind"] == "detector"
    np.testing.assert_array_equal(loaded.model.score_samples(rows), detector.score_samples(rows))


def test_a_tampered_artifact_is_refused(registry, model_and_rows):
    version = save(registry, *model_and_rows)
    artifact = Path(registry.root) / version / "model" / "members" / "ocsvm" / "ocsvm.skops"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="ocsvm.skops of model .* was changed"):
        registry.load(version)


def test_tampered_metadata_is_refused(registry, model_and_rows):
    version = save(registry, *model_and_rows)
    path = Path(registry.root) / version / "metadata.json"
    meta = json.loads(path.read_text())
    meta["feature_names"][0] = "renamed"
    path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactIntegrityError, match="metadata.json of model .* was changed"):
        registry.load(version)


def test_a_file_the_registry_did_not_write_is_refused(registry, model_and_rows):
    version = save(registry, *model_and_rows)
    (Path(registry.root) / version / "model" / "extra.joblib").write_bytes(b"payload")
    with pytest.raises(ArtifactIntegrityError, match="did not write: \\['model/extra.joblib'\\]"):
        registry.load(version)


def test_a_missing_file_is_refused(registry, model_and_rows):
    version = save(registry, *model_and_rows)
    (Path(registry.root) / version / "model" / "ensemble.json").unlink()
    expected = "lacks file\\(s\\) \\['model/ensemble.json'\\]"
    with pytest.raises(ArtifactIntegrityError, match=expected):
        registry.load(version)


def test_a_feature_mismatch_is_refused_on_load(registry, model_and_rows):
    model, rows = model_and_rows
    version = save(registry, model, rows)
    expected = [*rows.columns[:-1], "new_feature"]
    message = "lacks \\['new_feature'\\] and needs \\['rarity'\\]"
    with pytest.raises(FeatureMismatchError, match=message):
        registry.load(version, expected_features=expected)


def test_feature_names_other_than_the_models_are_refused_on_save(registry, model_and_rows):
    model, rows = model_and_rows
    with pytest.raises(FeatureMismatchError, match="not the model's features"):
        registry.save(model, trained_on=MARCH, rows=10, feature_names=list(rows.columns)[::-1])


def test_library_version_mismatch_is_refused(registry, model_and_rows, monkeypatch):
    version = save(registry, *model_and_rows)
    real = libraries_module.installed_version
    monkeypatch.setattr(
        libraries_module,
        "installed_version",
        lambda name: "0.1.0" if name == "scikit-learn" else real(name),
    )
    with pytest.raises(LibraryVersionError, match="scikit-learn trained 1\\.\\d+.*installed 0.1.0"):
        registry.load(version)
    assert registry.load(version, allow_version_mismatch=True).version == version


@pytest.mark.parametrize(
    "version",
    ["../outside", "/tmp/model", "m-20260315-../../x", "model", "m-20260315-0123456789ab"],
)
def test_only_recorded_versions_are_loaded_never_paths(registry, model_and_rows, version):
    save(registry, *model_and_rows)
    with pytest.raises(UnknownVersionError):
        registry.load(version)


def test_an_empty_registry_says_so(registry):
    with pytest.raises(UnknownVersionError, match="holds no models yet"):
        registry.load()
    assert registry.latest() is None and registry.versions() == []


@pytest.mark.parametrize(
    "trained_on, rows, message",
    [
        ((date(2026, 3, 15), date(2026, 3, 15)), 10, "start < end"),
        (MARCH, 0, "rows must be positive"),
    ],
)
def test_invalid_training_description_is_refused(
    registry, model_and_rows, trained_on, rows, message
):
    model, frame = model_and_rows
    with pytest.raises(RegistryError, match=message):
        registry.save(model, trained_on=trained_on, rows=rows, feature_names=list(frame.columns))


def test_an_unfitted_model_is_refused(registry):
    with pytest.raises(RegistryError, match="only fitted models"):
        registry.save(Ensemble(), trained_on=MARCH, rows=1, feature_names=["a"])


def test_index_record_states_the_verified_facts_of_a_version(registry, model_and_rows):
    model, rows = model_and_rows
    version = registry.save(
        model, trained_on=MARCH, rows=len(rows), feature_names=list(rows.columns),
        params={"training_days": 14}, metrics={"train_seconds": 1.5, "drift_reference": {"bins": [1]}},
    )
    record = registry.index_record(version)
    entry = next(e for e in registry.entries() if e["version"] == version)
    meta = registry.metadata(version)

    assert record["model_version"] == version
    assert (record["trained_from"], record["trained_to"]) == ("2026-03-01", "2026-03-15")
    assert record["training_rows"] == len(rows)
    assert record["feature_names"] == list(rows.columns)
    assert record["kind"] == "ensemble" and record["detectors"] == list(MEMBERS)
    assert record["params"]["training_days"] == 14 and record["params"]["model"] == meta["model"]["params"]
    assert record["libraries"] == meta["libraries"] and "numpy" in record["libraries"]
    assert record["threshold"] == model.threshold_ and record["target_fpr"] == model.target_fpr
    assert record["calibration_rows"] == np.asarray(model.calibration_scores_).size
    assert record["metrics"]["train_seconds"] == 1.5
    assert "drift_reference" not in record["metrics"]  # a reference distribution, not a metric
    assert record["trained_at"] == meta["created_at"]
    assert record["metadata_sha256"] == entry["metadata_sha256"]
    # The location holds exactly the listed files, each with the recorded SHA-256.
    folder = Path(record["artifact_uri"])
    assert folder == Path(registry.root) / version
    for relative, digest in record["files"].items():
        assert hashlib.sha256((folder / relative).read_bytes()).hexdigest() == digest
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk - {"metadata.json"} == set(record["files"])
    assert hashlib.sha256((folder / "metadata.json").read_bytes()).hexdigest() == record["metadata_sha256"]


def test_index_record_refuses_an_unknown_or_altered_version(registry, model_and_rows):
    version = save(registry, *model_and_rows)
    with pytest.raises(UnknownVersionError):
        registry.index_record("m-20260315-0123456789ab")
    path = Path(registry.root) / version / "metadata.json"
    path.write_text(path.read_text().replace('"rows"', '"rows" ', 1))
    with pytest.raises(ArtifactIntegrityError):
        registry.index_record(version)


# --------------------------------------------------------------------------- the root of trust


class _TouchOnLoad:
    """Unpickling it creates a marker file: a stand-in for a model file that runs code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def code_running_pickle(marker: Path) -> bytes:
    import pickle

    return pickle.dumps(_TouchOnLoad(marker))


def rewrite_digests(registry, version: str, changes: dict[str, bytes | None]) -> None:
    """What an attacker with write access to the store does: change files, then recompute
    their SHA-256 in metadata.json and the metadata's in index.json."""
    folder = Path(registry.root) / version
    meta = json.loads((folder / "metadata.json").read_text())
    for relative, data in changes.items():
        (folder / relative).write_bytes(data)
        meta["files"][relative] = hashlib.sha256(data).hexdigest()
    stored = json.dumps(meta, indent=2).encode()
    (folder / "metadata.json").write_bytes(stored)
    index_path = Path(registry.root) / "index.json"
    index = json.loads(index_path.read_text())
    for entry in index["versions"]:
        if entry["version"] == version:
            entry["metadata_sha256"] = hashlib.sha256(stored).hexdigest()
    index_path.write_text(json.dumps(index))


def test_the_payload_really_runs_code_when_unpickled(tmp_path):
    import pickle

    pickle.loads(code_running_pickle(tmp_path / "ran"))
    assert (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    "relative", ["model/members/isolation_forest/isolation_forest.skops", "model/members/isolation_forest/isolation_forest.joblib"]
)
def test_a_model_file_swapped_for_code_with_rewritten_digests_is_refused(registry, model_and_rows, tmp_path, relative):
    version = save(registry, *model_and_rows)
    recorded = registry.trust.digests(version)
    marker = tmp_path / "code-ran"
    rewrite_digests(registry, version, {relative: code_running_pickle(marker)})
    assert registry.entries()[0]["metadata_sha256"] != recorded.metadata_sha256  # the index agrees with the attacker

    with pytest.raises(ArtifactIntegrityError, match="metadata.json of model .* was changed") as error:
        registry.load(version)
    assert "\n" not in str(error.value) and "recorded in the digests this process recorded" in str(error.value)
    assert not marker.exists()
    assert registry.trust.digests(version) == recorded


def test_metadata_restored_but_a_file_swapped_is_refused(registry, model_and_rows, tmp_path):
    version = save(registry, *model_and_rows)
    marker = tmp_path / "code-ran"
    artifact = Path(registry.root) / version / "model" / "members" / "isolation_forest" / "isolation_forest.skops"
    artifact.write_bytes(code_running_pickle(marker))
    with pytest.raises(ArtifactIntegrityError, match="isolation_forest.skops of model .* was changed"):
        registry.load(version)
    assert not marker.exists()


def test_even_a_file_the_digests_let_through_cannot_run_code(tmp_path):
    # The second line of defence: model files are read as data, never unpickled.
    from ztad.detection.detectors import ArtifactError
    from ztad.detection.detectors.safe_files import load_model

    path = tmp_path / "isolation_forest.skops"
    path.write_bytes(code_running_pickle(tmp_path / "code-ran"))
    with pytest.raises(ArtifactError, match="is not a model file ztad wrote"):
        load_model(path)
    assert not (tmp_path / "code-ran").exists()


def test_a_skops_file_naming_an_untrusted_type_is_refused(tmp_path):
    import skops.io
    from sklearn.pipeline import FunctionTransformer

    from ztad.detection.detectors import ArtifactError
    from ztad.detection.detectors.safe_files import load_model

    path = tmp_path / "model.skops"
    skops.io.dump(FunctionTransformer(func=print), path)
    with pytest.raises(ArtifactError, match="holds types ztad does not trust"):
        load_model(path)


def test_without_a_root_of_trust_nothing_is_loaded(tmp_path, model_and_rows):
    untrusted = ModelRegistry(tmp_path / "models")
    version = save(untrusted, *model_and_rows)
    assert untrusted.metadata(version)["version"] == version  # facts can still be read
    with pytest.raises(RegistryError, match="has no root of trust, so it loads no model"):
        untrusted.load(version)


def test_a_version_the_root_of_trust_never_recorded_is_refused(tmp_path, model_and_rows):
    version = save(ModelRegistry(tmp_path / "models"), *model_and_rows)  # trained elsewhere
    with pytest.raises(UntrustedModelError, match=f"model {version} .* was never recorded in the digests this process recorded"):
        ModelRegistry(tmp_path / "models", trust=MemoryTrust()).load(version)


def test_saving_records_the_digests_of_the_files_as_written(registry, model_and_rows):
    version = save(registry, *model_and_rows)
    recorded = registry.trust.digests(version)
    folder = Path(registry.root) / version
    assert recorded.metadata_sha256 == hashlib.sha256((folder / "metadata.json").read_bytes()).hexdigest()
    assert recorded.files == registry.index_record(version)["files"]


def test_saving_a_version_the_root_of_trust_lost_writes_and_records_it_again(tmp_path, model_and_rows):
    version = save(ModelRegistry(tmp_path / "models"), *model_and_rows)
    trusted = ModelRegistry(tmp_path / "models", trust=MemoryTrust())
    assert save(trusted, *model_and_rows) == version
    assert trusted.versions() == [version]
    assert trusted.load(version).version == version


def test_a_recorded_version_missing_from_the_index_is_not_overwritten(registry, model_and_rows):
    version = save(registry, *model_and_rows)
    folder = Path(registry.root) / version
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    (Path(registry.root) / "index.json").write_text('{"versions": []}')
    with pytest.raises(ArtifactIntegrityError, match=f"model {version} is recorded in .* but missing from index.json"):
        save(registry, *model_and_rows)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_a_conflicting_record_is_refused():
    from ztad.detection.registry import DigestConflictError

    trust = MemoryTrust()
    trust.record("m-20260315-0123456789ab", {"metadata_sha256": "a" * 64, "files": {"x": "b" * 64}})
    trust.record("m-20260315-0123456789ab", {"metadata_sha256": "a" * 64, "files": {"x": "b" * 64}})
    with pytest.raises(DigestConflictError, match="recorded before with other digests"):
        trust.record("m-20260315-0123456789ab", {"metadata_sha256": "c" * 64, "files": {"x": "b" * 64}})


@pytest.mark.parametrize(
    "content, message",
    [(b"", "is empty"), (b"{not json", "is not valid JSON"), (b'{"versions": 3}', "is not an index this registry wrote")],
)
def test_an_empty_or_corrupt_index_is_an_error_naming_the_file(registry, content, message):
    (Path(registry.root)).mkdir(parents=True, exist_ok=True)
    (Path(registry.root) / "index.json").write_bytes(content)
    with pytest.raises(RegistryError, match=f"the model index {re.escape(registry.root)}/index.json {message}"):
        registry.latest()


def test_detectors_are_not_read_from_a_bare_path(registry, model_and_rows):
    from ztad.detection.detectors import ArtifactError, load_detector

    version = save(registry, *model_and_rows)
    member = Path(registry.root) / version / "model" / "members" / "ecod"
    with pytest.raises(ArtifactError, match="read only through the model registry"):
        load_detector(member)
    with pytest.raises(ArtifactError, match="read only through the model registry"):
        Ensemble.load(Path(registry.root) / version / "model")
