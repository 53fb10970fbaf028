"""The ``ztad`` command as a process: a run ends at once, its output and exit code intact."""

from __future__ import annotations

import os
import subprocess
import sys

DAY = "2026-03-16"


def _ztad(*args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZTAD_HOME": str(home)}
    env.pop("ZTAD_DATABASE_URL", None)
    env.pop("PYTHONUNBUFFERED", None)  # output to a pipe buffered, as under a scheduler
    return subprocess.run([sys.executable, "-m", "ztad.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600, check=False)


def test_a_run_ends_with_all_it_printed_and_its_exit_code(small_logs, tmp_path):
    # Output to pipes is buffered: ending at once must not drop it.
    done = _ztad("run", "--logs", str(small_logs), "--day", DAY, "--detectors", "isolation_forest,ecod",
                 "--dry-run", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"[1/1] {DAY} dry_run: read " in done.stdout
    assert done.stdout.endswith("--no-labels ignores labels\n")  # the last line printed


def test_a_failed_run_ends_with_its_one_line_and_code_2(small_logs, tmp_path):
    done = _ztad("run", "--logs", str(small_logs), "--day", "2026-05-01", home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "no log data for 2026-05-01" in done.stderr


def test_other_commands_end_as_usual(small_logs, tmp_path):
    done = _ztad("runs", home=tmp_path)
    assert done.returncode == 0, done.stderr
