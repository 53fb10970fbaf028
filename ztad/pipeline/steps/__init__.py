"""The five steps of a day, one module each, in the order the DAG runs them.

Each step is a plain function ``step(day, config, ...) -> dict`` that reads and writes the
day's work files (:mod:`ztad.pipeline.workfiles`) and returns a small JSON-able summary, so
that the CLI, the tests and each Airflow task call exactly the same code.
"""
