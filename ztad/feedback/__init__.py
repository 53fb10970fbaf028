"""Analysts' verdicts, read back by the next run.

A finding's verdict is its own status once an analyst set one, else its incident's (so a
whole incident can be closed at once, by ``ztad triage`` or by SQL). Two verdicts change
what the job does next:

``false_positive``
    The event was fine. Its *pattern* is allowed for its user from the next day on: the place,
    device, resource or address that made it unusual (read from its reason codes) becomes an
    entry of the ``feedback_allowlist`` table, which survives reruns. A later flagged event of
    that user is *suppressed* (not flagged, no finding) when every reason it has is covered by
    the user's entries, e.g. a first login from the allowed city with a new address there;
    a burst of failures or a large transfer is never covered. The false positive itself enters
    the baseline: its day's aggregate is rebuilt with it, so the place or device stops being
    new for the user.
``confirmed``
    The event was an attack: it never enters the baseline or the training data, even if a
    rerun of its day stops flagging it.

Each night, before the baseline is built, the run compares the verdicts of the days in its
window with those it last applied (``<state>/feedback/day=YYYY-MM-DD.json``) and rebuilds the
aggregates of the days whose verdicts changed. Reading never writes to the database; the
allowlist table is brought up to date by the write step and by ``ztad triage``
(:mod:`~ztad.feedback.triage`).

Labels are the source's own verdicts: when history the job never scored carries
``event_label``, only the events labelled ``normal`` teach the baseline and the detectors
(:func:`~ztad.feedback.learning.trusted_by_labels`); a scored day's labels are never read.

Modules: :mod:`~ztad.feedback.verdicts` (reading them), :mod:`~ztad.feedback.allowlist`,
:mod:`~ztad.feedback.suppression`, :mod:`~ztad.feedback.learning` (what may teach the baseline
and the detectors) and :mod:`~ztad.feedback.relearning` (applying changed verdicts). This
package imports the store, the findings' sentences and the baselines, nothing above them.
"""

from ztad.feedback.allowlist import derive_allowlist, effective_allowlist, sync_allowlist
from ztad.feedback.learning import (
    baseline_mask,
    hour_only_alerts,
    learnable_events,
    raised_for_hour_alone,
    training_mask,
    trusted_by_labels,
)
from ztad.feedback.relearning import (
    DayFeedback,
    applied_fingerprint,
    apply_feedback,
    drop_confirmed_training_rows,
    load_day_feedback,
    record_fingerprint,
)
from ztad.feedback.suppression import covered, suppressed_mask
from ztad.feedback.verdicts import CONFIRMED, FALSE_POSITIVE, day_verdicts, read_verdicts

__all__ = [
    "CONFIRMED", "FALSE_POSITIVE", "DayFeedback", "applied_fingerprint", "apply_feedback",
    "baseline_mask", "covered", "day_verdicts", "derive_allowlist", "drop_confirmed_training_rows",
    "effective_allowlist", "hour_only_alerts", "learnable_events", "load_day_feedback",
    "raised_for_hour_alone", "read_verdicts",
    "record_fingerprint", "suppressed_mask", "sync_allowlist", "training_mask", "trusted_by_labels",
]
