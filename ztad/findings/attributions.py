"""Which features made a flagged event unusual, in each detector's own terms.

Only flagged rows are attributed (0.5 % of a day), once per row and detector:

- **Isolation Forest**: SHAP values (``shap.TreeExplainer``, exact TreeSHAP) for the
  :data:`EXACT_SHAP_ROWS` flagged rows with the highest final score, and path attributions
  for all flagged rows. Each tree's output is the row's path length (depth of its leaf plus
  the expected depth of the points left in it); every node has an expected path length (the
  mean over the training points under it). Path attributions walk the row's path from the
  root and credit each split's move of that expectation to the split's feature (Saabas'
  method); they add up exactly to the row's mean path length minus the forest's expected one,
  and equal ``shap.TreeExplainer(forest).shap_values(X, approximate=True)``, shap's own
  path-based variant. Exact TreeSHAP costs about 0.03 s per row on a 200-tree forest of
  8,192-sample trees, 2.5 minutes for 5,000 flagged rows; path attributions cost well under
  a millisecond per row (``bench/bench_explain.py`` measures both and how often they name the
  same top features). Both are reported with the sign flipped: positive = the feature
  shortened the path, i.e. made the row easier to isolate. The TreeSHAP explainer is built
  from the forest's arrays (:func:`forest_as_shap_model`), which takes a fraction of a second
  where ``shap.TreeExplainer(forest)`` walks every node in Python for seconds.
- **Autoencoder**: per-feature squared reconstruction error (``feature_errors``).
- **ECOD** and any other member that decomposes its score over features:
  ``feature_contributions``.

A member that does not decompose (the One-Class SVM) has no attributions. The per-member
frames are kept in the day's work folder as one wide table (:func:`attribution_table`) and
become each finding's ``attributions`` document (:func:`attributions_documents`) and the
weights of its top features (:func:`combined_shares`).
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ztad.findings.evidence import column_values

log = logging.getLogger(__name__)

#: How each member's attributions are computed, as stored in the documents.
METHODS: dict[str, str] = {
    "isolation_forest": "tree_path",
    "autoencoder": "reconstruction_error",
    "ecod": "tail_surprise",
}
#: The Isolation Forest's method for the rows explained by exact TreeSHAP.
EXACT_METHOD = "tree_shap"
#: Flagged rows (highest final score first) whose Isolation Forest attributions are exact
#: TreeSHAP values: about 8 s a night at most.
EXACT_SHAP_ROWS = 250
#: Column of the wide table marking the rows explained by exact TreeSHAP.
EXACT_COLUMN = "exact_shap"
#: Features kept per detector in a finding's ``attributions`` document.
TOP_PER_DETECTOR = 5
#: Separator of member and feature in the wide table's column names.
SEPARATOR = "|"


class AttributionError(ValueError):
    """Attributions cannot be computed for the model or rows given."""


# --------------------------------------------------------------------------- isolation forest


def _average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """Expected depth of an unsuccessful search among ``n`` points (Liu et al.), as scikit-learn."""
    from sklearn.ensemble._iforest import (
        _average_path_length as sklearn_average_path_length,
    )

    return sklearn_average_path_length(np.asarray(n_samples))


def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(left), dtype=np.int64)
    frontier, level = np.array([0]), 0
    while frontier.size:
        depth[frontier] = level
        children = np.concatenate([left[frontier], right[frontier]])
        frontier, level = children[children >= 0], level + 1
    return depth


def _expected_path_lengths(tree) -> tuple[np.ndarray, np.ndarray]:
    """Per node: its parent (-1 for the root) and the expected path length of points under it."""
    left, right, counts = tree.children_left, tree.children_right, tree.n_node_samples.astype(float)
    internal = np.flatnonzero(left >= 0)
    parent = np.full(tree.node_count, -1, dtype=np.int64)
    parent[left[internal]] = internal
    parent[right[internal]] = internal
    depth = _node_depths(left, right)
    leaves = left < 0
    weighted = np.zeros(tree.node_count)
    weighted[leaves] = (depth[leaves] + _average_path_length(counts[leaves])) * counts[leaves]
    # Children sit one level below their parent: fold sums upwards, deepest level first.
    for level in range(int(depth.max()), 0, -1):
        nodes = np.flatnonzero(depth == level)
        np.add.at(weighted, parent[nodes], weighted[nodes])
    return parent, weighted / counts


@dataclass(frozen=True)
class PathCredits:
    """Every node of a forest's trees, numbered across the forest (tree by tree): its parent
    (the root is its own parent), the feature its parent splits on (original numbering) and
    the move of the expected path length into it (0 at a root), to walk from leaves upwards."""

    parent: np.ndarray
    feature: np.ndarray
    move: np.ndarray
    first_node: np.ndarray
    depth: int


def _path_credits(forest) -> PathCredits:
    n_features = int(forest.n_features_in_)
    subsets = n_features != forest._max_features
    parents, features, moves, firsts, depth, offset = [], [], [], [], 0, 0
    for estimator, grown_on in zip(forest.estimators_, forest.estimators_features_):
        tree = estimator.tree_
        parent, expected = _expected_path_lengths(tree)
        mapping = np.asarray(grown_on) if subsets else np.arange(n_features)
        root = parent < 0
        up = np.where(root, np.arange(tree.node_count), parent)
        parents.append(up + offset)
        features.append(np.where(root, 0, mapping[np.maximum(tree.feature[up], 0)]))
        moves.append(np.where(root, 0.0, expected - expected[up]))
        firsts.append(offset)
        depth, offset = max(depth, int(tree.max_depth)), offset + tree.node_count
    return PathCredits(
        np.concatenate(parents), np.concatenate(features), np.concatenate(moves), np.array(firsts), depth
    )


#: What a fitted forest's explanations derive from its trees alone, kept while the forest lives:
#: a loaded model explains day after day (the scoring service, request after request).
_CREDITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_EXPLAINERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def path_credits(forest) -> PathCredits:
    """:class:`PathCredits` of a fitted forest, derived once while it lives."""
    credits = _CREDITS.get(forest)
    if credits is None:
        credits = _CREDITS[forest] = _path_credits(forest)
    return credits


def isolation_forest_attributions(forest, X) -> np.ndarray:
    """Per row and feature, how much it shortened the row's mean path length in ``forest``.

    Each row's leaf in every tree is found by the tree itself; the walk from the leaves up to
    the roots then runs for all trees and rows at once, one step per level, crediting each
    step's move to its split feature (a few array operations per level, whatever the number
    of trees).

    Parameters
    ----------
    forest
        A fitted ``sklearn.ensemble.IsolationForest``.
    X
        Rows x features, in the forest's feature order.

    Returns
    -------
    numpy.ndarray
        Rows x features; each row sums to the forest's expected path length minus the row's
        mean path length (positive: easier to isolate than a typical point).
    """
    values = np.asarray(X, dtype=np.float32)
    n_features = int(forest.n_features_in_)
    if values.ndim != 2 or values.shape[1] != n_features:
        raise AttributionError(f"the forest takes {n_features} features, got an array of shape {values.shape}")
    from ztad.detection.detectors.forest_paths import forest_leaves

    credits = path_credits(forest)
    nodes = forest_leaves(forest, values).ravel()  # numbered across the forest, as the credits are
    cell_of_row = np.repeat(np.arange(len(values)) * n_features, len(forest.estimators_))
    total = np.zeros(len(values) * n_features)
    for _ in range(credits.depth):
        total += np.bincount(
            cell_of_row + credits.feature[nodes], weights=credits.move[nodes], minlength=len(total)
        )
        nodes = credits.parent[nodes]
    return -total.reshape(len(values), n_features) / len(forest.estimators_)


def forest_as_shap_model(forest) -> dict:
    """The forest in shap's generic tree format: node values are expected path lengths,
    scaled so that the model output is the mean path length (as ``shap`` does for it)."""
    trees = []
    n_trees = len(forest.estimators_)
    subsets = forest.n_features_in_ != forest._max_features
    for estimator, features in zip(forest.estimators_, forest.estimators_features_):
        tree = estimator.tree_
        _, expected = _expected_path_lengths(tree)
        mapping = np.asarray(features) if subsets else np.arange(forest.n_features_in_)
        split = np.where(tree.feature >= 0, mapping[np.maximum(tree.feature, 0)], -1)
        trees.append(
            {
                "children_left": tree.children_left.astype(np.int32),
                "children_right": tree.children_right.astype(np.int32),
                "children_default": tree.children_left.astype(np.int32),
                "features": split.astype(np.int32),
                "thresholds": tree.threshold.astype(np.float64),
                "values": (expected / n_trees).reshape(-1, 1),
                "node_sample_weight": tree.n_node_samples.astype(np.float64),
            }
        )
    return {"trees": trees}


def isolation_forest_shap(forest, X) -> np.ndarray:
    """Exact TreeSHAP values of the rows' mean path length, sign flipped like
    :func:`isolation_forest_attributions` (same additivity, fairer split of credit). Inside
    :func:`ztad.findings.forked_half.forked_halves`, half of the rows on the other core."""
    import shap

    from ztad.findings.forked_half import by_halves

    # The forest decides on float32 inputs: round the same way before comparing thresholds.
    values = np.asarray(X, dtype=np.float32).astype(np.float64)
    explainer = _EXPLAINERS.get(forest)
    if explainer is None:
        explainer = _EXPLAINERS[forest] = shap.TreeExplainer(forest_as_shap_model(forest))
    return -by_halves(lambda rows: explainer.shap_values(rows, check_additivity=False), values)


def _exact_positions(n: int, priority, limit: int) -> np.ndarray:
    """Positions of the ``limit`` rows with the highest priority (the first ones without)."""
    if limit <= 0 or n == 0:
        return np.array([], dtype=np.int64)
    if priority is None:
        return np.arange(min(n, limit))
    order = np.argsort(-np.asarray(priority, dtype=np.float64), kind="stable")
    return np.sort(order[:limit])


# --------------------------------------------------------------------------- ensemble members


def member_attributions(ensemble, X: pd.DataFrame, exact: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """Per member that decomposes its score: a rows x features frame of attributions.

    ``X`` holds the rows to explain (the flagged ones), with the ensemble's features;
    ``exact`` marks rows whose Isolation Forest attributions are exact TreeSHAP values.
    """
    names = list(ensemble.feature_names_in_)
    columns = pd.Index(names)  # one index for every frame: pandas reads a list of names anew each time
    matrix = model_inputs(X, names, columns)
    out: dict[str, pd.DataFrame] = {}
    for name, detector in ensemble.detectors_.items():
        if name == "isolation_forest" and hasattr(detector, "model_"):
            values = isolation_forest_attributions(detector.model_, matrix.to_numpy(np.float64))
            if exact is not None and exact.any():
                values[exact] = isolation_forest_shap(detector.model_, matrix.to_numpy(np.float64)[exact])
            out[name] = pd.DataFrame(values, index=X.index, columns=columns)
            continue
        try:
            frame = detector.feature_contributions(matrix)
        except NotImplementedError:
            continue
        out[name] = pd.DataFrame(np.asarray(frame, dtype=float), index=X.index, columns=columns)
    return out


def model_inputs(X: pd.DataFrame, names: list[str], columns: pd.Index | None = None) -> pd.DataFrame:
    """``X[names]``: one float64 block stacked from the columns' arrays when all of them are
    float64 (the features are), a seventh of the time pandas takes to pick a few dozen of a
    hundred columns; ``X[names]`` itself otherwise. ``columns``: ``names`` as an index, if at hand."""
    values = [column_values(X, name) for name in names]
    if values and all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in values):
        return pd.DataFrame(np.column_stack(values), index=X.index, columns=names if columns is None else columns)
    return X[names]


def _shap_available() -> bool:
    try:
        import shap  # noqa: F401
    except ImportError:
        log.warning("shap is not installed: Isolation Forest attributions are path-based only")
        return False
    return True


def attribution_table(
    ensemble, features: pd.DataFrame, flagged, priority=None, exact_rows: int = EXACT_SHAP_ROWS
) -> pd.DataFrame:
    """The flagged rows' attributions as one wide table (``row`` = position in the day).

    Columns ``<member>|<feature>`` and :data:`EXACT_COLUMN`; only ``row`` when nothing is
    flagged. ``priority`` (per row of the day, e.g. the final score) picks the ``exact_rows``
    flagged rows explained by exact TreeSHAP.
    """
    rows = np.flatnonzero(np.asarray(flagged, dtype=bool))
    table = pd.DataFrame({"row": rows.astype(np.int64)})
    if len(rows) == 0:
        return table
    frames, exact = flagged_member_attributions(ensemble, features, flagged, priority, exact_rows)
    table[EXACT_COLUMN] = exact
    parts = [table] + [frame.add_prefix(f"{member}{SEPARATOR}") for member, frame in frames.items()]
    return pd.concat(parts, axis=1)


def flagged_member_attributions(
    ensemble, features: pd.DataFrame, flagged, priority=None, exact_rows: int = EXACT_SHAP_ROWS
) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """The flagged rows' attributions per member as :func:`attribution_table` keeps them
    (float32, one row per flagged row in order), and which rows hold exact TreeSHAP values.

    A caller that describes the flagged rows at once (``/predict``) reads these without the
    wide table between them, which costs more than the attributions of a few rows.
    """
    rows = np.flatnonzero(np.asarray(flagged, dtype=bool))
    exact = np.zeros(len(rows), dtype=bool)
    if len(rows) == 0:
        return {}, exact
    if exact_rows > 0 and "isolation_forest" in ensemble.detectors_ and _shap_available():
        ranks = None if priority is None else np.asarray(priority, dtype=np.float64)[rows]
        exact[_exact_positions(len(rows), ranks, exact_rows)] = True
    every = len(rows) == len(features) and features.index.equals(pd.RangeIndex(len(rows)))
    frames = member_attributions(ensemble, features if every else features.iloc[rows].reset_index(drop=True), exact)
    stored = {member: frame.astype(np.float32) for member, frame in frames.items()}
    return stored, exact & ("isolation_forest" in frames)


def split_table(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The wide table back into member -> rows x features frames (index = ``row``)."""
    columns: dict[str, list[int]] = {}
    for position, column in enumerate(table.columns):
        member, separator, _ = str(column).partition(SEPARATOR)
        if separator:
            columns.setdefault(member, []).append(position)
    index = pd.Index(table["row"].to_numpy(), name="row") if "row" in table else table.index
    # One block per member, read at once by position: a column at a time, or by name, cost a
    # fixed overhead per feature.
    return {
        member: pd.DataFrame(
            table.iloc[:, positions].to_numpy(np.float64),
            index=index,
            columns=[str(table.columns[p]).partition(SEPARATOR)[2] for p in positions],
        )
        for member, positions in columns.items()
    }


