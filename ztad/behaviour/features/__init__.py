"""Behavioural features of authentication events, each explainable in one sentence.

Every event is compared with what its user, the user's peer group and the organisation did in
the baseline window before the day (see :mod:`ztad.behaviour.baselines`). Families live in their own
modules: :mod:`~ztad.behaviour.features.time_of_day`, :mod:`~ztad.behaviour.features.place`,
:mod:`~ztad.behaviour.features.device`, :mod:`~ztad.behaviour.features.resource`,
:mod:`~ztad.behaviour.features.failures` and :mod:`~ztad.behaviour.features.volume`;
:mod:`~ztad.behaviour.features.scanning` adds context only (the internet's background noise).

:func:`compute_features` returns the float64 model inputs named in :data:`FEATURE_NAMES`
(finite, no NaN: "not applicable" is 0) plus ``ctx_*`` columns with the raw facts behind them
(previous place, km, minutes, the user's usual bytes, days of history ...) that rules and
explanations quote.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines import REQUIRED_COLUMNS, BaselineState
from ztad.behaviour.baselines.arrays import frame_of, frame_of_blocks
from ztad.behaviour.features import device, failures, place, resource, scanning, time_of_day, volume
from ztad.behaviour.features.categories import sorted_codes, used_categorical
from ztad.behaviour.features.context import FeatureInputError, build_context
from ztad.behaviour.features.cross_user import cross_user_signals
from ztad.behaviour.features.shared_counts import CROSS_USER_COLUMNS
from ztad.behaviour.features.shared_counts import share as share_cross_user
from ztad.config import DetectionConfig, FeatureSettings

__all__ = [
    "FEATURE_DESCRIPTIONS", "FEATURE_NAMES", "CONTEXT_DESCRIPTIONS", "CROSS_USER_COLUMNS",
    "INPUT_COLUMNS", "FeatureInputError", "FeatureSettings", "compute_features", "cross_user_signals",
]

#: The event columns the features read (``asn`` and ``auth_method`` when the source has them):
#: a step that only computes features need not read the others.
INPUT_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, "asn", "auth_method")

_FAMILIES = (time_of_day, place, device, resource, failures, volume, scanning)

#: Plain-words meaning of each model feature.
FEATURE_DESCRIPTIONS: dict[str, str] = {
    name: text for family in _FAMILIES for name, text in family.DESCRIPTIONS.items()
}

#: Model inputs, in a fixed order (detectors refuse a model trained on another order).
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURE_DESCRIPTIONS)

#: Meaning of the context columns that describe the user's baseline maturity.
CONTEXT_DESCRIPTIONS: dict[str, str] = {
    "ctx_user_known": "1 when the baseline window holds history for the user",
    "ctx_history_days": "Days since the user was first seen in the baseline window",
    "ctx_active_days": "Days the user was active in the baseline window",
    "ctx_history_events": "The user's events in the baseline window",
    "ctx_maturity": "How far the user's own history is trusted (0 new, 1 mature); the rest "
    "of the judgement comes from peers",
    "ctx_peer_group": "The peer group the user is compared with",
    **scanning.CONTEXT_DESCRIPTIONS,
}


def _maturity_context(ctx) -> dict[str, object]:
    codes, labels = ctx.state.derived(
        ("peer_label_codes",), lambda: sorted_codes(np.array(list(ctx.state.peer_descriptions), dtype=object))
    )
    return {
        "ctx_user_known": ctx.known_user.astype("float64"),
        "ctx_history_days": ctx.history_days,
        "ctx_active_days": ctx.active_days,
        "ctx_history_events": ctx.history_events,
        "ctx_maturity": ctx.maturity,
        "ctx_peer_group": used_categorical(codes[ctx.peer], labels),
    }


def _model_inputs(features: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """The model features as one float64 block (a row per feature), "not applicable" (NaN,
    infinite) as 0.

    Filled in place and handed to the frame without a copy: a dict of cleaned columns, then a
    frame that consolidates them, would hold the day's model inputs three times over at its peak.
    """
    block = np.empty((len(FEATURE_NAMES), rows), dtype="float64")
    for position, name in enumerate(FEATURE_NAMES):
        block[position] = features.pop(name)
    if rows <= FEW_ROWS:  # a mask of a few values costs less than nan_to_num's dozen steps
        block[~np.isfinite(block)] = 0.0
    else:
        np.nan_to_num(block, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return block


def compute_features(
    events: pd.DataFrame,
    baseline: BaselineState,
    config: DetectionConfig,
    settings: FeatureSettings | None = None,
    *,
    cross_user: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Behavioural features of ``events`` judged against ``baseline``.

    Parameters
    ----------
    events
        Canonical events (``ztad.schema``), typically one day.
    baseline
        The state as of the start of the events' day (:func:`ztad.behaviour.baselines.baseline_as_of`).
    config
        Detection settings (``sensitive_resources``).
    settings
        Feature knobs; the defaults suit most organisations. ``FeatureSettings(cold_start=False,
        known_networks=False)`` measures what those two protections buy.
    cross_user
        The whole day's cross-user counts of these events, row-aligned
        (:func:`ztad.behaviour.features.cross_user.cross_user_signals`), when ``events`` are only some
        users of the day (a shard); ``None`` counts across ``events`` themselves.

    Returns
    -------
    pandas.DataFrame
        Same index and order as ``events``: the float64 columns :data:`FEATURE_NAMES`, then
        ``ctx_*`` context columns.

    Raises
    ------
    FeatureInputError
        When a canonical column is missing or a user id or timestamp is empty.
    """
    ctx = build_context(events, baseline, config, settings or FeatureSettings())
    if cross_user is not None:
        share_cross_user(ctx, cross_user)
    features: dict[str, np.ndarray] = {}
    context: dict[str, object] = {}
    for family in _FAMILIES:
        family_features, family_context = family.compute(ctx)
        features.update(family_features)
        context.update(family_context)
    context.update(_maturity_context(ctx))
    return _features_frame(_model_inputs(features, len(events)), context, events.index)


