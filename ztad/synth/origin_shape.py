"""A data set shaped like the origin's (``ztad generate --shape origin``).

The project's origin data set is not a live organisation's log: it holds 50,000 rows, 40 % of
them anomalous across many labels, each row drawn on its own and spread over the whole period
(no attack is a session of related events, no history is clean). Detection that leans on
each user's complete history sees much less there, and the labelled normal rows are the only
trustworthy history; this module builds such a set from a generated organisation, so that
ztad can be measured on that shape too (``ztad evaluate --split random``).

A world is generated with attacks from its first day on; its normal events are sampled
uniformly, its attack events with weights that even out the labels (otherwise password
guessing, dozens of events per attack, would fill the anomalous share). The rows keep the
origin's ten columns only: no department, hard-negative marker or attack id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import numpy as np
import pandas as pd

from ztad.synth.table import OUTPUT_COLUMNS
from ztad.synth.world import GeneratorSettings, GeneratorSettingsError, build_world, iter_day_frames
from ztad.synth.writer import GenerateSummary, write_days

#: Rows and anomalous share of the origin data set.
ORIGIN_ROWS = 50_000
ORIGIN_ANOMALY_SHARE = 0.40
#: Attack rate of the world the rows are drawn from: enough attack events to sample from.
SOURCE_ATTACK_RATE = 0.3
#: The origin data set's columns (the generator's, without department, scenario and attack id).
ORIGIN_COLUMNS: tuple[str, ...] = tuple(c for c in OUTPUT_COLUMNS if c not in ("department", "scenario", "attack_id"))


def sample_origin_rows(events: pd.DataFrame, rows: int, anomaly_share: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Positions of ``rows`` events of ``events``: ``anomaly_share`` of them anomalous with the
    labels evened out, the rest normal, drawn uniformly; in time order.

    Raises
    ------
    GeneratorSettingsError
        When there are too few normal or anomalous events to draw from.
    """
    labels = events["event_label"].astype(str).to_numpy()
    anomalous = np.flatnonzero(labels != "normal")
    normal = np.flatnonzero(labels == "normal")
    wanted = round(rows * anomaly_share)
    if wanted > len(anomalous) or rows - wanted > len(normal):
        raise GeneratorSettingsError(
            f"{rows} rows with {anomaly_share:.0%} anomalous need {wanted} attack and {rows - wanted} normal "
            f"events; the generated world has {len(anomalous)} and {len(normal)}: give more --users or --days"
        )
    _, codes, counts = np.unique(labels[anomalous], return_inverse=True, return_counts=True)
    weights = 1.0 / counts[codes]
    picked = np.concatenate([
        rng.choice(anomalous, size=wanted, replace=False, p=weights / weights.sum()),
        rng.choice(normal, size=rows - wanted, replace=False),
    ])
    return np.sort(picked)


def generate_origin_shaped(
    out_dir,
    *,
    start: date,
    days: int,
    users: int,
    seed: int = 7,
    rows: int = ORIGIN_ROWS,
    anomaly_share: float = ORIGIN_ANOMALY_SHARE,
    layout: str = "partitioned",
    fmt: str = "csv",
    progress: Callable[[int, int], None] | None = None,
) -> GenerateSummary:
    """Write an origin-shaped set of ``rows`` events drawn from a generated organisation."""
    if not 0.0 < anomaly_share < 1.0:
        raise GeneratorSettingsError(f"anomaly_share must be in (0, 1), got {anomaly_share}")
    settings = GeneratorSettings(start, days, users, seed, SOURCE_ATTACK_RATE, clean_days=0)
    frames = [frame for _, frame in iter_day_frames(build_world(settings))]
    events = pd.concat(frames, ignore_index=True)
    events = events.astype({c: "string" for c in events.columns if isinstance(events[c].dtype, pd.CategoricalDtype)})
    picked = events.iloc[sample_origin_rows(events, rows, anomaly_share, np.random.default_rng([seed, 99]))]
    return write_days(out_dir, _by_day(picked[list(ORIGIN_COLUMNS)]), settings, layout=layout, fmt=fmt,
                      progress=progress)


def _by_day(events: pd.DataFrame) -> Iterator[tuple[date, pd.DataFrame]]:
    days = events["timestamp"].dt.date
    for day, frame in events.groupby(days, sort=True):
        yield day, frame.reset_index(drop=True)
