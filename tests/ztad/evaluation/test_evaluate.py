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
    calls = {"run_range": [], "origin_train": None, "sweep_events": [], "sweep_fit": []}
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
    real_sweep, real_fit = evaluate_module.tuning_sweep, evaluate_module.fit_origin

    def spy_sweep(model, sweep_events, **kwargs):
        calls["sweep_events"].append(sweep_events)
        return real_sweep(model, sweep_events, **kwargs)

    def spy_fit(train, settings):
        calls["sweep_fit"].append(train)
        return real_fit(train, settings)

    monkeypatch.setattr(evaluate_module, "tuning_sweep", spy_sweep)
    monkeypatch.setattr(evaluate_module, "fit_origin", spy_fit)
    config = JobConfig(source=SourceConfig(root="logs"), home=tmp_path / "home",
                       database_url="postgresql+psycopg://real/findings",
                       detection=DetectionConfig(seed=0))
    return events, calls, config


def test_time_protocol_scores_days_from_the_cutoff_and_the_origin_method_trains_before_it(wired):
    events, calls, config = wired
    cutoff = date(2026, 3, 9)
    lines: list[str] = []
    metrics = evaluate(config.source, cutoff=cutoff, split="time", report_dir=None, config=config,
                       origin_settings=IF_ONLY, progress=lines.append, validation_days=3)
    walk_forward, frozen = calls["run_range"]
    for start, end, run_config in (walk_forward, frozen):
        assert (start, end) == (cutoff, date(2026, 3, 13))
        # the pipeline ran in a throwaway home, on the embedded database, never the real one
        assert Path(run_config.home).parent == config.home
        assert run_config.database_url is None
        assert not Path(run_config.home).exists()
    # walk-forward keeps the retrain policy; frozen never retrains within the scored days
    assert walk_forward[2].detection.retrain_every_days == config.detection.retrain_every_days
    assert frozen[2].detection.retrain_every_days > 5 and frozen[2].detection.psi_threshold == float("inf")
    train_days = set(calls["origin_train"]["timestamp"].dt.date)
    assert max(train_days) < cutoff
    scored_days = set(events.loc[events["timestamp"].dt.date >= cutoff, "timestamp"].dt.date)
    assert not train_days & scored_days
    assert metrics["protocol"]["split"] == "time"
    assert metrics["protocol"]["cutoff"] == "2026-03-09"
    assert metrics["protocol"]["evaluated_events"] == int(
        (events["timestamp"].dt.date >= cutoff).sum())
    assert "retrain" in metrics["protocol"]["ztad"] and "never" in metrics["protocol"]["ztad"]
    assert "trained once at the cut-off" in metrics["protocol"]["ztad_frozen"]
    assert set(metrics["ztad_frozen"]) == set(metrics["ztad"])
    assert set(metrics["ztad_modes"]) == {"walk_forward", "frozen"}
    assert metrics["origin_sweep"], "the tuning sweep ran"
    assert any("running ztad (walk-forward) over 5 days" in line for line in lines)
    assert any("running ztad (frozen: trained once at 2026-03-09)" in line for line in lines)


def test_the_tuning_sweep_never_sees_a_scored_day(wired):
    events, calls, config = wired
    cutoff = date(2026, 3, 9)
    metrics = evaluate(config.source, cutoff=cutoff, split="time", report_dir=None, config=config,
                       origin_settings=IF_ONLY, frozen=False, validation_days=3)
    [swept] = calls["sweep_events"]
    [fitted] = calls["sweep_fit"]
    swept_days = set(swept["timestamp"].dt.date)
    assert swept_days == {date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 8)}  # the last 3 days before the cut-off
    assert max(fitted["timestamp"].dt.date) < min(swept_days)  # its model never fit on them either
    scored_ids = set(events.loc[events["timestamp"].dt.date >= cutoff, "event_id"])
    assert not scored_ids & set(swept["event_id"]) and not scored_ids & set(fitted["event_id"])
    about = metrics["origin_sweep_protocol"]
    assert about["ran"] and about["validation_events"] == len(swept) and "2026-03-06..2026-03-08" in about["validation"]
    assert {row["rows"] for row in metrics["origin_sweep"]} == {len(swept)}


def test_the_sweep_that_cannot_validate_says_why_and_does_not_fall_back_to_test_days(wired):
    _, calls, config = wired
    metrics = evaluate(config.source, cutoff=date(2026, 3, 9), split="time", report_dir=None, config=config,
                       origin_settings=IF_ONLY, frozen=False, validation_days=7)
    assert calls["sweep_events"] == [] and metrics["origin_sweep"] == []
    assert metrics["origin_sweep_protocol"] == {
        "ran": False,
        "reason": "the history before the cut-off has 7 day(s) with data: too few to hold out 7 "
                  "validation day(s) and fit on the days before them",
    }


def test_a_validation_slice_without_anomalies_skips_the_sweep(wired, monkeypatch):
    events, calls, config = wired
    clean_history = events.assign(event_label=events["event_label"].where(events["timestamp"].dt.date >= date(2026, 3, 9), "normal"))
    monkeypatch.setattr(sys.modules["ztad.ingest"], "load_range", lambda source, start, end: Loaded(clean_history))
    metrics = evaluate(config.source, cutoff=date(2026, 3, 9), report_dir=None, config=config,
                       origin_settings=IF_ONLY, frozen=False, validation_days=3)
    assert not metrics["origin_sweep_protocol"]["ran"] and calls["sweep_events"] == []
    reason = metrics["origin_sweep_protocol"]["reason"]
    assert reason.startswith("its validation events (the last 3 days of history, 2026-03-06..2026-03-08")
    assert "hold 0 anomalous and " in reason and reason.endswith("tuning needs both (choose a later cut-off)")


