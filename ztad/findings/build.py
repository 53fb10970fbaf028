"""Turn the flagged events of a day into rows of the ``findings`` table.

Pure: DataFrames in, a DataFrame out. Only flagged events (a small share of the day) reach this
module, so building the per-row lists of detectors and scores here is cheap.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from ztad.findings.collection import collector_paused
from ztad.findings.evidence import column_values, positional
from ztad.findings.typical import TypicalValues

#: Prefix of per-detector score columns in the scored frame (``score_isolation_forest`` ...).
DETECTOR_SCORE_PREFIX = "score_"
#: Prefix of behavioural rule columns in the scored frame (``rule_impossible_travel`` ...).
RULE_PREFIX = "rule_"
#: Name the ensemble decision carries in a finding's ``detectors`` list.
ENSEMBLE_SOURCE = "ensemble"


def _sources_raised(scored: pd.DataFrame) -> list[list[str]]:
    """Per row, which sources raised it: the ensemble, and ``rule:<code>`` per rule hit."""
    rule_columns = [c for c in scored.columns if c.startswith(RULE_PREFIX) and c != "rule_hit"]
    labels = np.array([f"rule:{c.removeprefix(RULE_PREFIX)}" for c in rule_columns], dtype=object)
    hits = np.zeros((len(scored), len(rule_columns)), dtype=bool)
    for j, column in enumerate(rule_columns):
        hits[:, j] = _values(scored, column, bool)
    model = _values(scored, "model_flag", bool)
    return [
        ([ENSEMBLE_SOURCE] if raised_by_model else []) + labels[row_hits].tolist()
        for raised_by_model, row_hits in zip(model, hits)
    ]


def _detector_scores(scored: pd.DataFrame) -> list[dict[str, float]]:
    """Per row, every detector's normalised contribution, the ensemble and the final score
    (those with a value: a day no model scored has only the final one)."""
    columns = [c for c in scored.columns if c.startswith(DETECTOR_SCORE_PREFIX)]
    names = [c.removeprefix(DETECTOR_SCORE_PREFIX) for c in columns] + [ENSEMBLE_SOURCE, "final"]
    values = np.column_stack([_values(scored, c, float) for c in columns + ["ensemble_score", "score"]]).round(6)
    return [{name: value for name, value in zip(names, row.tolist()) if math.isfinite(value)} for row in values]


@collector_paused()
def build_findings(
    *,
    day: date,
    events: pd.DataFrame,
    scored: pd.DataFrame,
    reasons: pd.Series,
    model_version: str,
    run_id: str,
) -> pd.DataFrame:
    """Assemble findings rows for the flagged events of ``day``.

    Parameters
    ----------
    events, scored
        The flagged events (canonical columns) and their scores, row-aligned.
    reasons
        Per flagged event, a list of ``{"code", "text"}`` explanations, row-aligned.
    """
    if not (len(events) == len(scored) == len(reasons)):
        raise ValueError(
            f"events ({len(events)}), scores ({len(scored)}) and reasons ({len(reasons)}) "
            "must describe the same flagged rows"
        )
    event_ids = _values(events, "event_id").astype(str)
    fields = ("user_id", "device_id", "ip_address", "location", "resource", "login_success", "bytes_transferred",
              "event_label")
    # The columns' values are read by position, row-aligned already, and the frame is built
    # on a fresh index: a Series per column, or an alignment of a score of indexes, cost more
    # than the rest for the few flagged rows of a request.
    columns = {
        "finding_id": day.isoformat() + ":" + event_ids,
        "day": day,
        "event_id": event_ids,
        "event_time": _values(events, "timestamp"),
        **{name: _values(events, name) for name in fields},
        "score": _values(scored, "score", float),
        "threshold": _values(scored, "threshold", float),
        "detectors": _sources_raised(scored),
        "detector_scores": _detector_scores(scored),
        "reasons": list(reasons),
        "model_version": _repeated(model_version, len(events)),
        "run_id": run_id,
        "status": _repeated("new", len(events)),
    }
    return pd.DataFrame(columns, index=pd.RangeIndex(len(events)))


def _repeated(text: str, rows: int) -> pd.api.extensions.ExtensionArray:
    """``text`` on each of ``rows`` rows, as the text column pandas makes of it given alone:
    a text value spread over a frame's rows costs pandas twice the time of the column."""
    return pd.array([text] * rows, dtype="str")


