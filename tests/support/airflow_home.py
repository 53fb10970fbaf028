"""A throwaway Airflow installation for the tests: its own AIRFLOW_HOME and metadata database.

Airflow reads where its home and database are when it is first imported, so
:func:`configure_airflow_environment` must run before anything imports ``airflow``; the
conftest files of ``tests/plugins``, ``tests/dags`` and ``tests/support`` call it at import
time. The metadata database (SQLite in the temporary home) is created only when a test asks
for it (the ``airflow_db`` fixture), with ``airflow db migrate``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
PLUGINS_FOLDER = REPO / "plugins"

if str(PLUGINS_FOLDER) not in sys.path:
    sys.path.insert(0, str(PLUGINS_FOLDER))

from tests.support.airflow_local import airflow_environment  # noqa: E402  (needs plugins/ on the path)

_home: Path | None = None


def configure_airflow_environment() -> Path:
    """Point Airflow at a temporary home with a SQLite metadata database; return the home.

    Idempotent; ``plugins/`` is on ``sys.path`` so that ``ztad_airflow`` imports as it does
    inside Airflow.
    """
    global _home
    if _home is not None:
        return _home
    if "airflow.settings" in sys.modules:
        raise RuntimeError(
            "Airflow was imported before the test environment was configured; import it only "
            "inside tests, after tests/support/airflow_home.py has run"
        )
    _home = Path(tempfile.mkdtemp(prefix="ztad-airflow-home-"))
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
    os.environ.update(airflow_environment(_home))
    return _home
