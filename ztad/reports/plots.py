"""The report's figures, each returned as a matplotlib ``Figure`` (Agg backend).

matplotlib and shap are imported inside the functions, so importing ztad stays light. ztad's
curves are drawn solid and the origin method's dashed, on the same axes, so that the two can
be compared at a glance.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import numpy as np
import pandas as pd

#: (y_true, scores) per curve name.
Curves = Mapping[str, tuple[np.ndarray, np.ndarray]]

ORIGIN_PREFIX = "origin "


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_png_base64(figure) -> str:
    """Render a figure to PNG, close it, and return the PNG as base64 text."""
    plt = pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _line_style(name: str) -> dict:
    return {"linestyle": "--", "linewidth": 1.3} if name.startswith(ORIGIN_PREFIX) else {
        "linestyle": "-", "linewidth": 2.0
    }


def placeholder(message: str):
    """A small figure that says why a plot has nothing to show."""
    figure, axes = pyplot().subplots(figsize=(6, 1.6))
    axes.axis("off")
    axes.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return figure


def roc_curves(curves: Curves):
    """ROC curve of every detector, ztad's solid and the origin method's dashed."""
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, axes = pyplot().subplots(figsize=(6.5, 5))
    for name, (y, scores) in curves.items():
        fpr, tpr, _ = roc_curve(y, scores)
        axes.plot(fpr, tpr, label=f"{name} ({roc_auc_score(y, scores):.3f})", **_line_style(name))
    axes.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
    axes.set(xlabel="false-positive rate", ylabel="recall (true-positive rate)",
             title="ROC curves (AUC in brackets)")
    axes.legend(fontsize=7, loc="lower right")
    return figure


def pr_curves(curves: Curves):
    """Precision-recall curve of every detector; the dotted line is the anomaly rate."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    figure, axes = pyplot().subplots(figsize=(6.5, 5))
    base_rate = None
    for name, (y, scores) in curves.items():
        precision, recall, _ = precision_recall_curve(y, scores)
        auc = average_precision_score(y, scores)
        axes.plot(recall, precision, label=f"{name} ({auc:.3f})", **_line_style(name))
        base_rate = float(np.mean(y))
    if base_rate is not None:
        axes.axhline(base_rate, color="grey", linewidth=0.8, linestyle=":")
    axes.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02),
             title="Precision-recall curves (average precision in brackets)")
    axes.legend(fontsize=7, loc="upper right")
    return figure


def category_recall(recalls: Mapping[str, Mapping[str, float]], title: str):
    """Grouped bars: recall of each anomaly category, one bar per detector."""
    frame = pd.DataFrame(recalls).fillna(0.0).sort_index()
    if frame.empty:
        return placeholder("no anomaly categories in the evaluated events")
    figure, axes = pyplot().subplots(figsize=(max(7, 0.9 * len(frame) + 3), 4.5))
    width = 0.8 / len(frame.columns)
    positions = np.arange(len(frame))
    for i, name in enumerate(frame.columns):
        axes.bar(positions + i * width, frame[name].to_numpy(), width, label=name,
                 hatch="//" if name.startswith(ORIGIN_PREFIX) else None)
    axes.set_xticks(positions + width * (len(frame.columns) - 1) / 2)
    axes.set_xticklabels(frame.index, rotation=30, ha="right", fontsize=8)
    axes.set(ylabel="recall", ylim=(0, 1.05), title=title)
    axes.legend(fontsize=7)
    return figure


def score_distributions(curves: Curves):
    """Density of each detector's scores, normal vs anomalous events.

    The axis spans the 0.5th to 99.5th percentile of the scores and values beyond it are
    counted in the edge bins, so that a long tail does not squash the bulk into one bar.
    """
    names = list(curves)
    columns = min(3, len(names)) or 1
    rows = int(np.ceil(len(names) / columns)) or 1
    figure, grid = pyplot().subplots(rows, columns, figsize=(4.2 * columns, 3.0 * rows),
                                     squeeze=False)
    for axes in grid.ravel()[len(names):]:
        axes.axis("off")
    for axes, name in zip(grid.ravel(), names):
        y, scores = curves[name]
        low, high = np.percentile(scores, [0.5, 99.5])
        shown = np.clip(scores, low, high)
        bins = np.histogram_bin_edges(shown, bins=50)
        axes.hist(shown[~y], bins=bins, density=True, alpha=0.6, label="normal",
                  color="tab:blue")
        axes.hist(shown[y], bins=bins, density=True, alpha=0.6, label="anomalous",
                  color="tab:red")
        axes.set_title(name, fontsize=9)
        axes.tick_params(labelsize=7)
    grid.ravel()[0].legend(fontsize=7)
    figure.suptitle("Score distributions: normal vs anomalous events")
    figure.tight_layout()
    return figure


