"""Alembic migrations of the findings database (run by ``ztad.store.migrate.upgrade``).

Every schema change is a new file in ``versions/`` so that an existing findings database
upgrades in place. See ``README.md`` in this folder.
"""
