"""The origin method, reproduced: encoding, features, the three detectors and the sweep."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest

from tests.ztad.evaluation.synthetic import make_events
from ztad.evaluation import EvaluationError
from ztad.evaluation.origin import (
    ORIGIN_DETECTORS,
    ORIGIN_FEATURES,
    LabelCodes,
    OriginSettings,
    fit_origin,
    origin_matrix,
    run_origin,
    score_origin,
    training_anomaly_rate,
    tuning_sweep,
)
from ztad.evaluation.splits import time_split

FAST = OriginSettings(epochs=2, batch_size=64, seed=0)


@pytest.fixture(scope="module")
def split():
    return time_split(make_events(n=900, days=9, seed=5), date(2026, 3, 8))


@pytest.fixture(scope="module")
def fitted(split):
    """The full origin method (autoencoder included) fitted once for the module."""
    return run_origin(split.train, split.test, FAST)


# --------------------------------------------------------------------------- features


def test_label_codes_follow_sorted_order_and_give_unseen_values_one_new_code():
    train = pd.DataFrame({"user_id": ["bob", "alice", "carol", "alice"]})
    codes = LabelCodes.fit(train)
    test = pd.DataFrame({"user_id": ["carol", "alice", "mallory", "zed"]})
    assert list(codes.transform(test)["user"]) == [2, 0, 3, 3]
    assert codes.unseen(test)["user"] == 2


def test_label_codes_read_the_origin_resource_column_and_fill_missing_columns():
    train = pd.DataFrame({"resource_accessed": ["git", "crm"], "user_id": ["a", "b"]})
    encoded = LabelCodes.fit(train).transform(train)
    assert list(encoded["resource"]) == [1, 0]
    # no device_id column at all: every event shares one code.
    assert list(encoded["device"]) == [0, 0]


def test_origin_matrix_has_the_eight_features_with_utc_hour():
    events = pd.DataFrame({
        "timestamp": pd.to_datetime(["2026-03-02 23:15+00:00", "2026-03-03 01:00+03:00"],
                                    utc=True, format="ISO8601"),
        "user_id": ["u1", "u2"], "device_id": ["d", "d"], "ip_address": ["1.1.1.1", "2.2.2.2"],
        "location": ["Paris, France", "Oslo, Norway"], "login_success": [True, False],
        "resource": ["crm", "crm"], "bytes_transferred": [100, 2_000_000],
    })
    matrix = origin_matrix(events, LabelCodes.fit(events))
    assert tuple(matrix.columns) == ORIGIN_FEATURES
    assert list(matrix["hour"]) == [23, 22]
    assert list(matrix["login_success"]) == [1, 0]
    assert list(matrix["bytes"]) == [100.0, 2_000_000.0]
    assert list(matrix["ip"]) == [0, 1]


# --------------------------------------------------------------------------- parameters


def test_training_anomaly_rate_ignores_unlabelled_events():
    events = pd.DataFrame({"event_label": pd.array(["normal", "x", None, "normal"],
                                                   dtype="string")})
    assert training_anomaly_rate(events) == pytest.approx(1 / 3)
    with pytest.raises(EvaluationError):
        training_anomaly_rate(pd.DataFrame({"user_id": ["a"]}))


@pytest.mark.parametrize(
    ("rate", "contamination", "nu"),
    [(0.0, 0.001, 0.01), (0.6, 0.49, 0.5), (0.05, 0.05, 0.05)],
)
def test_contamination_and_nu_are_the_clipped_training_rate(rate, contamination, nu):
    events = make_events(n=200, days=3, seed=1, anomaly_rate=0.0)
    anomalies = int(round(rate * len(events)))
    events["event_label"] = pd.array(
        ["impossible_travel"] * anomalies + ["normal"] * (len(events) - anomalies),
        dtype="string",
    )
    model = fit_origin(events, OriginSettings(detectors=("isolation_forest",), seed=0))
    assert model.contamination == pytest.approx(contamination)
    assert model.nu == pytest.approx(nu)
    assert model.isolation_forest.contamination == pytest.approx(contamination)


def test_trains_on_every_event_attacks_included(split):
    model = fit_origin(split.train, OriginSettings(detectors=("isolation_forest",), seed=0))
    assert model.train_rows == len(split.train)
    everything = origin_matrix(split.train, model.codes).to_numpy()
    np.testing.assert_allclose(model.scaler.mean_, everything.mean(axis=0))


def test_ocsvm_trains_on_a_capped_sample(split):
    settings = OriginSettings(detectors=("ocsvm",), ocsvm_max_rows=50, seed=0)
    model = fit_origin(split.train, settings)
    assert len(model.ocsvm_train_X) == 50 < len(split.train)
    assert model.params()["ocsvm_train_rows"] == 50
    assert model.ocsvm.gamma == 0.001 and model.ocsvm.kernel == "rbf"


def test_unknown_detector_name_is_refused():
    with pytest.raises(ValueError, match="unknown origin detectors"):
        OriginSettings(detectors=("isolation_forest", "lstm"))


def test_no_training_events_is_an_error(split):
    with pytest.raises(EvaluationError, match="no training events"):
        fit_origin(split.train.iloc[:0], FAST)


# --------------------------------------------------------------------------- end to end


def test_origin_runs_end_to_end_with_scores_of_the_right_shape(split, fitted):
    model, result = fitted
    n = len(split.test)
    assert result.detectors == list(ORIGIN_DETECTORS)
    assert result.scores.shape == (n, 3) and result.flags.shape == (n, 3)
    assert np.isfinite(result.scores.to_numpy()).all()
    assert all(result.flags[c].dtype == bool for c in result.flags)
    assert list(result.event_id) == list(split.test["event_id"])


def test_decisions_match_the_library_predict(split, fitted):
    model, result = fitted
    X = model.transform(split.test).to_numpy()
    np.testing.assert_array_equal(result.flags["isolation_forest"],
                                  model.isolation_forest.predict(X) == -1)
    np.testing.assert_array_equal(result.flags["ocsvm"], model.ocsvm.predict(X) == -1)


def test_autoencoder_flags_the_top_five_percent_of_errors(split, fitted):
    _, result = fitted
    errors = result.scores["autoencoder"].to_numpy()
    expected = errors > np.percentile(errors, 95)
    np.testing.assert_array_equal(result.flags["autoencoder"], expected)
    # linear interpolation puts the threshold at rank 0.95 * (n - 1); the ones above it alert
    n = len(errors)
    assert int(expected.sum()) == n - 1 - int(np.floor(0.95 * (n - 1)))


def test_higher_scores_mean_more_anomalous(split, fitted):
    model, _ = fitted
    outlier = split.test.iloc[[0]].copy()
    outlier["bytes_transferred"] = 10**12
    outlier["event_id"] = "outlier"
    both = pd.concat([split.test.iloc[[0]], outlier], ignore_index=True)
    scores = score_origin(model, both).scores
    assert (scores.iloc[1] > scores.iloc[0]).all()


# --------------------------------------------------------------------------- tuning sweep


def test_sweep_reports_every_setting_and_reproduces_the_main_decisions(split, fitted):
    from ztad.evaluation.metrics import decision_metrics

    model, result = fitted
    sweep = tuning_sweep(model, split.test, contamination=(0.01, 0.1), nu=(0.05,),
                         percentile=(90.0,), ocsvm_max_rows=200)
    assert list(sweep.columns) == ["detector", "parameter", "value", "precision", "recall",
                                   "f1", "fpr", "alerts", "pr_auc", "rows"]
    by_detector = sweep.groupby("detector")["value"].apply(list).to_dict()
    # the model's own setting is added to each grid
    assert by_detector["isolation_forest"] == sorted({0.01, 0.1, model.contamination})
    assert by_detector["ocsvm"] == sorted({0.05, model.nu})
    assert by_detector["autoencoder"] == [90.0, 95.0]
    truth = (split.test["event_label"] != "normal").to_numpy()
    own = sweep[(sweep["detector"] == "isolation_forest")
                & (sweep["value"] == model.contamination)].iloc[0]
    main = decision_metrics(truth, result.flags["isolation_forest"].to_numpy())
    assert own["f1"] == pytest.approx(main["f1"]) and own["alerts"] == main["alerts"]
    ae = sweep[(sweep["detector"] == "autoencoder") & (sweep["value"] == 95.0)].iloc[0]
    assert ae["alerts"] == int(result.flags["autoencoder"].sum())


def test_importing_the_evaluation_modules_stays_light():
    code = (
        "import sys, ztad.evaluation.evaluate, ztad.evaluation.report, ztad.reports.plots;"
        "heavy = {'tensorflow', 'matplotlib', 'shap', 'keras'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