def _features_frame(inputs: np.ndarray, context: dict[str, object], index: pd.Index) -> pd.DataFrame:
    """The model inputs' block and the context columns as one frame that holds the arrays
    themselves: no float64 block copied from them (a large day's peak), and no frames built
    and joined (per-column and per-frame costs that are most of a small request's)."""
    if len(index) <= ONE_BLOCK_ROWS:
        return _one_block_frame(inputs, context, index)
    columns = [
        values if isinstance(values, pd.Categorical) else np.asarray(values, dtype="float64")
        for values in context.values()
    ]
    return frame_of([inputs, *columns], (*FEATURE_NAMES, *context), index)


#: Up to this many events, a mask of non-finite values costs less than ``nan_to_num``.
FEW_ROWS = 64
#: Up to this many events (a request's most), the float64 columns of the features are gathered
#: into one block: a frame pays per block, in every selection of its rows (the flagged ones)
#: and of its columns, and copying a request's columns costs less than a day's peak would.
ONE_BLOCK_ROWS = 10_000


def _one_block_frame(inputs: np.ndarray, context: dict[str, object], index: pd.Index) -> pd.DataFrame:
    """:func:`_features_frame` of up to :data:`ONE_BLOCK_ROWS` events, its float64 columns
    copied into one block: a block per context column is most of a small request's frame, and
    picking a batch's flagged rows out of sixty blocks costs more than copying them into one."""
    names = (*FEATURE_NAMES, *context)
    numbers = [position for position, values in enumerate(context.values(), len(FEATURE_NAMES))
               if not isinstance(values, pd.Categorical)]
    block = np.empty((len(FEATURE_NAMES) + len(numbers), len(index)), dtype="float64")
    block[: len(FEATURE_NAMES)] = inputs
    for row, position in enumerate(numbers, len(FEATURE_NAMES)):
        block[row] = context[names[position]]
    placed = [(block, np.r_[np.arange(len(FEATURE_NAMES)), numbers])]
    placed += [
        (values, np.array([position]))
        for position, values in enumerate(context.values(), len(FEATURE_NAMES))
        if isinstance(values, pd.Categorical)
    ]
    return frame_of_blocks(placed, names, index)
