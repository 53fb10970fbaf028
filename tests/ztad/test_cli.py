"""The ``ztad`` command line, run in-process."""

import pandas as pd
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
    assert f"[1/1] {DAY} success: read " in out and "findings database: sqlite:///" in out
    # The small logs are labelled: their history (14 clean days) is learnt where labelled normal.
    assert "labelled history (14 days): learnt from " in out and "excluded 0 (" in out
    assert (cli_home / "home" / "findings.db").exists()

    assert main(["runs"]) == 0
    assert DAY in capsys.readouterr().out
    assert main(["findings", "--day", DAY]) == 0
    assert "no findings" not in capsys.readouterr().out


def test_no_labels_says_that_history_is_learnt_whole(small_logs, cli_home, capsys):
    args = ["--logs", str(small_logs), "--detectors", "isolation_forest,ecod", "--dry-run", "--no-labels"]
    assert main(["run", "--day", DAY, *args]) == 0
    out = capsys.readouterr().out
    assert "labels ignored (--no-labels" in out and "labelled history" not in out


def test_generate_shape_origin_writes_the_rows_asked_for(tmp_path, capsys):
    args = ["generate", "--out", str(tmp_path / "origin"), "--shape", "origin", "--rows", "500",
            "--users", "20", "--days", "6"]
    assert main(args) == 0
    assert "500 events" in capsys.readouterr().out
    rows = sum(len(pd.read_csv(p)) for p in (tmp_path / "origin").glob("date=*/events.csv"))
    assert rows == 500


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


def test_the_alert_budget_on_the_command_line_wins_over_the_environment(monkeypatch):
    from ztad.cli import _job_config

    monkeypatch.setenv("ZTAD_MAX_ALERTS_PER_DAY", "40")
    parse = build_parser().parse_args
    assert _job_config(parse(["run"])).detection.max_alerts_per_day == 40.0
    assert _job_config(parse(["run", "--max-alerts-per-day", "12"])).detection.max_alerts_per_day == 12.0
    by_rate = _job_config(parse(["run", "--target-fpr", "0.002"])).detection
    assert by_rate.max_alerts_per_day is None and by_rate.target_fpr == 0.002
    with pytest.raises(ValueError, match="--max-alerts-per-day -3.0: expected a positive number"):
        _job_config(parse(["run", "--max-alerts-per-day", "-3"]))


def test_the_first_model_can_be_trained_after_fewer_days(capsys):
    from ztad.cli import _job_config

    parse = build_parser().parse_args
    assert _job_config(parse(["run"])).detection.min_training_days == 7
    assert _job_config(parse(["run", "--min-training-days", "3"])).detection.min_training_days == 3
    with pytest.raises(SystemExit):
        parse(["run", "--min-training-days", "0"])
    assert "'0' is not a positive number of days" in capsys.readouterr().err


def test_holiday_flags_reach_the_features(monkeypatch):
    from ztad.cli import _job_config

    monkeypatch.delenv("ZTAD_PUBLIC_HOLIDAYS", raising=False)
    monkeypatch.delenv("ZTAD_COMPANY_HOLIDAYS", raising=False)
    args = build_parser().parse_args(["run", "--public-holidays", "--company-holidays", "2026-12-24"])
    settings = _job_config(args).detection.feature_settings
    assert settings.public_holidays and settings.company_holidays == ("2026-12-24",)
    args = build_parser().parse_args(["run", "--sensitive-resources", "payroll,siem"])
    assert _job_config(args).detection.sensitive_resources == ("payroll", "siem")
    bad = build_parser().parse_args(["run", "--company-holidays", "Christmas"])
    with pytest.raises(SystemExit, match="'Christmas' is not an ISO date"):
        _job_config(bad)