def exact_mask(table: pd.DataFrame) -> pd.Series:
    """Per row of the wide table (index = ``row``), whether it holds exact TreeSHAP values."""
    values = table[EXACT_COLUMN].to_numpy(bool) if EXACT_COLUMN in table else np.zeros(len(table), bool)
    return pd.Series(values, index=pd.Index(table["row"].to_numpy(), name="row"))


# --------------------------------------------------------------------------- documents


def attributions_documents(
    frames: dict[str, pd.DataFrame], exact=None, top: int = TOP_PER_DETECTOR
) -> list[dict]:
    """Per row, ``{member: {"method", "top": [[feature, value], ...]}}``, largest first.

    Only positive attributions (those pushing towards "anomalous") are listed. ``exact``
    marks rows whose Isolation Forest values are exact TreeSHAP (method ``tree_shap``).
    """
    if not frames:
        return []
    n = len(next(iter(frames.values())))
    exact = np.zeros(n, dtype=bool) if exact is None else np.asarray(exact, dtype=bool)
    documents: list[dict] = [{} for _ in range(n)]
    for member, frame in frames.items():
        method = METHODS.get(member, "feature_contributions")
        methods = np.where(exact, EXACT_METHOD, method) if member == "isolation_forest" else np.full(n, method)
        for document, row_method, top_of_row in zip(documents, methods.tolist(), _largest(frame, top)):
            document[member] = {"method": row_method, "top": top_of_row}
    return documents


