"""evaluate_scored on scored frames, and evaluate's wiring to the sources and the pipeline."""

from __future__ import annotations

import json
import shutil
import sys
import types
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.ztad.evaluation.synthetic import fake_origin, make_events, make_scored
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.evaluation import EvaluationError
from ztad.evaluation import evaluate as evaluate_module
from ztad.evaluation.evaluate import (
    consecutive_blocks,
    evaluate,
    evaluate_scored,
    ztad_detectors,
)
from ztad.evaluation.origin import OriginSettings

IF_ONLY = OriginSettings(detectors=("isolation_forest",), seed=0)


# --------------------------------------------------------------------------- evaluate_scored


def test_evaluate_scored_measures_ztad_and_origin_side_by_side(scored_frame):
    metrics = evaluate_scored(scored_frame, fake_origin(scored_frame),
                              protocol={"split": "time", "cutoff": "2026-03-09"})
    assert set(metrics["ztad"]) == {"final", "isolation_forest", "robust_z"}
    assert set(metrics["origin"]) == {"isolation_forest"}
    final = metrics["ztad"]["final"]
    # the synthetic ztad ranks anomalies well above the random origin scores
    assert final["roc_auc"] > 0.9 > 0.6 > metrics["origin"]["isolation_forest"]["roc_auc"]
    assert final["operating"]["alerts"] == int(scored_frame["flagged"].sum())
    assert metrics["ztad"]["isolation_forest"]["operating"] is not None
    assert metrics["ztad"]["robust_z"]["operating"] is None  # no flag_robust_z column
    assert metrics["protocol"]["split"] == "time"
    assert metrics["protocol"]["evaluated_events"] == len(scored_frame)
    categories = set(final["at_budget"]["fpr_0.01"]["per_category"])
    assert categories == {"impossible_travel", "large_data_transfer", "off_hours_login"}


def test_events_scored_by_one_side_only_are_left_out_and_counted(scored_frame):
    origin = fake_origin(scored_frame.iloc[:1000])
    metrics = evaluate_scored(scored_frame, origin)
    assert metrics["protocol"]["evaluated_events"] == 1000
    assert metrics["protocol"]["ztad_only_events"] == len(scored_frame) - 1000
    assert metrics["ztad"]["final"]["events"] == metrics["origin"]["isolation_forest"]["events"]


def test_origin_rows_are_matched_by_event_id_not_position(scored_frame):
    shuffled = scored_frame.sample(frac=1.0, random_state=0)
    origin = fake_origin(shuffled)
    in_order = evaluate_scored(scored_frame, origin)["origin"]["isolation_forest"]
    expected = evaluate_scored(shuffled, origin)["origin"]["isolation_forest"]
    assert in_order["roc_auc"] == pytest.approx(expected["roc_auc"])


def test_unlabelled_events_are_dropped_and_counted(scored_frame):
    scored = scored_frame.copy()
    scored.loc[:9, "event_label"] = pd.NA
    metrics = evaluate_scored(scored)
    assert metrics["protocol"]["unlabelled_events"] == 10
    assert metrics["protocol"]["evaluated_events"] == len(scored) - 10


def test_no_event_label_column_is_a_clear_error(scored_frame):
    with pytest.raises(EvaluationError, match="no event_label column"):
        evaluate_scored(scored_frame.drop(columns=["event_label"]))


def test_only_one_class_is_a_clear_error(scored_frame):
    with pytest.raises(EvaluationError, match="only one class"):
        evaluate_scored(scored_frame.assign(event_label="normal"))


def test_missing_score_columns_are_named(scored_frame):
    with pytest.raises(EvaluationError, match=r"\['score', 'flagged'\]"):
        evaluate_scored(scored_frame.drop(columns=["score", "flagged"]))


def test_repeated_event_ids_are_refused(scored_frame):
    scored = scored_frame.copy()
    scored.loc[5, "event_id"] = scored.loc[4, "event_id"]
    with pytest.raises(EvaluationError, match="row 4: field event_id"):
        evaluate_scored(scored)


