"""Which model scores a day: train a new ensemble or load the registered one, and say why.

The decision only reads registry metadata, so it is cheap; the model itself is loaded once,
by the scoring step (:mod:`ztad.detection.scoring_model`). A model is retrained when none
exists, when it is older than ``retrain_every_days``, when it was saved in an older artifact
format, when the features, the library versions or the alert budget changed since it was
trained, or when the day's features drift from its training rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.detection.detectors.base import ARTIFACT_FORMAT
from ztad.detection.drift import DEFAULT_PSI_THRESHOLD, FeatureColumns
from ztad.detection.registry.libraries import library_mismatches
from ztad.detection.registry.model_registry import as_day
from ztad.detection.scoring_model import registry_of
from ztad.detection.training import TRAINING_DAY, calibration_hold_out, train, training_shortfall


def _day_drift(meta: dict, day_features: FeatureColumns, min_rows: int = 0) -> pd.Series | None:
    """Drift of the day's features from the model's training rows, as one robust number.

    The population stability index of a single day is noisy for sparse features, and
    features that are constant within a day (weekend, holiday) always look drifted, so the
    measure is the median PSI over the features that vary within the day. A day with fewer
    than ``min_rows`` events is not measured: a dozen rows always look drifted. The features
    are read one at a time (``day_features[name]``): a large day's are never held together.
    """
    from ztad.detection.drift import DriftReference

    reference = meta.get("metrics", {}).get("drift_reference")
    rows = len(day_features)
    if not reference or rows == 0 or rows < min_rows:
        return None
    drift = DriftReference.from_dict(reference)
    psi, varying = {}, []
    for name in meta["feature_names"]:
        values = pd.Series(day_features[name])
        psi[name] = drift.column_psi(name, values)
        if values.nunique() > 1:
            varying.append(name)
        del values
    if not varying:
        return None
    median = float(pd.Series(psi)[varying].median())
    return pd.Series({f"the {len(varying)} varying features (median)": median})


#: Detection settings that set a model's threshold: a change means a new calibration.
BUDGET_SETTINGS = ("target_fpr", "max_alerts_per_day")


def _budget_change(meta: dict, detection) -> str | None:
    """How the alert budget differs from the one the model was calibrated to, or None."""
    trained = meta.get("params", {}).get("detection", {})
    changes = [
        f"{name} {trained.get(name)} -> {getattr(detection, name)}"
        for name in BUDGET_SETTINGS
        if name in trained and trained[name] != getattr(detection, name)
    ]
    return "; ".join(changes) or None


def train_or_load(
    day: date,
    config: JobConfig,
    *,
    training_matrix: Callable[[], pd.DataFrame],
    day_features: Callable[[], FeatureColumns],
    force_retrain: bool = False,
    trust=None,
) -> dict:
    """Pick the model for ``day`` under the retrain policy and return the decision.

    ``trust`` is the registry's root of trust: the metadata the decision reads is checked
    against it, and a new model's digests are recorded in it.

    A model is trained only on a training window that holds enough history
    (:func:`ztad.detection.training.training_shortfall`). Until the first one can be, the
    day is a *learning* day: no model scores it (``model_version`` ``None``) and ``lacking``
    says what the window still lacks. A retrain that lacks history keeps the latest model.

    Returns a dict with ``model_version``, ``action`` (``trained``, ``loaded`` or
    ``learning``) and ``reason`` in words, which the run record keeps.
    """
    registry = registry_of(config, trust)
    latest = registry.latest(before=day)
    meta = registry.metadata(latest) if latest else None
    if force_retrain:
        retrain, reason = True, "a retrain was requested for this run"
    else:
        retrain, reason = _retrain_decision(meta, latest, day, config, day_features())
    if not retrain:
        return {"model_version": latest, "action": "loaded", "reason": reason}
    matrix = training_matrix()
    lacking = training_shortfall(matrix, config.detection)
    if lacking and latest is None:
        return {
            "model_version": None, "action": "learning", "lacking": lacking,
            "reason": f"learning: {lacking}; behavioural rules only until a model can be trained",
        }
    if lacking:
        kept = f"{reason}, but kept {latest}: {lacking}"
        return {"model_version": latest, "action": "loaded", "reason": kept}
    version = train(day, config, matrix, trust)
    reason += _hold_out_note(matrix, config.detection)
    return {"model_version": version, "action": "trained", "reason": reason}


def _retrain_decision(
    meta: dict | None, latest: str | None, day: date, config: JobConfig, features: FeatureColumns
) -> tuple[bool, str]:
    """``(retrain, reason)`` under the retrain policy, given the newest model's metadata."""
    from ztad.behaviour.features import FEATURE_NAMES

    detection = config.detection
    budget_change = _budget_change(meta, detection) if meta else None
    if budget_change:
        return True, f"the alert budget changed since {latest} was trained ({budget_change})"
    drift = _day_drift(meta, features, detection.drift_min_rows) if meta else None
    retrain, reason = should_retrain(
        meta, day, detection.retrain_every_days, drift, detection.psi_threshold,
        feature_names=list(FEATURE_NAMES),
    )
    if meta and not retrain and 0 < len(features) < detection.drift_min_rows:
        rows, needed = len(features), detection.drift_min_rows
        reason += f"; drift not measured on {rows} events (< drift_min_rows {needed})"
    return retrain, reason


