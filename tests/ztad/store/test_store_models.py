"""The registry's index in the ``models`` table: typed round trip, idempotent upserts, one
transaction with the day, and the join from findings to the model that raised them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.ztad.store import sample
from ztad.store import FindingsStore, ModelDigestConflictError, ModelRecord
from ztad.store import store as store_module

VERSION = "m-20240305-0123456789ab"


def test_a_model_round_trips_with_its_types(store):
    written = sample.model(train_reason="no model was trained before 2024-03-05",
                           trained_for_day=sample.DAY, run_id="run-a")
    store.record_model(written)
    (row,) = store.models().to_dict("records")
    assert row["model_version"] == VERSION
    assert row["trained_at"] == pd.Timestamp("2024-03-05T00:30:00Z")
    assert (row["trained_from"], row["trained_to"]) == (date(2024, 2, 20), date(2024, 3, 5))
    assert row["training_rows"] == 12_345 and row["calibration_rows"] == 2_000
    assert row["feature_names"] == written.feature_names
    assert row["params"] == written.params and row["libraries"] == written.libraries
    assert row["metrics"]["model"]["members"]["ecod"]["threshold"] == 2.0
    assert row["files"] == written.files and row["detectors"] == ["isolation_forest", "ecod"]
    assert (row["target_fpr"], row["threshold"]) == (0.01, 2.5)
    assert row["train_reason"].startswith("no model") and row["run_id"] == "run-a"
    assert row["trained_for_day"] == sample.DAY
    assert row["registered_at"] is not pd.NaT


def test_writing_a_model_again_is_idempotent_and_loading_keeps_the_training_run(store):
    trained = sample.model(train_reason="retraining every 7 day(s)", trained_for_day=sample.DAY, run_id="run-a")
    store.record_model(trained)
    first = store.models()
    store.record_model(trained)
    pd.testing.assert_frame_equal(store.models(), first)
    # A later run that only loaded the model leaves who trained it, and why, in place.
    store.record_model(sample.model())
    pd.testing.assert_frame_equal(store.models(), first)
    # A rerun that trained it again says so.
    store.record_model(sample.model(train_reason="a retrain was requested for this run",
                                    trained_for_day=sample.DAY, run_id="run-b"))
    (row,) = store.models().to_dict("records")
    assert (row["train_reason"], row["run_id"]) == ("a retrain was requested for this run", "run-b")


@pytest.mark.parametrize(
    "changes, what",
    [({"metadata_sha256": "99" * 32}, "metadata.json digest"),
     ({"files": {"model/ensemble.json": "cd" * 32, "model/extra.joblib": "00" * 32}}, "file digests")],
)
def test_a_models_digests_are_never_overwritten(store, changes, what):
    store.record_model(sample.model(train_reason="first training", trained_for_day=sample.DAY, run_id="run-a"))
    before = store.models()
    tampered = sample.model(run_id="run-b", **changes)
    with pytest.raises(ModelDigestConflictError, match=f"model {VERSION}: its {what} differ .* never overwritten"):
        store.record_model(tampered)
    with pytest.raises(ModelDigestConflictError):
        store.replace_day(sample.run(), sample.findings(["e1"]), model=tampered)
    pd.testing.assert_frame_equal(store.models(), before)
    assert store.findings().empty


def test_model_digests_are_what_the_row_recorded(store):
    assert store.model_digests(VERSION) is None  # no models table yet
    store.record_model(sample.model())
    assert store.model_digests(VERSION) == (sample.model().metadata_sha256, sample.model().files)
    assert store.model_digests("m-20240305-ffffffffffff") is None


def test_the_day_and_its_model_are_written_in_one_transaction(store, monkeypatch):
    def fail(connection, run):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(store_module, "_upsert_run", fail)
    with pytest.raises(RuntimeError, match="died"):
        store.replace_day(sample.run(), sample.findings(["e1"]), model=sample.model())
    assert store.models().empty and store.findings().empty

    monkeypatch.undo()
    store.replace_day(sample.run(), sample.findings(["e1", "e2"]), model=sample.model())
    assert store.models()["model_version"].tolist() == [VERSION]


def test_findings_join_to_their_model_in_sql(store):
    findings = sample.findings(["e1", "e2"]).assign(model_version=VERSION)
    store.replace_day(sample.run(model_version=VERSION), findings, model=sample.model(
        train_reason="no model was trained before 2024-03-05", trained_for_day=sample.DAY, run_id="run-a"))
    store.replace_day(sample.run("run-c", day=sample.NEXT_DAY), sample.findings(["e3"], day=sample.NEXT_DAY),
                      model=None)  # a model the index does not hold
    with store.engine.connect() as connection:
        joined = connection.execute(sa.text(
            "SELECT f.finding_id, m.trained_from, m.training_rows, m.train_reason "
            "FROM findings f JOIN models m ON m.model_version = f.model_version ORDER BY f.finding_id"
        )).all()
        view = connection.execute(sa.text(
            "SELECT finding_id, model_threshold, target_fpr, train_reason FROM model_findings ORDER BY finding_id"
        )).all()
    assert [row[0] for row in joined] == ["2024-03-05:e1", "2024-03-05:e2"]
    assert {str(row[1]) for row in joined} == {"2024-02-20"} and {row[2] for row in joined} == {12_345}
    assert [row[0] for row in view] == ["2024-03-05:e1", "2024-03-05:e2", "2024-03-06:e3"]
    assert view[0][1:] == (2.5, 0.01, "no model was trained before 2024-03-05")
    assert view[2][1:] == (None, None, None)  # left join: the finding shows, its model facts are NULL


def test_daily_budget_shows_each_days_latest_successful_run(store):
    store.replace_day(sample.run("run-a"), sample.findings(["e1"]))
    later = sample.run("run-b", rows_model_flagged=2, rows_scored=100, expected_alerts=1.0,
                       finished_at=pd.Timestamp("2024-03-06T05:00:00Z"))
    store.replace_day(later, sample.findings(["e1"]))
    store.record_run(sample.run("run-c", status="failed", finished_at=pd.Timestamp("2024-03-06T06:00:00Z")))
    with store.engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT day, run_id, expected_alerts, rows_model_flagged, model_to_expected FROM daily_budget"
        )).all()
    assert [(str(r[0]), r[1], r[2], r[3], r[4]) for r in rows] == [("2024-03-05", "run-b", 1.0, 2, 2.0)]


def test_a_model_record_checks_its_values():
    with pytest.raises(ValueError, match="non-empty model_version"):
        sample.model("")
    with pytest.raises(ValueError, match=r"training interval \[2024-03-05, 2024-03-05\) is empty"):
        sample.model(trained_from="2024-03-05")
    record = sample.model(trained_from="2024-02-20", trained_at="2024-03-05T00:30:00+00:00", training_rows="7")
    assert record.trained_from == date(2024, 2, 20) and record.training_rows == 7
    assert ModelRecord.run_fields() == ("train_reason", "trained_for_day", "run_id")


@pytest.mark.postgres
def test_model_documents_are_jsonb_on_postgres(empty_postgres_url):
    with FindingsStore(empty_postgres_url) as store:
        store.create_schema()
        store.record_model(sample.model())
        with store.engine.connect() as connection:
            names = connection.execute(sa.text(
                "SELECT jsonb_array_length(feature_names), files ->> 'model/ensemble.json', "
                "(params -> 'detection' ->> 'target_fpr')::float8 FROM models"
            )).one()
    assert names == (3, "cd" * 32, 0.01)