def test_rule_flags_win_over_the_environment(monkeypatch):
    from ztad.cli import _job_config

    monkeypatch.setenv("ZTAD_RULE_SPRAY_MIN_USERS", "20")
    monkeypatch.setenv("ZTAD_RULE_TRAVEL_MIN_KM", "400")
    args = build_parser().parse_args(["run", "--rule", "spray_min_users=30", "--rule", "brute_force_min_failures=12"])
    thresholds = _job_config(args).detection.rule_thresholds
    assert (thresholds.spray_min_users, thresholds.brute_force_min_failures, thresholds.travel_min_km) == (30, 12, 400.0)


@pytest.mark.parametrize(
    "rule, message",
    [
        ("spray_min_users", "--rule 'spray_min_users': expected NAME=VALUE"),
        ("spray=3", "--rule: unknown rule threshold 'spray'"),
        ("spray_min_users=many", "--rule: spray_min_users='many' is not a whole number"),
    ],
)
def test_a_bad_rule_flag_is_one_clear_line(cli_home, capsys, rule, message):
    assert main(["run", "--day", DAY, "--logs", str(cli_home), "--rule", rule]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"ztad: error: {message}") and error.count("\n") == 1


# --------------------------------------------------------------------------- real log formats


@pytest.fixture(scope="module")
def geoip_databases(tmp_path_factory):
    from tests.fixtures.geoip import write_databases

    return write_databases(tmp_path_factory.mktemp("geoip"))


def _incidents_and_findings(url: str, day):
    from ztad.store import FindingsStore

    with FindingsStore(url) as store:
        return store.incidents(day=day).set_index("incident_id"), store.findings(day=day)


@pytest.mark.postgres
@pytest.mark.slow
def test_run_scores_a_day_of_sshd_logs_into_brute_force_and_spray_incidents(
    tmp_path, cli_home, empty_postgres_url, geoip_databases, capsys
):
    from tests.fixtures import auth_logs as logs

    root = logs.write_sshd_logs(tmp_path / "ssh")
    city_db, asn_db = geoip_databases
    day = logs.ATTACK_DAY.isoformat()
    args = ["run", "--day", day, "--logs", str(root), "--format", "sshd",
            "--option", f"year={logs.SSHD_OPTIONS['year']}", "--option", f"timezone={logs.SSHD_TIMEZONE}",
            "--option", f"geoip_city_db={city_db}", "--option", f"geoip_asn_db={asn_db}",
            "--detectors", "isolation_forest,ecod", "--db", empty_postgres_url]
    assert main(args) == 0
    assert f"[1/1] {day} success: read " in capsys.readouterr().out

    incidents, findings = _incidents_and_findings(empty_postgres_url, logs.ATTACK_DAY)
    brute = incidents.loc[f"{day}:user:{logs.BRUTE_FORCE_VICTIM}"]
    assert brute["category"] == "brute_force" and brute["user_count"] == 1
    assert brute["finding_count"] >= 8
    brute_findings = findings[findings["incident_id"] == brute.name]
    assert set(brute_findings["ip_address"]) == {logs.BRUTE_FORCE_IP}
    assert set(brute_findings["location"]) == {"Changchun, China"}  # located through the CLI options

    spray = incidents.loc[f"{day}:source:{logs.SPRAY_IP}"]
    assert spray["kind"] == "source" and spray["category"] == "password_spray"
    assert spray["source_ip"] == logs.SPRAY_IP
    assert set(logs.SPRAY_VICTIMS) <= set(spray["users"])
    assert set(findings.loc[findings["incident_id"] == spray.name, "ip_address"]) == {logs.SPRAY_IP}
    # Nobody's ordinary sign-ins are folded into the attacks.
    attacks = findings["ip_address"].isin([logs.BRUTE_FORCE_IP, logs.SPRAY_IP])
    assert findings.loc[attacks, "incident_id"].isin([brute.name, spray.name]).all()


