"""ztad: zero-trust anomaly detection for authentication logs, as a nightly batch job.

The packages are layers, each importing only those below it (``tests/test_layering.py``
keeps it so): ``schema`` and ``config``; ``ingest``; ``behaviour``; ``detection``;
``findings``; ``store``; ``feedback``; ``pipeline``; ``reports``; and on top ``evaluation``,
``synth`` and ``cli``, which nothing in production imports. The README's layout table says
what each owns.
"""