def test_default_cutoff_leaves_history_days_before_the_first_scored_day(wired, monkeypatch):
    events, calls, config = wired
    monkeypatch.setattr(evaluate_module, "DEFAULT_HISTORY_DAYS", 10)
    metrics = evaluate(config.source, cutoff=None, report_dir=None, config=config,
                       origin_settings=IF_ONLY, sweep=False, frozen=False)
    assert metrics["protocol"]["cutoff"] == "2026-03-12"
    assert calls["run_range"][0][:2] == (date(2026, 3, 12), date(2026, 3, 13))


def test_random_protocol_measures_held_out_events_of_the_scored_days(wired):
    events, calls, config = wired
    cutoff = date(2026, 3, 9)
    metrics = evaluate(config.source, cutoff=cutoff, split="random", report_dir=None,
                       config=config, origin_settings=IF_ONLY, frozen=False)
    train_ids = set(calls["origin_train"]["event_id"])
    assert metrics["protocol"]["split"] == "random"
    assert "stratified random" in metrics["protocol"]["description"]
    # origin trains on every day, and the evaluated events are the held-out ones from cutoff
    assert min(calls["origin_train"]["timestamp"].dt.date) < cutoff
    assert max(calls["origin_train"]["timestamp"].dt.date) >= cutoff
    held_out_scored = events[~events["event_id"].isin(train_ids)
                             & (events["timestamp"].dt.date >= cutoff)]
    assert metrics["protocol"]["evaluated_events"] == len(held_out_scored)
    # the random protocol's sweep validates on a share of the training events only
    [swept] = calls["sweep_events"]
    assert set(swept["event_id"]) <= train_ids


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
    # Retraining every day, the walk-forward run uses a new model each day; the frozen one keeps
    # the model trained at the cut-off.
    config = JobConfig(source=SourceConfig(root=str(three_attack_days)), home=home,
                       detection=DetectionConfig(detectors=("isolation_forest", "ecod"), retrain_every_days=1))
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


def test_walk_forward_retrains_on_scored_days_and_frozen_keeps_the_cutoff_model(evaluated):
    metrics, _, report = evaluated
    days = ["2026-03-16", "2026-03-17", "2026-03-18"]
    walk, frozen = metrics["ztad_modes"]["walk_forward"], metrics["ztad_modes"]["frozen"]
    assert walk["trained_days"] == days and walk["distinct_models"] == 3
    assert frozen["trained_days"] == ["2026-03-16"] and frozen["distinct_models"] == 1
    assert [frozen["models"][d]["model_action"] for d in days] == ["trained", "loaded", "loaded"]
    # Both trained at the cut-off on the same history (their versions differ: the settings differ).
    assert walk["models"]["2026-03-16"]["model_action"] == "trained"
    assert metrics["ztad_frozen"]["final"]["roc_auc"] != metrics["ztad"]["final"]["roc_auc"]
    page = (report / "report.html").read_text()
    assert "<th>ztad (walk-forward)</th><th>ztad frozen</th>" in page
    assert "frozen: 1 model(s), trained on 2026-03-16" in page


def test_the_report_explains_ztads_own_registered_model_with_shap(evaluated):
    from ztad.behaviour.features import FEATURE_NAMES

    metrics, _, report = evaluated
    last_model = metrics["ztad_modes"]["walk_forward"]["models"]["2026-03-18"]["model_version"]
    own = [title for title in metrics["shap"] if title.startswith("ztad isolation_forest")]
    assert own == [f"ztad isolation_forest ({last_model}, scoring 2026-03-18)"]
    facts = metrics["shap"][own[0]]
    assert facts["model_version"] == last_model and facts["rows"] > 100
    assert set(facts["mean_abs_shap"]) == set(FEATURE_NAMES)
    values = list(facts["mean_abs_shap"].values())
    assert values == sorted(values, reverse=True) and values[0] > 0
    assert "origin isolation_forest" in metrics["shap"]
    page = (report / "report.html").read_text()
    assert f"registered as <code>{last_model}</code>" in page
    assert "<img id='plot-shap' alt='SHAP summary of the Isolation Forest member of the ztad ensemble'" in page


def test_attacks_are_counted_per_attack_id_and_incidents_as_the_job_filed_them(evaluated, three_attack_days):
    metrics, _, report = evaluated
    scored_days = [p for p in sorted(three_attack_days.glob("date=*")) if p.name >= "date=2026-03-16"]
    events = pd.concat([pd.read_csv(p / "events.csv", dtype=str, keep_default_na=False) for p in scored_days])
    attack_ids = events.loc[events["event_label"] != "normal", "attack_id"]
    assert (attack_ids != "").all()
    operating = metrics["ztad"]["final"]["operating"]
    assert operating["attacks"]["attacks"] == attack_ids.nunique() < len(attack_ids)
    incidents = operating["incidents"]
    assert incidents["scored_days"] == 3
    # The job files a user's flagged events of a day under one incident (a source's under one).
    assert 0 < incidents["incidents"] < operating["alerts"]
    assert incidents["false_incidents"] == sum(incidents["false_by_day"].values())
    page = (report / "report.html").read_text()
    assert "Attacks caught and false incidents (what the analyst sees)" in page