@pytest.mark.postgres
@pytest.mark.slow
def test_run_scores_windows_security_events_with_and_without_client_addresses(
    tmp_path, cli_home, empty_postgres_url, capsys
):
    from tests.fixtures import auth_logs as logs

    root = logs.write_windows_logs(tmp_path / "windows")
    day = logs.ATTACK_DAY.isoformat()
    args = ["run", "--day", day, "--logs", str(root), "--format", "windows", "--shards", "2",
            "--detectors", "isolation_forest,ecod", "--db", empty_postgres_url]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"[1/1] {day} success: read " in out and "quarantined 0" in out

    incidents, findings = _incidents_and_findings(empty_postgres_url, logs.ATTACK_DAY)
    burst = incidents.loc[f"{day}:user:{logs.WINDOWS_BRUTE_FORCE_VICTIM}"]
    assert burst["category"] == "brute_force"
    assert set(findings.loc[findings["incident_id"] == burst.name, "ip_address"]) == {logs.WINDOWS_BRUTE_FORCE_IP}

    # NTLM validations carry no client address: kept, scored, and stored with a null address.
    ntlm = incidents.loc[f"{day}:user:{logs.NTLM_VICTIM}"]
    assert ntlm["category"] == "brute_force" and ntlm["finding_count"] >= 8
    ntlm_findings = findings[findings["incident_id"] == ntlm.name]
    assert ntlm_findings["ip_address"].isna().all()
    assert set(ntlm_findings["device_id"]) == {logs.NTLM_WORKSTATION}
    codes = {reason["code"] for reasons in ntlm_findings["reasons"] for reason in reasons}
    assert "brute_force" in codes and not codes & {"password_spray", "new_ip", "impossible_travel"}

    # A spray with no addresses at all is one incident of the workstation it came from.
    spray = incidents.loc[f"{day}:source:workstation {logs.NTLM_SPRAY_WORKSTATION}"]
    assert spray["kind"] == "source" and spray["category"] == "password_spray"
    assert pd.isna(spray["source_ip"]) and set(logs.NTLM_SPRAY_VICTIMS) <= set(spray["users"])


def test_shards_must_be_a_sensible_count(cli_home, tmp_path, capsys):
    assert main(["run", "--day", DAY, "--logs", str(tmp_path), "--shards", "0"]) == 2
    assert "ztad: error:" in capsys.readouterr().err


def test_a_geoip_database_that_is_not_there_is_a_clear_error(cli_home, tmp_path, capsys):
    day = tmp_path / "logs" / f"date={DAY}"
    day.mkdir(parents=True)
    (day / "auth.csv").write_text(f"timestamp,user_id,ip_address,login_success\n{DAY}T08:00:00Z,alice,81.2.69.160,1\n")
    code = main(["run", "--day", DAY, "--logs", str(tmp_path / "logs"),
                 "--option", f"geoip_city_db={tmp_path / 'GeoLite2-City.mmdb'}"])
    assert code == 2
    assert "GeoIP city database not found" in capsys.readouterr().err


def test_an_unreachable_database_outside_a_run_is_one_line(cli_home, capsys):
    assert main(["runs", "--db", "postgresql+psycopg://ztad@127.0.0.1:9/ztad?connect_timeout=2"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("ztad: error: the findings database failed: ") and "--db" in line


@pytest.mark.parametrize("command", ["serve", "dashboard"])
def test_serve_and_dashboard_refuse_to_start_without_a_token(cli_home, monkeypatch, capsys, command):
    monkeypatch.delenv("ZTAD_API_TOKEN", raising=False)
    monkeypatch.delenv("ZTAD_API_READ_TOKEN", raising=False)
    assert main([command, "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ztad: error: no API token") and "ZTAD_API_TOKEN" in err and "Traceback" not in err


def test_serve_and_dashboard_listen_on_loopback_by_default():
    args = build_parser().parse_args(["dashboard"])
    assert (args.host, args.port) == ("127.0.0.1", 8501)
    assert build_parser().parse_args(["serve", "--port", "9000"]).port == 9000
