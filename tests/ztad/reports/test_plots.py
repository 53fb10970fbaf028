"""Figures render on the Agg backend, close after encoding, and SHAP signs point to anomalies."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest

from ztad.reports import plots


def test_figures_are_closed_once_encoded():
    plt = plots.pyplot()
    before = len(plt.get_fignums())
    y = np.array([False, True, False, True])
    png = plots.to_png_base64(plots.roc_curves({"ztad final": (y, np.array([.1, .9, .2, .8]))}))
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert len(plt.get_fignums()) == before
    assert plt.get_backend().lower() == "agg"


def test_origin_curves_are_dashed_and_ztad_solid():
    y = np.array([False, True, False, True])
    figure = plots.pr_curves({"ztad final": (y, np.arange(4.0)),
                              "origin ocsvm": (y, np.arange(4.0)[::-1])})
    styles = {line.get_label().split(" (")[0]: line.get_linestyle()
              for line in figure.axes[0].get_lines() if "(" in line.get_label()}
    plots.pyplot().close(figure)
    assert styles == {"ztad final": "-", "origin ocsvm": "--"}


def test_a_missing_column_gives_a_figure_that_says_so():
    figure = plots.bytes_histogram(None, np.array([True, False]))
    texts = [t.get_text() for t in figure.axes[0].texts]
    plots.pyplot().close(figure)
    assert texts == ["the events carry no bytes_transferred column"]


def test_shap_summary_points_positive_towards_anomalous():
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"bytes": rng.normal(size=300), "hour": rng.normal(size=300)})
    forest = IsolationForest(n_estimators=25, random_state=0).fit(X)
    outlier = pd.DataFrame({"bytes": [12.0], "hour": [0.0]})
    # the outlier's huge bytes push it towards anomalous, its ordinary hour much less.
    shown = plots.anomaly_contributions(forest, outlier)
    assert shown[0, 0] > 0 and shown[0, 0] > shown[0, 1]
    figure = plots.shap_summary(forest, X.iloc[:50], "isolation forest")
    assert "positive = pushes towards anomalous" in figure.axes[0].get_xlabel()
    plots.pyplot().close(figure)


def test_an_isolation_forest_is_explained_as_shaps_own_explainer_does():
    import shap
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    forest = IsolationForest(n_estimators=25, random_state=0).fit(X)
    expected = -np.asarray(shap.TreeExplainer(forest).shap_values(X.iloc[:20]))
    np.testing.assert_allclose(plots.anomaly_contributions(forest, X.iloc[:20]), expected, atol=1e-9)


def test_shap_summary_plots_values_given_to_it():
    from sklearn.ensemble import IsolationForest

    X = pd.DataFrame(np.random.default_rng(2).normal(size=(40, 2)), columns=["a", "b"])
    forest = IsolationForest(n_estimators=5, random_state=0).fit(X)
    figure = plots.shap_summary(forest, X, "given", values=np.zeros((40, 2)))
    assert figure.axes[0].get_xlabel().startswith("SHAP value")
    plots.pyplot().close(figure)


@pytest.mark.parametrize("empty", [{}, {"ztad final": {}}])
def test_category_bars_without_categories_say_so(empty):
    figure = plots.category_recall(empty, "recall")
    assert figure.axes[0].texts
    plots.pyplot().close(figure)
