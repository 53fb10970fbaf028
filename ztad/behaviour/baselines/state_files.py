"""A baseline state kept as data files (Parquet, ``.npy`` and JSON), never as a pickle.

The sharded job builds a day's :class:`BaselineState` once and hands it to every shard's worker
through the day's work folder. Reading a pickle runs whatever code its bytes name, so whoever
could write to the work folder (a shared volume) could run code in every worker; data files
are read as data. Layout of the folder::

    state.json                   day, window, days with data, peer descriptions, what is stored
    users.parquet                per-user rows
    user_index.parquet, peer_labels.parquet, centroid_resources.parquet
                                 the indexes, one column ``value``
    hour_counts.npy, centroid_peers.npy, centroids.npy (when learned)
    pairs/<kind>/, peer_pairs/<kind>/
                                 items.parquet, keys.npy, values.parquet of each PairStats
    org_items/<kind>.parquet
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.daily import BaselineError
from ztad.behaviour.baselines.pairs import PairStats
from ztad.behaviour.baselines.state import BaselineState

#: Bumped when the layout changes; an older folder is refused (rebuild the day's split).
STATE_FORMAT = 2
STATE_FILE = "state.json"
_INDEXES = ("user_index", "peer_labels", "centroid_resources")
_ARRAYS = ("hour_counts", "centroid_peers")


def write_index(index: pd.Index, path: Path) -> dict:
    """Write ``index`` as a Parquet column ``value``; return what :func:`read_index` needs."""
    pd.DataFrame({"value": index}).to_parquet(path, index=False)
    return {"dtype": str(index.dtype), "name": index.name}


def read_index(path: Path, kind: dict) -> pd.Index:
    """The index :func:`write_index` wrote (``kind`` as it returned)."""
    return pd.Index(pd.read_parquet(path)["value"].to_numpy(), dtype=kind["dtype"]).rename(kind["name"])


def write_pairs(stats: PairStats, folder: Path) -> dict:
    """Write ``stats`` into the new ``folder``; return what :func:`read_pairs` needs of its items."""
    folder.mkdir(parents=True)
    np.save(folder / "keys.npy", stats.keys, allow_pickle=False)
    stats.values.to_parquet(folder / "values.parquet")
    return write_index(stats.items, folder / "items.parquet")


def read_pairs(folder: Path, kind: dict) -> PairStats:
    """The :class:`PairStats` :func:`write_pairs` wrote into ``folder`` (``kind`` as it returned)."""
    return PairStats(
        items=read_index(folder / "items.parquet", kind),
        keys=np.load(folder / "keys.npy", allow_pickle=False),
        values=pd.read_parquet(folder / "values.parquet"),
    )


def save_state(state: BaselineState, folder: Path) -> Path:
    """Write ``state`` into the empty or missing ``folder``; return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state.users.to_parquet(folder / "users.parquet")
    dtypes = {name: write_index(getattr(state, name), folder / f"{name}.parquet") for name in _INDEXES}
    for name in _ARRAYS:
        np.save(folder / f"{name}.npy", np.asarray(getattr(state, name)), allow_pickle=False)
    if state.centroids is not None:
        np.save(folder / "centroids.npy", state.centroids, allow_pickle=False)
    pair_dtypes = {kind: write_pairs(stats, folder / "pairs" / kind) for kind, stats in state.pairs.items()}
    peer_dtypes = {kind: write_pairs(stats, folder / "peer_pairs" / kind) for kind, stats in state.peer_pairs.items()}
    (folder / "org_items").mkdir()
    for kind, frame in state.org_items.items():
        frame.to_parquet(folder / "org_items" / f"{kind}.parquet")
    description = {
        "format": STATE_FORMAT,
        "day": state.day.isoformat(),
        "window_days": state.window_days,
        "days_with_data": state.days_with_data,
        "peer_descriptions": list(state.peer_descriptions),
        "index_dtypes": dtypes,
        "pairs": pair_dtypes,
        "peer_pairs": peer_dtypes,
        "org_items": list(state.org_items),
        "centroids": state.centroids is not None,
    }
    (folder / STATE_FILE).write_text(json.dumps(description, indent=2))
    return folder


def load_state(folder: Path) -> BaselineState:
    """Read a state written by :func:`save_state`.

    Raises
    ------
    BaselineError
        When the folder holds no state, or one of another layout.
    """
    from datetime import date

    folder = Path(folder)
    path = folder / STATE_FILE
    if not path.is_file():
        raise BaselineError(f"{folder} holds no saved baseline: {STATE_FILE} is missing")
    description = json.loads(path.read_text())
    if description.get("format") != STATE_FORMAT:
        raise BaselineError(
            f"{path} has layout {description.get('format')!r}, not {STATE_FORMAT}: prepare the day again"
        )
    indexes = {
        name: read_index(folder / f"{name}.parquet", dtype) for name, dtype in description["index_dtypes"].items()
    }
    return BaselineState(
        day=date.fromisoformat(description["day"]),
        window_days=int(description["window_days"]),
        days_with_data=int(description["days_with_data"]),
        users=pd.read_parquet(folder / "users.parquet"),
        hour_counts=np.load(folder / "hour_counts.npy", allow_pickle=False),
        pairs={kind: read_pairs(folder / "pairs" / kind, dtype) for kind, dtype in description["pairs"].items()},
        peer_descriptions=list(description["peer_descriptions"]),
        peer_pairs={
            kind: read_pairs(folder / "peer_pairs" / kind, dtype) for kind, dtype in description["peer_pairs"].items()
        },
        org_items={kind: pd.read_parquet(folder / "org_items" / f"{kind}.parquet") for kind in description["org_items"]},
        centroids=np.load(folder / "centroids.npy", allow_pickle=False) if description["centroids"] else None,
        centroid_peers=np.load(folder / "centroid_peers.npy", allow_pickle=False),
        **indexes,
    )
