"""The scoring service and the triage dashboard, over the nightly job's model, baselines and findings.

- :mod:`~ztad.service.api`: ``ztad serve``, the HTTP API (``/predict``, findings, incidents,
  triage, health, metrics);
- :mod:`~ztad.service.dashboard`: ``ztad dashboard``, the analysts' pages on the same app;
- :mod:`~ztad.service.state`: the model, baseline and allowlist the service judges with;
- :mod:`~ztad.service.predict`: events in, predictions out, on the nightly scoring path;
- :mod:`~ztad.service.queries`: reading the findings database;
- :mod:`~ztad.service.auth`, :mod:`~ztad.service.metrics`: tokens and Prometheus metrics.

It sits above :mod:`ztad.pipeline` (whose scoring it shares) and below the command line.
"""
