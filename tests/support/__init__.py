"""Development tools the tests and the Makefile share, never shipped: Airflow run in-process
(``dag.test``) with a throwaway home, ``make demo``, and ``make stack`` (the production stack as
local processes, with a REST API client).

They live here rather than in ``plugins/`` (which production mounts) or ``ztad/`` (which never
imports Airflow).
"""
