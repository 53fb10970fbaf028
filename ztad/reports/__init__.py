"""Reports people read: the daily report of what the nightly job found
(:mod:`~ztad.reports.daily`), and the figures and HTML pages it shares with the evaluation
report (:mod:`~ztad.reports.plots`, :mod:`~ztad.reports.html`).

Production code; it reads the findings database and imports nothing from
:mod:`ztad.evaluation`, which imports it.
"""
