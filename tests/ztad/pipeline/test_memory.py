"""Peak memory of a night: what it adds to the imports stays within a budget per event.

A first night of about 100,000 events runs in its own process, as a user runs it (``ztad run``),
and its peak RSS (``wait4``) is compared with what the same interpreter holds after importing
what a night imports, plus a budget for each event of the day. A usual night then runs the same
day again on a copy of the state that first night left (the model loaded, the baseline read from
its daily aggregates), as every later night does, against a budget of its own. The ECOD member
alone keeps the nights short; the features, the baselines, the training matrix, scoring, rules
and writing are the same as with every member, and they are what grows with the day.
``bench/bench_scale.py`` measures the full ensemble at larger days.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from ztad.synth import generate

pytestmark = pytest.mark.slow

MONDAY = date(2026, 3, 2)
SCORED = date(2026, 3, 4)  # after two weekdays of history
#: About 100,000 events on a generated weekday.
USERS = 8_200
#: What a first night may hold per event of its day, beyond its imports: the day's events,
#: features and scores, the baseline and the training matrix built from two days like it
#: (about 2,900 bytes). A copy of the day as an events x 168 table, a training window read
#: whole, or the write step holding the day's model inputs and a copy of its training rows
#: while it learns the baseline would cross it.
BYTES_PER_EVENT = 4_000
#: What a usual night may hold per event of its day, beyond its imports: the day's events, its
#: features and the baseline, or in the write step the day's events, model inputs and scores
#: (about 2,600 bytes). A copy of the day as an events x 168 table (about 1,300 more) would
#: cross it. The model's training window is read only when a night trains: a usual night
#: that read it whole would hold it in its detectors step, which stays below the night's peak
#: at this size, so this budget does not see it; ``bench/bench_scale.py`` shows it at a
#: million events.
USUAL_BYTES_PER_EVENT = 3_000
IMPORTS = "import sklearn.ensemble, sqlalchemy, pyarrow.parquet, ztad.cli, ztad.pipeline, ztad.store"
ZTAD = Path(sys.executable).with_name("ztad")


@dataclass(frozen=True)
class Night:
    """A finished night: its state folder, its peak RSS and the events of its day."""

    home: Path
    peak: int
    events: int


def _peak_rss_bytes(command: list[str]) -> int:
    """Run ``command`` to its end and return its peak resident set size."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read()
    assert os.waitstatus_to_exitcode(status) == 0, output[-3000:]
    return usage.ru_maxrss * 1024


def _night(logs: Path, home: Path) -> Night:
    """Run the scored day with ``home`` as its state folder, in a process of its own."""
    peak = _peak_rss_bytes([
        str(ZTAD), "run", "--logs", str(logs), "--home", str(home), "--day", SCORED.isoformat(),
        "--history-days", "2", "--detectors", "ecod",
    ])
    pulled = json.loads((home / "work" / f"day={SCORED.isoformat()}" / "pull.json").read_text())
    return Night(home, peak, pulled["rows_valid"])


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("memory_logs")
    generate(root, start=MONDAY, days=3, users=USERS, seed=5, clean_days=2)
    return root


@pytest.fixture(scope="module")
def imports() -> int:
    return _peak_rss_bytes([sys.executable, "-c", IMPORTS])


@pytest.fixture(scope="module")
def first_night(logs, tmp_path_factory) -> Night:
    """The first night, from an empty state folder: it builds the baselines and trains."""
    return _night(logs, tmp_path_factory.mktemp("memory_first") / "home")


def _within_budget(night: Night, imports: int, budget: int, which: str) -> None:
    assert night.events > 90_000
    per_event = (night.peak - imports) / night.events
    assert per_event <= budget, (
        f"a {which} of {night.events:,} events peaked at {night.peak / 2**20:,.0f} MiB, "
        f"{imports / 2**20:,.0f} MiB of it imports: {per_event:,.0f} bytes per event, "
        f"over the budget of {budget:,}"
    )


def test_a_100k_event_night_stays_within_its_per_event_budget(first_night, imports):
    _within_budget(first_night, imports, BYTES_PER_EVENT, "first night")


def test_a_usual_100k_event_night_stays_within_its_per_event_budget(logs, first_night, imports, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(first_night.home, home)
    usual = _night(logs, home)
    _within_budget(usual, imports, USUAL_BYTES_PER_EVENT, "usual night")
