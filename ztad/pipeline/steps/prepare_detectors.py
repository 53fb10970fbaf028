"""Step 3: load the newest model trained before the day, or train one, and say which and why.

A model trained here has its digests recorded in the findings database's ``models`` table at
once (:mod:`ztad.pipeline.model_trust`): the scoring step loads it only if the artifact store
still matches them."""

from __future__ import annotations

from datetime import date

from ztad.config import JobConfig
from ztad.pipeline.model_trust import FindingsDatabaseTrust
from ztad.pipeline.training_data import training_matrix
from ztad.pipeline.workfiles import day_dir, read_parquet, write_json

#: The decision of a day without events: nothing to score, so no model is trained or loaded.
NOTHING_TO_SCORE = {"model_version": None, "action": "none", "reason": "no events to score"}


def prepare_detectors(day: date, config: JobConfig, retrain: bool = False) -> dict:
    """Load the newest model trained before ``day``, or train one, and say which and why.

    Before the history can train a model the day is a learning day (``action`` ``learning``,
    no model); a day without events needs none (``action`` ``none``).
    """
    from ztad.detection.policy import train_or_load
    from ztad.pipeline.parquet_columns import ParquetColumns

    features = day_dir(config, day) / "features.parquet"
    if len(read_parquet(features, columns=[])) == 0:
        write_json(day_dir(config, day) / "detectors.json", NOTHING_TO_SCORE)
        return dict(NOTHING_TO_SCORE)
    decision = train_or_load(
        day,
        config,
        training_matrix=lambda: training_matrix(config, day),
        # The drift check reads the model features only, not the context columns beside them,
        # and one at a time: a large day's are never held together.
        day_features=lambda: ParquetColumns(features),
        force_retrain=retrain,
        trust=FindingsDatabaseTrust(config.resolved_database_url),
    )
    write_json(day_dir(config, day) / "detectors.json", decision)
    return decision
