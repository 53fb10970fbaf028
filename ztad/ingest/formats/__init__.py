"""Vendor log formats, one module each: ``read(path, options)`` turns a file into raw batches.

``--format <name>`` selects the module of that name (:func:`ztad.ingest.readers.get_reader`),
so a new format is a new module here. The builtin ``csv``, ``jsonl`` and ``parquet`` readers
live in :mod:`ztad.ingest.readers`.
"""
