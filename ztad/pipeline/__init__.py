"""One day of the detection job, end to end, with no orchestrator.

The same functions run from the CLI, from the tests and from each Airflow task. Each step
reads and writes files in the day's work folder (``<home>/work/day=YYYY-MM-DD``, see
:mod:`~ztad.pipeline.workfiles`) and returns a small JSON-able dict, so that every step can
run in its own process (:mod:`~ztad.pipeline.steps`):

1. :func:`pull` loads the day's events and quarantines bad rows;
2. :func:`update_baselines` builds the baseline as it stood before the day and computes the
   day's behavioural features;
3. :func:`prepare_detectors` loads the latest model or trains a new one (on the matrix of
   :mod:`~ztad.pipeline.training_data`) and records a new one's digests in the ``models``
   table, the registry's root of trust (:mod:`~ztad.pipeline.model_trust`);
4. :func:`score` scores the events, applies the calibrated threshold and the behavioural rules;
5. :func:`write_findings` replaces the day's findings and run record, and notes in the
   ``models`` table which run trained the day's model and why, in one transaction, then
   teaches the baseline the day's unflagged events.

:func:`run_day` runs all five; :func:`run_range` runs consecutive days (a backfill)
(:mod:`~ztad.pipeline.runner`).

A large day can be spread over several workers in shards of users (:mod:`~ztad.pipeline.shards`,
:mod:`~ztad.pipeline.sharding`): :func:`cross_user` prepares the day once, then steps 2 and 4
run per ``shard``, and :func:`run_sharded_day` runs a day that way in this process.

This package is the top of the domain: it imports every layer below it (ingest, behaviour,
detection, findings, store, feedback) and is imported only by the reports, the evaluation,
the CLI and the Airflow plugins.
"""

from ztad.pipeline.model_trust import FindingsDatabaseTrust, model_registry
from ztad.pipeline.run_summary import STEPS, RunSummary
from ztad.pipeline.runner import (
    new_run_id,
    prepare_sharded_detectors,
    record_failure,
    run_day,
    run_range,
    run_sharded_day,
    write_sharded_findings,
)
from ztad.pipeline.scoring import final_score
from ztad.pipeline.steps.prepare_detectors import prepare_detectors
from ztad.pipeline.steps.pull import pull
from ztad.pipeline.steps.score import attribute_scores, score, scored_events
from ztad.pipeline.steps.update_baselines import cross_user, update_baselines
from ztad.pipeline.steps.write_findings import write_findings
from ztad.pipeline.training_data import training_features_path
from ztad.pipeline.workfiles import day_dir

__all__ = [
    "STEPS", "FindingsDatabaseTrust", "RunSummary", "attribute_scores", "cross_user", "day_dir",
    "final_score", "model_registry", "new_run_id", "prepare_detectors", "prepare_sharded_detectors", "pull", "record_failure",
    "run_day", "run_range", "run_sharded_day", "score", "scored_events", "training_features_path",
    "update_baselines", "write_findings", "write_sharded_findings",
]
