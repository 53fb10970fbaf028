""".ci/run: the CI entry point sets CI, so that a missing PostgreSQL or Airflow fails the run."""

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _run_ci(tmp_path: Path, make_body: str) -> subprocess.CompletedProcess:
    """Run a copy of .ci/run, without CI in its environment, whose ``make``, ``pg_isready`` and
    browser commands are stubs."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "run", tmp_path / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir, "make", make_body)
    _stub(bin_dir, "pg_isready", "exit 0")
    for browser in ("chromium", "chromedriver"):  # present: nothing to install
        _stub(bin_dir, browser, "exit 0")
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    command = ["bash", str(tmp_path / ".ci" / "run")]
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True)


def test_ci_run_exports_ci_before_running_the_tests(tmp_path):
    result = _run_ci(tmp_path, 'echo "CI=${CI:-unset} $*" > "$(pwd)/make.called"')
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "make.called").read_text().strip() == "CI=1 test"


def test_a_failing_test_run_fails_ci(tmp_path):
    assert _run_ci(tmp_path, "exit 3").returncode == 3