def _values(frame: pd.DataFrame, name: str, dtype=None):
    """The stored values of ``frame``'s column ``name`` (as ``dtype`` when given), read by
    position; a ``KeyError`` without one, as ``frame[name]``."""
    values = column_values(frame, name)
    if values is None:
        raise KeyError(name)
    return values if dtype is None else np.asarray(values, dtype=dtype)


@collector_paused()
def enrich_findings(
    findings: pd.DataFrame,
    *,
    events: pd.DataFrame,
    features: pd.DataFrame,
    scored: pd.DataFrame,
    rule_hits: pd.DataFrame | None,
    attributions: dict[str, pd.DataFrame] | None = None,
    exact_shap=None,
    sensitive_resources: tuple[str, ...] = (),
    typical: TypicalValues | None = None,
) -> pd.DataFrame:
    """Add what an analyst acts on: severity, category, top features, attributions, incident.

    Parameters
    ----------
    findings
        Rows of :func:`build_findings`.
    events, features, scored, rule_hits
        The same flagged events, their features (with ``ctx_*``), scores and rule hits (rule
        codes as column names), row-aligned with ``findings``.
    attributions
        Per ensemble member, rows x features attributions of the same rows
        (:mod:`ztad.findings.attributions`); ``None`` when the model gave none.
    exact_shap
        Per row, whether the Isolation Forest attributions are exact TreeSHAP values.
    sensitive_resources
        ``DetectionConfig.sensitive_resources``.
    typical
        The day's typical feature values (:class:`ztad.findings.typical.TypicalValues`):
        features of rows no detector attributed are ranked by their distance from them.

    Returns
    -------
    pandas.DataFrame
        ``findings`` with ``category``, ``severity``, ``severity_level``, ``top_features``,
        ``attributions`` and ``incident_id``.
    """
    from ztad.behaviour.features import FEATURE_NAMES
    from ztad.findings.attributions import attributions_documents, combined_shares
    from ztad.findings.severity import (
        categories,
        finding_severity,
        level_of,
        sensitive_mask,
    )
    from ztad.findings.top_features import deviations, top_feature_documents

    out = positional(findings)
    events, features, scored = (positional(f) for f in (events, features, scored))
    rule_hits = None if rule_hits is None else positional(rule_hits)
    frames = {m: positional(f) for m, f in (attributions or {}).items()}
    names = [n for n in FEATURE_NAMES if n in features.columns]
    reasons, login_success = out["reasons"], events["login_success"]
    sensitive = sensitive_mask(events["resource"], sensitive_resources, features.get("resource_sensitive"))
    severity = finding_severity(reasons, scored["ensemble_score"], scored["threshold"], login_success, sensitive)
    shares = combined_shares(frames, _member_scores(scored))
    deviation = None
    unattributed = shares.empty or bool((shares.to_numpy().sum(axis=1) <= 0).any())
    if typical is not None and len(out) and unattributed:
        deviation = deviations(typical, features, names)
    documents = attributions_documents(frames, exact_shap)
    added = {
        "category": categories(reasons, login_success),
        "severity": severity,
        "severity_level": level_of(severity),
        "top_features": top_feature_documents(events, features, names, shares, rule_hits, deviation),
        "attributions": documents if documents else [None] * len(out),
        "incident_id": _incident_ids(out, events) if len(out) else [],
    }
    # The columns are put beside the findings' at once: a frame grown a column at a time
    # costs more than the rest for the few flagged rows of a request.
    return pd.concat([out, pd.DataFrame(added, index=out.index)], axis=1)


def _member_scores(scored: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each member's ``score_<member>`` column, by member name."""
    return {
        column.removeprefix(DETECTOR_SCORE_PREFIX): _values(scored, column, np.float64)  # by position, no Series
        for column in scored.columns if column.startswith(DETECTOR_SCORE_PREFIX)
    }


def _incident_ids(findings: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """The findings' incident ids (:func:`ztad.findings.incidents.incident_ids`), their
    sources read from the flagged ``events`` they were built from."""
    from ztad.findings.incidents import incident_ids_of

    day = findings["day"].iloc[0]
    ids = incident_ids_of(events, findings["reasons"], findings["detectors"], day)
    return pd.array(ids, dtype="string").to_numpy()