def test_disjoint_origin_scores_are_refused(scored_frame):
    origin = fake_origin(scored_frame.assign(event_id="other" + scored_frame["event_id"]))
    with pytest.raises(EvaluationError, match="no event was scored by both"):
        evaluate_scored(scored_frame, origin)


def test_detectors_are_read_from_score_columns(scored_frame):
    assert ztad_detectors(scored_frame) == ["isolation_forest", "robust_z"]


def test_consecutive_blocks_split_at_gaps():
    d = date(2026, 3, 1)
    days = [d, d + timedelta(1), d + timedelta(2), d + timedelta(5), d + timedelta(6)]
    assert consecutive_blocks(days) == [(d, d + timedelta(2)), (d + timedelta(5), d + timedelta(6))]


# --------------------------------------------------------------------------- evaluate()


@dataclass
class Loaded:
    events: pd.DataFrame


@pytest.fixture()
def wired(monkeypatch, tmp_path):
    """evaluate() with a stub source and a stub pipeline that score what they are given."""
    events = make_events(n=1500, days=12, seed=9)
    calls = {"run_range": [], "origin_train": None}
    source_module = types.ModuleType("ztad.ingest")

    def available_days(source):
        return sorted(set(events["timestamp"].dt.date))

    def load_range(source, start, end):
        days = events["timestamp"].dt.date
        return Loaded(events[(days >= start) & (days < end)].reset_index(drop=True))

    source_module.available_days = available_days
    source_module.load_range = load_range
    monkeypatch.setitem(sys.modules, "ztad.ingest", source_module)

    from ztad import pipeline

    def run_range(start, end, config, progress=None):
        calls["run_range"].append((start, end, config))
        return []

    def scored_events(day, config):
        return make_scored(events[events["timestamp"].dt.date == day].reset_index(drop=True))

    monkeypatch.setattr(pipeline, "run_range", run_range)
    monkeypatch.setattr(pipeline, "scored_events", scored_events)

    real_run_origin = evaluate_module.run_origin

    def spy_run_origin(train, test, settings):
        calls["origin_train"] = train
        return real_run_origin(train, test, settings)

    monkeypatch.setattr(evaluate_module, "run_origin", spy_run_origin)
    config = JobConfig(source=SourceConfig(root="logs"), home=tmp_path / "home",
                       database_url="postgresql+psycopg://real/findings",
                       detection=DetectionConfig(seed=0))
    return events, calls, config


def test_time_protocol_scores_only_days_from_the_cutoff_and_never_trains_on_them(wired):
    events, calls, config = wired
    cutoff = date(2026, 3, 9)
    lines: list[str] = []
    metrics = evaluate(config.source, cutoff=cutoff, split="time", report_dir=None,
                       config=config, origin_settings=IF_ONLY, progress=lines.append)
    [(start, end, run_config)] = calls["run_range"]
    assert (start, end) == (cutoff, date(2026, 3, 13))
    # the pipeline ran in a throwaway home, on the embedded database, never the real one
    assert Path(run_config.home).parent == config.home
    assert run_config.database_url is None
    assert not Path(run_config.home).exists()
    train_days = set(calls["origin_train"]["timestamp"].dt.date)
    assert max(train_days) < cutoff
    scored_days = set(events.loc[events["timestamp"].dt.date >= cutoff, "timestamp"].dt.date)
    assert not train_days & scored_days
    assert metrics["protocol"]["split"] == "time"
    assert metrics["protocol"]["cutoff"] == "2026-03-09"
    assert metrics["protocol"]["evaluated_events"] == int(
        (events["timestamp"].dt.date >= cutoff).sum())
    assert metrics["origin_sweep"], "the tuning sweep ran"
    assert any("running ztad over 5 days" in line for line in lines)


