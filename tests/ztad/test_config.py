"""Typed job configuration."""

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
    assert changed.detection.target_fpr == 0.01 and config.detection.target_fpr == 0.005


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


def test_a_daily_alert_budget_from_the_environment(monkeypatch):
    monkeypatch.setenv("ZTAD_MAX_ALERTS_PER_DAY", "25")
    assert JobConfig.from_env().detection.max_alerts_per_day == 25.0
    monkeypatch.setenv("ZTAD_MAX_ALERTS_PER_DAY", "many")
    with pytest.raises(ValueError, match="ZTAD_MAX_ALERTS_PER_DAY='many': expected a positive number"):
        JobConfig.from_env()
    monkeypatch.setenv("ZTAD_MAX_ALERTS_PER_DAY", "")
    assert JobConfig.from_env().detection.max_alerts_per_day is None