def _largest(frame: pd.DataFrame, top: int) -> list[list[list]]:
    """Per row of ``frame``, its ``top`` largest positive values as ``[feature, value]``
    (rounded to 4 places), largest first: the order and the values picked out for all rows
    at once, only the short lists built per row."""
    values = frame.to_numpy(np.float64)
    order = np.argsort(-values, axis=1)[:, :top]
    picked = np.take_along_axis(values, order, axis=1)
    names = np.array(frame.columns, dtype=object)[order].tolist()
    return [
        [[name, round(value, 4)] for name, value, positive in zip(row_names, row_values, row_positive) if positive]
        for row_names, row_values, row_positive in zip(names, picked.tolist(), (picked > 0).tolist())
    ]


def combined_shares(frames: dict[str, pd.DataFrame], member_scores=None) -> pd.DataFrame:
    """Per row and feature, its share of the anomaly across members (rows sum to 1 or 0).

    Each member's positive attributions are turned into shares of that member's total, then
    averaged with the member's normalised score (``member_scores[member]``, e.g. the
    ``score_<member>`` surprise; a frame, or a mapping of member to values) as weight, so that
    a member that found the row ordinary has little say.
    """
    if not frames:
        return pd.DataFrame()
    first = next(iter(frames.values()))
    total = np.zeros(first.shape)
    weights = np.zeros(len(first))
    for member, frame in frames.items():
        positive = np.clip(frame.to_numpy(np.float64), 0.0, None)
        sums = positive.sum(axis=1, keepdims=True)
        shares = np.divide(positive, sums, out=np.zeros_like(positive), where=sums > 0)
        weight = np.ones(len(frame))
        if member_scores is not None and member in member_scores:
            weight = np.clip(np.nan_to_num(np.asarray(member_scores[member], dtype=np.float64)), 1e-6, None)
        total += shares * weight[:, None]
        weights += weight * (sums[:, 0] > 0)
    combined = np.divide(total, weights[:, None], out=np.zeros_like(total), where=weights[:, None] > 0)
    return pd.DataFrame(combined, index=first.index, columns=first.columns)
