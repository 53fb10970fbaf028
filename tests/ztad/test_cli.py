"""The ``ztad`` command line, run in-process."""

import pytest

from ztad.cli import build_parser, main

DAY = "2026-03-16"


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ZTAD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZTAD_DATABASE_URL", raising=False)
    return tmp_path


def test_run_scores_a_day_and_findings_prints_them(small_logs, cli_home, capsys):
    args = ["--logs", str(small_logs), "--detectors", "isolation_forest,ecod"]
    assert main(["run", "--day", DAY, *args]) == 0
    out = capsys.readouterr().out
    assert f"[1/1] {DAY}: read " in out and "findings database: sqlite:///" in out
    assert (cli_home / "home" / "findings.db").exists()

    assert main(["runs"]) == 0
    assert DAY in capsys.readouterr().out
    assert main(["findings", "--day", DAY]) == 0
    assert "no findings" not in capsys.readouterr().out


def test_generate_writes_partitions(tmp_path, capsys):
    out = tmp_path / "logs"
    assert main(["generate", "--out", str(out), "--days", "2", "--users", "10", "--clean-days", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["date=2026-03-02", "date=2026-03-03"]


def test_missing_logs_is_a_clear_error_not_a_traceback(cli_home, capsys):
    code = main(["run", "--day", DAY, "--logs", str(cli_home / "nowhere")])
    assert code == 2
    assert "ztad: error:" in capsys.readouterr().err


def test_bad_date_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--day", "yesterday-ish"])
    assert "not a date like" in capsys.readouterr().err


def test_day_and_range_together_are_refused(cli_home):
    with pytest.raises(SystemExit, match="either --day or --start"):
        main(["run", "--day", DAY, "--start", DAY, "--logs", str(cli_home)])


def test_options_reach_the_source(tmp_path):
    from ztad.cli import _job_config

    args = build_parser().parse_args(
        ["run", "--logs", "x", "--format", "sshd", "--option", "year=2026", "--target-fpr", "0.01"]
    )
    config = _job_config(args)
    assert config.source.format == "sshd" and config.source.options == {"year": "2026"}
    assert config.detection.target_fpr == 0.01