def alerts_per_day(series: Mapping[str, Mapping[str, int]]):
    """Alerts raised each day by each detector at its own operating threshold."""
    frame = pd.DataFrame(series).fillna(0).sort_index()
    if frame.empty:
        return placeholder("no days to show")
    figure, axes = pyplot().subplots(figsize=(8, 4))
    for name in frame.columns:
        axes.plot(pd.to_datetime(frame.index), frame[name].to_numpy(), marker="o", markersize=3,
                  label=name, **_line_style(name))
    axes.set(ylabel="alerts", ylim=(0, None),
             title="Alerts per day at each detector's operating threshold")
    figure.autofmt_xdate()
    axes.legend(fontsize=7)
    return figure


def category_counts(counts: Mapping[str, int], title: str):
    """Horizontal bars: how many items fall in each category, largest on top."""
    series = pd.Series(dict(counts), dtype="int64").sort_values()
    if series.empty:
        return placeholder("nothing to count")
    figure, axes = pyplot().subplots(figsize=(7, max(2.2, 0.35 * len(series) + 1)))
    bars = axes.barh(series.index.astype(str), series.to_numpy(), color="tab:red")
    axes.bar_label(bars, padding=3, fontsize=7)
    axes.set(xlabel="count", title=title)
    axes.tick_params(axis="y", labelsize=8)
    return figure


def label_distribution(labels: pd.Series):
    """Events per label, as the origin notebook's first exploratory plot (log scale)."""
    counts = labels.astype("string").fillna("(unlabelled)").value_counts()
    figure, axes = pyplot().subplots(figsize=(8, max(3, 0.3 * len(counts) + 1)))
    bars = axes.barh(counts.index[::-1], counts.to_numpy()[::-1], color="tab:gray")
    axes.bar_label(bars, padding=3, fontsize=7)
    axes.set_xscale("log")
    axes.set(xlabel="events (log scale)", title="Label distribution")
    axes.tick_params(axis="y", labelsize=8)
    return figure


def bytes_histogram(bytes_transferred: pd.Series | None, is_anomaly: np.ndarray):
    """Histogram of bytes transferred on log-spaced bins, normal vs anomalous."""
    if bytes_transferred is None:
        return placeholder("the events carry no bytes_transferred column")
    values = bytes_transferred.astype("float64").to_numpy()
    known = np.isfinite(values)
    values, y = np.clip(values[known], 1.0, None), is_anomaly[known]
    bins = np.logspace(np.log10(values.min()), np.log10(max(values.max(), 10.0)), 50)
    figure, axes = pyplot().subplots(figsize=(7, 4))
    axes.hist(values[~y], bins=bins, alpha=0.6, label="normal", color="tab:blue")
    axes.hist(values[y], bins=bins, alpha=0.6, label="anomalous", color="tab:red")
    axes.set(xscale="log", yscale="log", xlabel="bytes transferred (log scale)",
             ylabel="events", title="Bytes transferred")
    axes.legend(fontsize=8)
    return figure


def login_hours(timestamps: pd.Series, is_anomaly: np.ndarray):
    """Share of events per UTC hour of day, normal vs anomalous."""
    hours = pd.to_datetime(timestamps, utc=True).dt.hour.to_numpy()
    figure, axes = pyplot().subplots(figsize=(7, 4))
    bins = np.arange(25) - 0.5
    axes.hist(hours[~is_anomaly], bins=bins, density=True, alpha=0.6, label="normal",
              color="tab:blue")
    axes.hist(hours[is_anomaly], bins=bins, density=True, alpha=0.6, label="anomalous",
              color="tab:red")
    axes.set(xlabel="hour of day (UTC)", ylabel="share of events", xticks=range(0, 24, 2),
             title="Login hour distribution")
    axes.legend(fontsize=8)
    return figure


def anomaly_contributions(estimator, X: pd.DataFrame) -> np.ndarray:
    """SHAP values of a tree model, signed so that positive pushes towards "anomalous".

    SHAP explains an Isolation Forest's path length, where a short path means anomalous, so its
    values are negated. A scikit-learn Isolation Forest (ztad's member or the origin method's)
    goes through the forest's arrays (:func:`ztad.findings.attributions.isolation_forest_shap`,
    exact TreeSHAP in a fraction of the time); other tree models through ``shap.TreeExplainer``.
    """
    from sklearn.ensemble import IsolationForest

    if isinstance(estimator, IsolationForest):
        from ztad.findings.attributions import isolation_forest_shap

        return isolation_forest_shap(estimator, np.asarray(X, dtype=np.float64))
    import shap

    return -np.asarray(shap.TreeExplainer(estimator).shap_values(X))


def shap_summary(estimator, X: pd.DataFrame, title: str, values: np.ndarray | None = None):
    """SHAP summary (beeswarm) of a tree model on a small sample of rows (``values`` when
    already computed, else computed here)."""
    import shap

    plt = pyplot()
    values = anomaly_contributions(estimator, X) if values is None else values
    figure = plt.figure(figsize=(7, 0.35 * X.shape[1] + 2))
    shap.summary_plot(values, X, show=False, plot_size=None, max_display=20,
                      rng=np.random.default_rng(0))
    figure.axes[0].set_xlabel("SHAP value (positive = pushes towards anomalous)")
    figure.suptitle(title, fontsize=10)
    return figure
