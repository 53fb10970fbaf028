"""Development tools the tests and the Makefile share, never shipped: Airflow run in-process
(``dag.test``) with a throwaway home, and ``make demo``.

They live here rather than in ``plugins/`` (which production mounts) or ``ztad/`` (which never
imports Airflow).
"""
