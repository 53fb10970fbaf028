"""The write step: which alerts still tell the baseline when a user works, which event fields it
reads, and the day learnt by a forked copy of the process beside its findings."""

from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from ztad.behaviour.rules import RULES
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.pipeline.steps import write_findings as steps
from ztad.pipeline.steps.write_findings import rows_raised_for_hour_alone, write_findings


def _scored(model_flag: list[bool], **rules: list[bool]) -> pd.DataFrame:
    n = len(model_flag)
    columns = {f"rule_{code}": rules.get(code, [False] * n) for code in RULES}
    return pd.DataFrame({"model_flag": model_flag, "rule_hit": [False] * n, **columns})


def test_only_the_off_hours_rule_alone_raises_a_login_for_its_hour():
    scored = _scored([False, True, False, False, False],
                     off_hours=[True, True, True, False, False],
                     new_device_new_place=[False, False, True, False, True])
    assert rows_raised_for_hour_alone(scored).tolist() == [True, False, False, False, False]


def test_a_day_scored_without_the_off_hours_rule_raises_nothing_for_its_hour():
    scored = pd.DataFrame({"model_flag": [True, False], "rule_hit": [False, False]})
    assert rows_raised_for_hour_alone(scored).tolist() == [False, False]


def test_the_event_fields_read_are_those_findings_quote_and_the_baseline_learns():
    from ztad.behaviour.baselines import REQUIRED_COLUMNS
    from ztad.pipeline.steps.write_findings import event_columns
    from ztad.schema import CANONICAL_COLUMNS

    read = event_columns(list(CANONICAL_COLUMNS))
    assert read == [c for c in CANONICAL_COLUMNS if c in read]  # in the file's order
    assert {"event_id", "event_label", "asn", *REQUIRED_COLUMNS} <= set(read)
    assert not {"source_row", "scenario", "attack_id", "as_org", "auth_method"} & set(read)


def test_findings_are_built_from_the_event_fields_the_write_step_reads():
    from datetime import date

    from ztad.findings.build import build_findings
    from ztad.pipeline.steps.write_findings import event_columns
    from ztad.schema import CANONICAL_COLUMNS

    events = pd.DataFrame({c: ["x"] for c in event_columns(list(CANONICAL_COLUMNS))})
    scored = pd.DataFrame({"model_flag": [True], "score": [0.9], "threshold": [0.5], "ensemble_score": [0.9]})
    findings = build_findings(day=date(2026, 3, 16), events=events, scored=scored,
                              reasons=pd.Series([[{"code": "deviation", "text": "t"}]]),
                              model_version="m", run_id="r")
    assert findings["finding_id"].tolist() == ["2026-03-16:x"]


# --------------------------------------------------------------------------- the day learnt beside its findings

FIRST_SCORED = date(2026, 3, 16)  # the small data set's attacks start after 14 clean days


def _config(logs, home) -> JobConfig:
    return JobConfig(source=SourceConfig(root=str(logs)), home=home,
                     detection=DetectionConfig(detectors=("isolation_forest", "ecod")))


@pytest.fixture(scope="module")
def scored_home(small_logs, tmp_path_factory):
    """A home after the first scored day of the small data set: its work files and findings."""
    from ztad import pipeline

    home = tmp_path_factory.mktemp("scored") / "home"
    pipeline.run_day(FIRST_SCORED, _config(small_logs, home))
    return home


@pytest.fixture
def home(scored_home, small_logs, tmp_path):
    """A copy of ``scored_home`` and its configuration."""
    copy = tmp_path / "home"
    shutil.copytree(scored_home, copy)
    return _config(small_logs, copy)


@pytest.fixture
def learnt_by(monkeypatch, tmp_path):
    """The pids of the processes that learnt a day, one a line, as the write step learns it."""
    log = tmp_path / "learnt_by"
    real = steps._learn_day

    def learn(*args):
        with log.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return real(*args)

    monkeypatch.setattr(steps, "_learn_day", learn)
    return lambda: [int(pid) for pid in log.read_text().split()] if log.exists() else []


@pytest.fixture
def learning_beside(monkeypatch):
    """Every day learnt by a forked copy beside its findings, however small."""
    monkeypatch.setattr(steps, "LEARN_BESIDE_MIN_EVENTS", 0)


@contextmanager
def _another_thread_running():
    """A thread alive beside this one: no copy of the process is forked meanwhile."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        yield
    finally:
        release.set()
        other.join()


def _learnt(config: JobConfig) -> dict:
    """What the write step left of the day: its aggregate's tables, training file, applied
    verdicts and stored findings (without the run's own ids and times)."""
    from ztad.behaviour.baselines import aggregate_dir
    from ztad.feedback import applied_fingerprint
    from ztad.pipeline import training_features_path
    from ztad.store import FindingsStore

    folder = aggregate_dir(config.state_dir, FIRST_SCORED)
    with FindingsStore(config.resolved_database_url) as store:
        findings = store.findings(day=FIRST_SCORED).drop(columns=["run_id", "created_at", "updated_at"])
    return {
        "aggregate": {p.name: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))},
        "training": pd.read_parquet(training_features_path(config, FIRST_SCORED)),
        "verdicts": applied_fingerprint(config.state_dir, FIRST_SCORED),
        "findings": findings.sort_values("finding_id", ignore_index=True),
    }