def test_default_cutoff_leaves_history_days_before_the_first_scored_day(wired, monkeypatch):
    events, calls, config = wired
    monkeypatch.setattr(evaluate_module, "DEFAULT_HISTORY_DAYS", 10)
    metrics = evaluate(config.source, cutoff=None, report_dir=None, config=config,
                       origin_settings=IF_ONLY, sweep=False)
    assert metrics["protocol"]["cutoff"] == "2026-03-12"
    assert calls["run_range"][0][:2] == (date(2026, 3, 12), date(2026, 3, 13))


def test_random_protocol_measures_held_out_events_of_the_scored_days(wired):
    events, calls, config = wired
    cutoff = date(2026, 3, 9)
    metrics = evaluate(config.source, cutoff=cutoff, split="random", report_dir=None,
                       config=config, origin_settings=IF_ONLY, sweep=False)
    train_ids = set(calls["origin_train"]["event_id"])
    assert metrics["protocol"]["split"] == "random"
    assert "stratified random" in metrics["protocol"]["description"]
    # origin trains on every day, and the evaluated events are the held-out ones from cutoff
    assert min(calls["origin_train"]["timestamp"].dt.date) < cutoff
    assert max(calls["origin_train"]["timestamp"].dt.date) >= cutoff
    held_out_scored = events[~events["event_id"].isin(train_ids)
                             & (events["timestamp"].dt.date >= cutoff)]
    assert metrics["protocol"]["evaluated_events"] == len(held_out_scored)


def test_unlabelled_data_fails_before_anything_runs(wired, monkeypatch):
    events, calls, config = wired
    stripped = events.drop(columns=["event_label"])
    monkeypatch.setattr(sys.modules["ztad.ingest"], "load_range",
                        lambda source, start, end: Loaded(stripped))
    with pytest.raises(EvaluationError, match="no event_label column"):
        evaluate(config.source, cutoff=date(2026, 3, 9), report_dir=None, config=config)
    assert calls["run_range"] == []


def test_unknown_split_is_refused(wired):
    _, _, config = wired
    with pytest.raises(ValueError, match="split must be one of"):
        evaluate(config.source, cutoff=None, split="kfold", report_dir=None, config=config)


# --------------------------------------------------------------------------- generated logs


@pytest.fixture(scope="module")
def generated():
    """Ten days of generated logs in the origin CSV's columns; attacks after six clean days."""
    from ztad.synth import generate_events

    events = generate_events(start=date(2026, 3, 2), days=10, users=30, seed=3, clean_days=6,
                             attack_rate=0.03)
    return events.assign(event_id=[f"g{i}" for i in range(len(events))])


def test_origin_and_report_on_generated_logs(generated, tmp_path):
    from ztad.evaluation.origin import run_origin
    from ztad.evaluation.report import PLOTS
    from ztad.evaluation.splits import time_split

    split = time_split(generated, date(2026, 3, 8))
    # the autoencoder is covered in test_origin; TensorFlow would only slow this test down
    settings = OriginSettings(detectors=("isolation_forest", "ocsvm"), seed=0)
    model, origin = run_origin(split.train, split.test, settings)
    # the history before the attacks is clean, so the notebook's rates clip to their floors
    assert (model.training_anomaly_rate, model.contamination, model.nu) == (0.0, 0.001, 0.01)
    assert origin.scores.shape == (len(split.test), 2)
    scored = make_scored(split.test)
    metrics = evaluate_scored(scored, origin, events=generated, report_dir=tmp_path,
                              protocol={"split": "time", "cutoff": "2026-03-08"})
    stored_categories = set(metrics["origin"]["ocsvm"]["at_budget"]["fpr_0.01"]["per_category"])
    attacks = split.test.loc[split.test["event_label"].astype(str) != "normal", "event_label"]
    assert stored_categories == {part for label in attacks.astype(str) for part in label.split("+")}
    # the generator marks hard negatives in scenario; empty markers are ordinary events
    kinds = set(metrics["ztad"]["final"]["operating"]["false_positives_by_scenario"])
    assert "(ordinary)" in kinds and kinds - {"(ordinary)"}
    page = (tmp_path / "report.html").read_text()
    assert all(f"<img id='{plot_id}'" in page for plot_id, _ in PLOTS)
    assert "0" not in metrics["data"]["label_counts"].values()


