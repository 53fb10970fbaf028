"""Peer groups: departments, or clusters of users who touch the same resources, and the
peer- and organisation-wide counts of users per item."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import codes_in
from ztad.behaviour.baselines.pairs import PairStats, pair_stats


def _learned_groups(resource: PairStats, users: np.ndarray, seed: int = 0):
    """Cluster users by the share of their events on each resource (deterministic k-means).

    Returns the group of each listed user and the centroids, so that a new user can later be
    placed in the nearest group.
    """
    owners = resource.owners()
    row_of = pd.Index(users).get_indexer(owners)
    keep = row_of >= 0
    matrix = np.zeros((len(users), len(resource.items)))
    counts = resource.values["count"].to_numpy("float64")
    np.add.at(matrix, (row_of[keep], resource.item_of()[keep]), counts[keep])
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    n_groups = int(np.clip(round(np.sqrt(len(users) / 10.0)), 1, 30))
    if n_groups <= 1 or len(resource.items) < 2:
        return np.zeros(len(users), dtype="int64"), matrix.mean(axis=0, keepdims=True)
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=n_groups, n_init=4, random_state=seed).fit(matrix)
    return model.labels_.astype("int64"), model.cluster_centers_


def assign_peers(users: pd.DataFrame, resource: PairStats):
    """Peer groups: the department where known, otherwise learned from resource usage."""
    departments = users["department"]
    labels = sorted(departments.dropna().unique().tolist())
    peer = codes_in(pd.Index(labels, dtype="string"), departments)
    descriptions = list(labels)
    without = np.flatnonzero(peer < 0)
    centroids, centroid_peers = None, np.array([], dtype="int64")
    if len(without):
        groups, centroids = _learned_groups(resource, without)
        top = np.argsort(-centroids, axis=1)[:, :3]
        base = len(labels)
        for g in range(len(centroids)):
            labels.append(f"resource group {g + 1}")
            shown = ", ".join(str(resource.items[i]) for i in top[g] if centroids[g, i] > 0)
            descriptions.append(f"resource group {g + 1}" + (f" ({shown})" if shown else ""))
        peer[without] = base + groups
        centroid_peers = base + np.arange(len(centroids), dtype="int64")
    return peer, pd.Index(labels, dtype="string"), descriptions, centroids, centroid_peers


def group_items(pairs: PairStats, owner_to_group: np.ndarray, extra: tuple[str, ...] = ()) -> PairStats:
    """Roll user × item up to group × item: distinct users and summed counts."""
    owners = pairs.owners()
    groups = owner_to_group[owners] if len(owners) else np.array([], "int64")
    sums = {"count": pairs.values["count"].to_numpy("float64")}
    sums.update({c: pairs.values[c].to_numpy("float64") for c in extra})
    return pair_stats(groups, pairs.item_of(), pairs.items, sums, rows_as="users")


def org_items(pairs: PairStats, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per item across the organisation: distinct users and summed counts, aligned with items."""
    items = pairs.item_of()
    n = len(pairs.items)
    out = pd.DataFrame({"users": np.bincount(items, minlength=n).astype("float64")})
    for column in ("count",) + extra:
        out[column] = np.bincount(items, weights=pairs.values[column].to_numpy("float64"), minlength=n)
    return out
