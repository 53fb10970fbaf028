"""What drives a tree model's scores: SHAP values of ztad's own Isolation Forest member (the one
registered for the last scored day) and of the origin method's forest, on a sample of events.

The values are computed once (:func:`explain_tree`); the report plots them and ``metrics.json``
keeps, per model, its version and the mean absolute SHAP value of each feature
(:func:`explanation_metrics`), so that what the page shows can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class TreeExplanation:
    """SHAP values (positive = towards anomalous) of a tree model on a sample of rows."""

    title: str
    sample: pd.DataFrame
    values: np.ndarray
    model_version: str | None = None


def explain_tree(estimator, sample: pd.DataFrame, title: str, model_version: str | None = None) -> TreeExplanation:
    """SHAP values of ``estimator`` on ``sample`` (exact TreeSHAP for an Isolation Forest)."""
    from ztad.reports.plots import anomaly_contributions

    values = np.asarray(anomaly_contributions(estimator, sample), dtype=np.float64)
    return TreeExplanation(title=title, sample=sample.reset_index(drop=True), values=values,
                           model_version=model_version)


def explain_models(models: dict) -> list[TreeExplanation]:
    """Explanations of ``title -> (estimator, sample)`` or ``(estimator, sample, version)``."""
    out = []
    for title, found in (models or {}).items():
        estimator, sample, *version = found
        out.append(explain_tree(estimator, sample, title, version[0] if version else None))
    return out


def explanation_metrics(explanations: list[TreeExplanation]) -> dict:
    """Per model: its version, rows explained, and mean |SHAP| per feature, largest first."""
    out = {}
    for item in explanations:
        mean_abs = np.abs(item.values).mean(axis=0) if len(item.values) else np.zeros(item.sample.shape[1])
        ranked = sorted(zip(item.sample.columns, mean_abs), key=lambda pair: -pair[1])
        out[item.title] = {
            "model_version": item.model_version,
            "rows": len(item.sample),
            "mean_abs_shap": {str(name): float(value) for name, value in ranked},
        }
    return out
