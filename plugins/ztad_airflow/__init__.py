"""Airflow hooks, operators and sensors that run ztad's nightly job.

Everything here is thin: a hook turns an Airflow connection or Variable into a plain ztad
object (a database URL, a :class:`ztad.config.SourceConfig`), and each operator calls one
function of :mod:`ztad.pipeline` for the UTC day of its data interval. ``ztad`` itself is
imported only inside ``execute``, so that parsing a DAG file stays cheap.
"""