# --------------------------------------------------------------------------- the real pipeline


@pytest.fixture(scope="module")
def three_attack_days(small_logs, tmp_path_factory) -> Path:
    """The small data set cut after its third attack day, so that two runs stay quick."""
    root = tmp_path_factory.mktemp("three_attack_days")
    for partition in sorted(small_logs.glob("date=*")):
        if date.fromisoformat(partition.name.removeprefix("date=")) <= date(2026, 3, 18):
            shutil.copytree(partition, root / partition.name)
    return root


@pytest.fixture(scope="module")
def evaluated(three_attack_days, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    report = home / "report"
    config = JobConfig(source=SourceConfig(root=str(three_attack_days)), home=home,
                       detection=DetectionConfig(detectors=("isolation_forest", "ecod")))
    metrics = evaluate(config.source, cutoff=date(2026, 3, 16), report_dir=report, config=config,
                       origin_settings=IF_ONLY, sweep=False, ablation=True)
    return metrics, config, report


def test_the_budget_is_reported_per_day_from_the_run_records(evaluated):
    metrics, config, report = evaluated
    budget = metrics["budget"]
    target = config.detection.target_fpr
    assert metrics["protocol"]["target_fpr_from_run_records"] == 3
    assert [row["day"] for row in budget["by_day"]] == ["2026-03-16", "2026-03-17", "2026-03-18"]
    for row in budget["by_day"]:
        assert row["target_fpr"] == target
        assert row["expected_alerts"] == pytest.approx(target * row["events"])
        assert row["model_ratio"] == pytest.approx(row["model_alerts"] / row["expected_alerts"])
        assert row["model_fpr"] == pytest.approx(row["model_fp"] / row["normal_events"])
        assert row["final_alerts"] >= row["model_alerts"]  # rules only add (no feedback here)
    total = budget["total"]
    assert total["events"] == metrics["protocol"]["evaluated_events"] == sum(r["events"] for r in budget["by_day"])
    assert total["model"]["alerts"] == sum(r["model_alerts"] for r in budget["by_day"])
    assert total["model"]["within"] == (abs(total["model"]["ratio"] - 1) <= 0.25)
    stored = json.loads((report / "metrics.json").read_text())
    assert stored["budget"]["total"]["model"]["alerts"] == total["model"]["alerts"]
    page = (report / "report.html").read_text()
    assert "Alert budget: expected and actual alerts per day" in page and "<table class='budget'>" in page


def test_the_ablation_scores_the_same_days_again_without_the_logic(evaluated, three_attack_days):
    metrics, config, report = evaluated
    ablation = metrics["ablation"]
    normal = pd.concat(
        [pd.read_csv(p / "events.csv", dtype=str, keep_default_na=False) for p in sorted(three_attack_days.glob("date=*"))
         if p.name >= "date=2026-03-16"]
    ).query("event_label == 'normal' and scenario != ''")
    expected_kinds = normal["scenario"].value_counts().to_dict()
    for point in ("operating", "fpr_0.01"):
        table = ablation["points"][point]
        assert {k: v["events"] for k, v in table.items() if k in expected_kinds} == expected_kinds
        assert table["all_hard_negatives"]["events"] == len(normal)
        for kind, row in table.items():
            judged = kind == "all_hard_negatives" or (point == "operating" and kind != "(ordinary)")
            assert row["met"] == ((row["with"] <= 0.25 * row["without"]) if judged else None)
    # The second run really ran without the logic: it ranks the events differently.
    assert ablation["runs"]["with"]["roc_auc"] != ablation["runs"]["without"]["roc_auc"]
    assert ablation["runs"]["with"]["roc_auc"] == pytest.approx(metrics["ztad"]["final"]["roc_auc"])
    # Both throwaway folders are gone.
    assert not list(Path(config.home).glob("evaluation-*"))
    assert "ablation" in json.loads((report / "metrics.json").read_text())
    assert "Hard negatives without the known-network and cold-start logic" in (report / "report.html").read_text()