def _assert_same(left: dict, right: dict) -> None:
    assert left["aggregate"].keys() == right["aggregate"].keys() and left["aggregate"]
    for name, table in left["aggregate"].items():
        pd.testing.assert_frame_equal(table, right["aggregate"][name])
    pd.testing.assert_frame_equal(left["training"], right["training"])
    assert left["verdicts"] == right["verdicts"]
    pd.testing.assert_frame_equal(left["findings"], right["findings"])
    assert len(left["findings"]) > 0


def _forget_the_day(config: JobConfig) -> None:
    """Remove what learning the day wrote, so that only a new learning can bring it back."""
    from ztad.behaviour.baselines import aggregate_dir
    from ztad.pipeline import training_features_path

    shutil.rmtree(aggregate_dir(config.state_dir, FIRST_SCORED))
    training_features_path(config, FIRST_SCORED).unlink()


def test_the_day_is_learnt_by_a_forked_copy_as_it_is_learnt_here(home, tmp_path, learnt_by, learning_beside):
    _forget_the_day(home)
    write_findings(FIRST_SCORED, home, run_id="forked")
    (copy,) = learnt_by()
    assert copy != os.getpid()

    here = _config(home.source.root, tmp_path / "here")
    shutil.copytree(home.home, here.home)
    _forget_the_day(here)
    with _another_thread_running():
        write_findings(FIRST_SCORED, here, run_id="here")
    assert learnt_by()[1:] == [os.getpid()]
    _assert_same(_learnt(home), _learnt(here))


def test_a_small_day_is_learnt_here_after_its_findings(home, scored_home, learnt_by):
    assert steps.LEARN_BESIDE_MIN_EVENTS > 10_000  # the small data set's day is far below it
    _forget_the_day(home)
    write_findings(FIRST_SCORED, home, run_id="small")
    assert learnt_by() == [os.getpid()]
    _assert_same(_learnt(home), _learnt(_config(home.source.root, scored_home)))


def test_a_copy_that_fails_leaves_the_learning_to_this_process(home, scored_home, monkeypatch, learnt_by,
                                                              learning_beside):
    parent, real = os.getpid(), steps._learn_day

    def fails_in_the_copy(*args):
        if os.getpid() != parent:
            os._exit(3)
        return real(*args)

    monkeypatch.setattr(steps, "_learn_day", fails_in_the_copy)
    _forget_the_day(home)
    write_findings(FIRST_SCORED, home, run_id="again")
    assert learnt_by() == [parent]
    _assert_same(_learnt(home), _learnt(_config(home.source.root, scored_home)))


def test_a_dry_run_learns_nothing(home, learnt_by, learning_beside):
    from ztad.behaviour.baselines import aggregate_dir
    from ztad.pipeline import training_features_path

    _forget_the_day(home)
    result = write_findings(FIRST_SCORED, home, run_id="dry", dry_run=True)
    assert result["dry_run"] and result["findings"] > 0
    assert learnt_by() == []
    assert not aggregate_dir(home.state_dir, FIRST_SCORED).exists()
    assert not training_features_path(home, FIRST_SCORED).exists()


def test_the_day_is_learnt_with_the_verdicts_of_the_findings_stored(home, learnt_by, learning_beside):
    """A confirmed finding that the rerun no longer raises leaves with the store write: its
    event, unflagged now, is learnt, as when the day was learnt after the store write."""
    from ztad.feedback import applied_fingerprint
    from ztad.pipeline import scored_events, training_features_path
    from ztad.store import FindingsStore, tables

    scored = scored_events(FIRST_SCORED, home)
    unflagged = scored.loc[~scored["flagged"], "event_id"].iloc[0]
    with FindingsStore(home.resolved_database_url) as store:
        stored = store.findings(day=FIRST_SCORED).iloc[0].to_dict()
        gone = {**stored, "finding_id": f"{FIRST_SCORED}:{unflagged}", "event_id": unflagged,
                "status": "confirmed", "incident_id": None}
        with store.engine.begin() as connection:
            connection.execute(sa.insert(tables.findings), [{k: v for k, v in gone.items() if k != "id"}])

    write_findings(FIRST_SCORED, home, run_id="rerun")

    copy, here = learnt_by()
    assert copy != os.getpid() and here == os.getpid()  # learnt again with the verdicts stored
    assert applied_fingerprint(home.state_dir, FIRST_SCORED) == {"false_positive": [], "confirmed": []}
    assert unflagged in set(pd.read_parquet(training_features_path(home, FIRST_SCORED))["event_id"])


def test_after_a_failed_store_write_a_rerun_leaves_the_day_as_a_run_that_did_not_fail(home, scored_home, learning_beside):
    """The copy may have learnt the day when the store write fails; the rerun writes the same."""
    from ztad.store import FindingsStore

    refuse = "CREATE TRIGGER refuse BEFORE INSERT ON findings BEGIN SELECT RAISE(ABORT, 'refused'); END"
    with FindingsStore(home.resolved_database_url) as store, store.engine.begin() as connection:
        connection.execute(sa.text(refuse))
    _forget_the_day(home)
    with pytest.raises(sa.exc.IntegrityError, match="refused"):
        write_findings(FIRST_SCORED, home, run_id="fails")
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the copy was stopped and reaped
    with FindingsStore(home.resolved_database_url) as store, store.engine.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER refuse"))

    write_findings(FIRST_SCORED, home, run_id="rerun")
    _assert_same(_learnt(home), _learnt(_config(home.source.root, scored_home)))
