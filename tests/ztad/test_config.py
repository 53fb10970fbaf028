"""Typed job configuration."""

import re
from pathlib import Path

import pytest

from ztad.config import DetectionConfig, JobConfig, SourceConfig, holiday_settings


def test_sqlite_is_the_default_database(tmp_path):
    config = JobConfig(source=SourceConfig(root="logs"), home=tmp_path)
    assert config.resolved_database_url == f"sqlite:///{tmp_path / 'findings.db'}"
    assert config.state_dir == tmp_path / "state"


def test_a_configured_database_wins(tmp_path):
    url = "postgresql+psycopg://ztad@db/ztad"
    config = JobConfig(source=SourceConfig(root="logs"), home=tmp_path, database_url=url)
    assert config.resolved_database_url == url


def test_from_env_reads_ztad_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("ZTAD_HOME", str(tmp_path))
    monkeypatch.setenv("ZTAD_LOG_ROOT", "s3://bucket/auth")
    monkeypatch.setenv("ZTAD_LOG_FORMAT", "parquet")
    monkeypatch.setenv("ZTAD_DATABASE_URL", "postgresql+psycopg://x@y/z")
    config = JobConfig.from_env()
    assert config.home == Path(tmp_path).resolve()
    assert config.source == SourceConfig(root="s3://bucket/auth", format="parquet")
    assert config.database_url == "postgresql+psycopg://x@y/z"


def test_overrides_replace_fields(tmp_path):
    config = JobConfig(source=SourceConfig(root="a"), home=tmp_path)
    changed = config.with_overrides(detection=DetectionConfig(target_fpr=0.01))
    assert changed.detection.target_fpr == 0.01 and config.detection.target_fpr == 0.001


def test_holiday_calendar_from_the_environment(monkeypatch):
    monkeypatch.delenv("ZTAD_PUBLIC_HOLIDAYS", raising=False)
    monkeypatch.delenv("ZTAD_COMPANY_HOLIDAYS", raising=False)
    assert JobConfig.from_env().detection.feature_settings is None
    monkeypatch.setenv("ZTAD_PUBLIC_HOLIDAYS", "true")
    monkeypatch.setenv("ZTAD_COMPANY_HOLIDAYS", "2026-12-24, 2026-12-31")
    settings = JobConfig.from_env().detection.feature_settings
    assert settings.public_holidays and settings.company_holidays == ("2026-12-24", "2026-12-31")


def test_a_malformed_company_holiday_is_named():
    with pytest.raises(ValueError, match="company holiday '24/12/2026' is not an ISO date"):
        holiday_settings(False, "2026-12-31,24/12/2026")


def test_sensitive_resources_from_the_environment(monkeypatch):
    monkeypatch.setenv("ZTAD_SENSITIVE_RESOURCES", "payroll, admin-console,,")
    assert JobConfig.from_env().detection.sensitive_resources == ("payroll", "admin-console")
    monkeypatch.delenv("ZTAD_SENSITIVE_RESOURCES")
    assert JobConfig.from_env().detection.sensitive_resources == ()


def test_labels_of_history_are_used_unless_the_environment_turns_them_off(monkeypatch):
    monkeypatch.delenv("ZTAD_USE_LABELS", raising=False)
    assert JobConfig.from_env().use_labels is True
    for off in ("0", "false", " OFF "):
        monkeypatch.setenv("ZTAD_USE_LABELS", off)
        assert JobConfig.from_env().use_labels is False
    monkeypatch.setenv("ZTAD_USE_LABELS", "1")
    assert JobConfig.from_env().use_labels is True


def test_a_daily_alert_budget_from_the_environment(monkeypatch):
    monkeypatch.setenv("ZTAD_MAX_ALERTS_PER_DAY", "25")
    assert JobConfig.from_env().detection.max_alerts_per_day == 25.0
    monkeypatch.setenv("ZTAD_MAX_ALERTS_PER_DAY", "many")
    with pytest.raises(ValueError, match="ZTAD_MAX_ALERTS_PER_DAY='many': expected a positive number"):
        JobConfig.from_env()
    monkeypatch.setenv("ZTAD_MAX_ALERTS_PER_DAY", "")
    assert JobConfig.from_env().detection.max_alerts_per_day is None


# --------------------------------------------------------------------------- rule thresholds


def test_rule_thresholds_are_part_of_the_detection_config():
    from ztad.behaviour.rules import RuleThresholds as RulesView
    from ztad.config import RuleThresholds

    assert RulesView is RuleThresholds
    assert DetectionConfig().rule_thresholds == RuleThresholds()


def test_rule_thresholds_are_typed_from_text_and_numbers():
    from ztad.config import RuleThresholds, rule_thresholds

    changed = rule_thresholds({"spray_min_users": "15", "travel_min_km": 300, "min_maturity": "0.5"})
    assert changed == RuleThresholds(spray_min_users=15, travel_min_km=300.0, min_maturity=0.5)
    assert isinstance(changed.spray_min_users, int) and isinstance(changed.travel_min_km, float)
    assert rule_thresholds({"spray_min_users": 12.0}).spray_min_users == 12
    base = RuleThresholds(brute_force_min_failures=9)
    assert rule_thresholds({"spray_min_users": 3}, base).brute_force_min_failures == 9


@pytest.mark.parametrize(
    "values, message",
    [
        ({"spray_users": "3"}, "--rule: unknown rule threshold 'spray_users'; known: travel_min_km, "),
        ({"spray_min_users": "2.5"}, "--rule: spray_min_users='2.5' is not a whole number"),
        ({"travel_min_km": "far"}, "--rule: travel_min_km='far' is not a number"),
        ({"travel_min_km": "-1"}, "--rule: travel_min_km='-1' must be a finite number of at least 0"),
        ({"travel_min_km": "inf"}, "must be a finite number"),
        ({"spray_min_users": True}, "must be a finite number"),
    ],
)
def test_a_bad_rule_threshold_is_named(values, message):
    from ztad.config import rule_thresholds

    with pytest.raises(ValueError, match=re.escape(message)):
        rule_thresholds(values, where="--rule")


def test_rule_thresholds_from_the_environment(monkeypatch):
    from ztad.config import RuleThresholds

    monkeypatch.setenv("ZTAD_RULE_SPRAY_MIN_USERS", "25")
    monkeypatch.setenv("ZTAD_RULE_TRAVEL_MIN_KMH", "900.5")
    thresholds = JobConfig.from_env().detection.rule_thresholds
    assert thresholds == RuleThresholds(spray_min_users=25, travel_min_kmh=900.5)


def test_a_misspelt_rule_variable_is_named(monkeypatch):
    monkeypatch.setenv("ZTAD_RULE_SPRAY_USERS", "25")
    with pytest.raises(ValueError, match="ZTAD_RULE_SPRAY_USERS: unknown rule threshold 'spray_users'"):
        JobConfig.from_env()
