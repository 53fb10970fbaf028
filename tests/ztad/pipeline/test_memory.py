"""Peak memory of a night: what it adds to the imports stays within a budget per event.

A first night of about 100,000 events runs in its own process, as a user runs it (``ztad run``),
and its peak RSS (``wait4``) is compared with what the same interpreter holds after importing
what a night imports, plus :data:`BYTES_PER_EVENT` for each event of the day. The ECOD member
alone keeps the night short; the features, the baselines, the training matrix, scoring, rules
and writing are the same as with every member, and they are what grows with the day.
``bench/bench_scale.py`` measures the full ensemble at larger days.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from ztad.synth import generate

pytestmark = pytest.mark.slow

MONDAY = date(2026, 3, 2)
SCORED = date(2026, 3, 4)  # after two weekdays of history
#: About 100,000 events on a generated weekday.
USERS = 8_200
#: What a night may hold per event of its day, beyond its imports: the day's events, features
#: and scores, the baseline and the training matrix built from two days like it (about 3,400
#: bytes). A copy of the day as an events x 168 table, a training window read whole, or the
#: write step holding the day's model inputs and a copy of its training rows while it learns
#: the baseline (about 4,200) would cross it.
BYTES_PER_EVENT = 4_000
IMPORTS = "import sklearn.ensemble, sqlalchemy, pyarrow.parquet, ztad.cli, ztad.pipeline, ztad.store"
ZTAD = Path(sys.executable).with_name("ztad")


def _peak_rss_bytes(command: list[str]) -> int:
    """Run ``command`` to its end and return its peak resident set size."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read()
    assert os.waitstatus_to_exitcode(status) == 0, output[-3000:]
    return usage.ru_maxrss * 1024


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("memory_logs")
    generate(root, start=MONDAY, days=3, users=USERS, seed=5, clean_days=2)
    return root


def test_a_100k_event_night_stays_within_its_per_event_budget(logs, tmp_path):
    home = tmp_path / "home"
    imports = _peak_rss_bytes([sys.executable, "-c", IMPORTS])
    night = _peak_rss_bytes([
        str(ZTAD), "run", "--logs", str(logs), "--home", str(home), "--day", SCORED.isoformat(),
        "--history-days", "2", "--detectors", "ecod",
    ])
    events = json.loads((home / "work" / f"day={SCORED.isoformat()}" / "pull.json").read_text())["rows_valid"]
    assert events > 90_000
    per_event = (night - imports) / events
    assert per_event <= BYTES_PER_EVENT, (
        f"a night of {events:,} events peaked at {night / 2**20:,.0f} MiB, "
        f"{imports / 2**20:,.0f} MiB of it imports: {per_event:,.0f} bytes per event, "
        f"over the budget of {BYTES_PER_EVENT:,}"
    )
