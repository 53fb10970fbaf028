"""report.html holds every plot and the summary; metrics.json holds every number."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from tests.ztad.evaluation.synthetic import fake_origin
from ztad.evaluation.evaluate import evaluate_scored
from ztad.evaluation.report import PLOTS, jsonable, summary_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def images_of(page: str) -> dict[str, tuple[str, bytes]]:
    """Element id -> (alt text, decoded PNG) of every embedded image."""
    found = re.finditer(
        r"<img id='([^']+)' alt='([^']*)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    return {m.group(1): (m.group(2), base64.b64decode(m.group(3))) for m in found}


@pytest.fixture(scope="module")
def tree_model(labelled_events):
    from sklearn.ensemble import IsolationForest

    X = labelled_events[["bytes_transferred"]].assign(hour=labelled_events["timestamp"].dt.hour)
    X = X.astype(float)
    return IsolationForest(n_estimators=20, random_state=0).fit(X), X.iloc[:60]


@pytest.fixture(scope="module")
def written(tmp_path_factory, scored_frame, labelled_events, tree_model):
    folder = tmp_path_factory.mktemp("report")
    metrics = evaluate_scored(
        scored_frame,
        fake_origin(scored_frame),
        events=labelled_events,
        protocol={"split": "time", "description": "time split: history before 2026-03-09",
                  "cutoff": "2026-03-09"},
        shap_models={"a small forest": tree_model},
        report_dir=folder,
    )
    return folder, metrics


def test_report_and_metrics_files_are_written(written):
    folder, _ = written
    assert (folder / "report.html").stat().st_size > 10_000
    assert (folder / "metrics.json").stat().st_size > 1_000


def test_report_embeds_every_plot_as_a_png(written):
    folder, _ = written
    images = images_of((folder / "report.html").read_text())
    for plot_id, alt in PLOTS:
        assert plot_id in images, f"{plot_id} missing from the report"
        assert images[plot_id][0] == alt
        assert images[plot_id][1].startswith(PNG_SIGNATURE)
        assert len(images[plot_id][1]) > 2_000, f"{plot_id} is an empty picture"


def test_report_is_self_contained(written):
    page = (written[0] / "report.html").read_text()
    assert not re.search(r"(src|href)=['\"](?!data:)", page)


def test_report_says_which_split_and_compares_with_the_origin(written):
    page = (written[0] / "report.html").read_text()
    assert "<th>split protocol</th><td>time</td>" in page
    assert "origin isolation_forest" in page
    assert "ztad vs best origin" in page
    assert "Origin method: tuning sweep" in page


def test_metrics_json_holds_the_returned_numbers_without_nan(written):
    folder, metrics = written
    text = (folder / "metrics.json").read_text()
    assert "NaN" not in text
    stored = json.loads(text)
    final = stored["ztad"]["final"]
    assert final["roc_auc"] == pytest.approx(metrics["ztad"]["final"]["roc_auc"])
    assert final["at_budget"]["fpr_0.01"]["per_category"] == \
        metrics["ztad"]["final"]["at_budget"]["fpr_0.01"]["per_category"]
    assert stored["origin"]["isolation_forest"]["pr_auc"] == pytest.approx(
        metrics["origin"]["isolation_forest"]["pr_auc"])
    assert stored["protocol"]["split"] == "time"


def test_a_report_without_origin_or_tree_model_still_has_every_plot(tmp_path, scored_frame):
    evaluate_scored(scored_frame, report_dir=tmp_path)
    images = images_of((tmp_path / "report.html").read_text())
    assert {plot_id for plot_id, _ in PLOTS} <= set(images)


def test_summary_marks_a_missed_category_and_where_ztad_is_behind(scored_frame):
    scored = scored_frame.copy()
    missed = (scored["event_label"] == "off_hours_login").to_numpy()
    scored.loc[missed, "score"] = -1.0  # ztad ranks this category below every normal event
    origin = fake_origin(scored)
    origin.scores.loc[:, "isolation_forest"] = np.where(
        (scored["event_label"] != "normal").to_numpy(), 10.0, origin.scores["isolation_forest"])
    table = summary_table(evaluate_scored(scored, origin))
    row = re.search(r"<tr><th>recall @ 1% FPR: off_hours_login \(\d+ events\)</th>(.*?)</tr>",
                    table).group(1)
    first_cell = re.match(r"<td class=\"([^\"]*)\">0.000</td>", row)
    assert first_cell and set(first_cell.group(1).split()) == {"behind", "miss"}
    roc = re.search(r"<tr><th>ROC-AUC</th><td class=\"(\w+)\"", table).group(1)
    assert roc == "behind"


def _roc_cell_class(scored, origin) -> str:
    table = summary_table(evaluate_scored(scored, origin))
    return re.search(r"<tr><th>ROC-AUC</th><td class=\"(\w+)\"", table).group(1)


def test_summary_marks_a_win_and_a_tie(scored_frame):
    perfect = scored_frame.assign(
        score=(scored_frame["event_label"] != "normal").astype(float).to_numpy())
    assert _roc_cell_class(perfect, fake_origin(perfect)) == "win"
    origin = fake_origin(perfect)
    origin.scores.loc[:, "isolation_forest"] = perfect["score"].to_numpy()
    assert _roc_cell_class(perfect, origin) == "tie"


def test_jsonable_turns_non_finite_numbers_into_null():
    assert jsonable({"a": float("nan"), "b": np.float64(np.inf), "c": [np.int64(3), True]}) == {
        "a": None, "b": None, "c": [3, True]}


def test_budget_and_ablation_tables_show_one_row_per_day_and_per_kind(scored_frame, tmp_path):
    from ztad.evaluation.report import ablation_table, budget_table

    scored = scored_frame.assign(model_flag=scored_frame["flag_isolation_forest"])
    ablated = scored.assign(score=scored["score"].to_numpy()[::-1], flagged=scored["flagged"].to_numpy()[::-1])
    metrics = evaluate_scored(scored, target_fpr=0.01, ablated=ablated, report_dir=tmp_path)
    days = [row["day"] for row in metrics["budget"]["by_day"]]
    budget = budget_table(metrics)
    assert all(f"<th>{day}</th>" in budget for day in days)
    assert f"all {len(days)} days" in budget and "ensemble alone" in budget and "final (with rules)" in budget
    ablation = ablation_table(metrics)
    for kind in ("business travel", "vpn", "new employee", "new laptop", "all hard negatives"):
        assert f"<th>{kind}</th>" in ablation
    assert "operating point" in ablation and "at 0.01 FPR" in ablation
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert stored["budget"]["total"]["model"]["alerts"] == int(scored["model_flag"].sum())
    assert set(stored["ablation"]["points"]) == {"operating", "fpr_0.01"}
    page = (tmp_path / "report.html").read_text()
    assert budget in page and ablation in page


def test_without_decisions_or_a_second_run_the_sections_say_so(written):
    folder, metrics = written
    assert "budget" not in metrics and "ablation" not in metrics
    page = (folder / "report.html").read_text()
    assert "No alert budget was checked" in page and "ztad evaluate --ablation" in page
