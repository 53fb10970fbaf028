"""Measuring detection quality honestly on labelled auth logs.

``ztad evaluate`` scores labelled data with ztad's own day-by-day pipeline and with the origin
method (label-encoded identifiers fed to Isolation Forest, One-Class SVM and an autoencoder),
on the same split, and reports both side by side:

- :mod:`ztad.evaluation.metrics`: ranking and alert-budget metrics from continuous scores;
- :mod:`ztad.evaluation.origin`: the origin method, reproduced as the baseline to beat;
- :mod:`ztad.evaluation.splits`: the time-based split (default) and the stratified random one;
- :mod:`ztad.evaluation.budget`: expected against actual alerts per scored day (the budget);
- :mod:`ztad.evaluation.ablation`: false positives on the hard negatives with and without the
  known-network and cold-start logic (``ztad evaluate --ablation``);
- :mod:`ztad.reports.plots` and :mod:`ztad.evaluation.report`: ``report.html`` and
  ``metrics.json``;
- :mod:`ztad.evaluation.evaluate`: the entry points ``evaluate`` and ``evaluate_scored``.

Labels are used here and nowhere else: ``normal`` is trusted, every other label is an anomaly,
and a combined label such as ``impossible_travel+large_data_transfer`` counts for each part.

This package imports nothing heavy; each module imports what it needs when it runs.
"""

from __future__ import annotations


class EvaluationError(ValueError):
    """The data cannot be evaluated as given (no labels, one class only, nothing to score)."""