def _hold_out_note(matrix: pd.DataFrame, detection) -> str:
    """How a short history was calibrated, for the run record ("" for the usual hold-out)."""
    from ztad.detection.detectors.base import MIN_TRAINING_ROWS

    held = calibration_hold_out(matrix, detection.calibration_days, MIN_TRAINING_ROWS)
    if held == detection.calibration_days:
        return ""
    days = matrix[TRAINING_DAY].nunique()
    if held == 0:
        return f"; {days} day(s) of history: calibrated on a random share of its rows"
    wanted = detection.calibration_days
    return f"; {days} day(s) of history: calibrated on the last {held} of them (not {wanted})"


def should_retrain(
    latest_meta: dict | None,
    day: date,
    retrain_every_days: int,
    drift_psi=None,
    psi_threshold: float = DEFAULT_PSI_THRESHOLD,
    *,
    feature_names=None,
) -> tuple[bool, str]:
    """Decide whether to retrain before scoring ``day``, and say why.

    Parameters
    ----------
    latest_meta
        Metadata of the newest model trained before ``day`` (``None`` when there is none).
    day
        The day about to be scored.
    retrain_every_days
        A model whose training ended this many days or more before ``day`` is retrained.
    drift_psi
        Population stability index of the day's features against the model's training rows:
        a per-feature ``pandas.Series`` (or a mapping, or one number). ``None`` skips the check.
    psi_threshold
        Drift above it triggers a retrain.
    feature_names
        The current features; a model trained on others is retrained.

    Returns
    -------
    (bool, str)
        Whether to retrain, and the reason in words for the run record.
    """
    day = as_day(day)
    if latest_meta is None:
        return True, f"no model was trained before {day}"
    version = latest_meta.get("version", "the latest model")
    if latest_meta.get("artifact_format") != ARTIFACT_FORMAT:
        return True, f"{version} was saved in an older artifact format (with pickles); retraining in format {ARTIFACT_FORMAT}"
    current = None if feature_names is None else [str(n) for n in feature_names]
    if current is not None and current != latest_meta["feature_names"]:
        return True, f"the features changed since {version} was trained"
    mismatches = library_mismatches(latest_meta.get("libraries", {}))
    if mismatches:
        changes = "; ".join(mismatches)
        return True, f"library versions changed since {version} was trained ({changes})"
    age = (day - as_day(latest_meta["trained_on"]["end"])).days
    if age >= retrain_every_days:
        return True, (
            f"{version} is {age} day(s) old (its training data ended before "
            f"{latest_meta['trained_on']['end']}); retraining every {retrain_every_days} day(s)"
        )
    drift = _largest_drift(drift_psi)
    if drift is not None and drift[1] > psi_threshold:
        return True, f"feature drift: PSI of {drift[0]} is {drift[1]:.3f} > {psi_threshold}"
    drift_text = f", largest feature PSI {drift[1]:.3f} ({drift[0]})" if drift else ""
    return False, f"loaded {version}: {age} day(s) old{drift_text}"


def _largest_drift(drift_psi) -> tuple[str, float] | None:
    if drift_psi is None:
        return None
    if np.isscalar(drift_psi):
        return "the features", float(drift_psi)
    items = dict(drift_psi.items()) if hasattr(drift_psi, "items") else {}
    if not items:
        return None
    name = max(items, key=lambda k: items[k])
    return str(name), float(items[name])
