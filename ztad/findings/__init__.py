"""What a flagged event becomes: a row of the ``findings`` table an analyst can act on.

:mod:`~ztad.findings.build` assembles the rows; each carries reasons in sentences with the
numbers (:mod:`~ztad.findings.sentences`), the features that made it with the user's baseline
(:mod:`~ztad.findings.top_features`), each detector's per-feature blame
(:mod:`~ztad.findings.attributions`) and a severity (:mod:`~ztad.findings.severity`). A day's
findings are then grouped into incidents (:mod:`~ztad.findings.incidents`) and summed into a
risk per user (:mod:`~ztad.findings.risk`). Sentences and top features read the same evidence
(:mod:`~ztad.findings.evidence`).

Everything here is pure: frames in, frames out. This package imports the behaviour layer
(feature names and descriptions, attempt sources) and nothing above it.
"""
