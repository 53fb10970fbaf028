import json

import pytest
from sqlalchemy.engine import make_url

from ztad.config import SourceConfig
from ztad_airflow.hooks import (
    FindingsConnectionError,
    SourceConfigError,
    ZtadFindingsHook,
    ZtadSourceHook,
    findings_database_url,
    parse_source_config,
)

SECRET = "s3cret-Pa55"


# --------------------------------------------------------------------------- findings


def test_uri_connection_becomes_a_psycopg3_url_with_its_libpq_extras(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ZTAD_FINDINGS",
        f"postgresql://ztad:{SECRET}@db.example:5433/findings?sslmode=require&connect_timeout=5",
    )
    url = make_url(ZtadFindingsHook().findings_url())
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "ztad", SECRET, "db.example", 5433, "findings",
    )
    assert dict(url.query) == {"sslmode": "require", "connect_timeout": "5"}


def test_json_connection_with_odd_password_round_trips(monkeypatch):
    password = "p@ss:w/rd?#%"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ZTAD_FINDINGS",
        json.dumps({
            "conn_type": "postgres", "host": "pg", "port": 5432, "login": "ztad",
            "password": password, "schema": "ztad", "extra": {"application_name": "ztad"},
        }),
    )
    url = make_url(ZtadFindingsHook().findings_url())
    assert url.password == password
    assert url.database == "ztad"
    assert url.query["application_name"] == "ztad"


def test_a_sqlalchemy_style_connection_uri_is_accepted(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", "postgresql+psycopg://ztad@pg:5432/ztad")
    assert ZtadFindingsHook().findings_url() == "postgresql+psycopg://ztad@pg:5432/ztad"


def test_the_masked_url_hides_the_password(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", f"postgresql://ztad:{SECRET}@pg:5432/ztad")
    hook = ZtadFindingsHook()
    masked = hook.masked_url()
    assert SECRET not in masked
    assert masked == "postgresql+psycopg://ztad:***@pg:5432/ztad"
    assert SECRET not in repr(hook.get_findings_engine())


def test_engine_uses_psycopg3_without_connecting(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", "postgresql://ztad@127.0.0.1:1/ztad")
    engine = ZtadFindingsHook().get_findings_engine()
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.dialect.driver == "psycopg"


def test_other_connection_id(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FINDINGS_EU", "postgresql://ztad@eu-db:5432/ztad")
    assert "eu-db" in ZtadFindingsHook(findings_conn_id="findings_eu").findings_url()


def test_a_connection_that_is_not_postgres_is_refused_with_an_example(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", f"mysql://ztad:{SECRET}@db:3306/ztad")
    with pytest.raises(FindingsConnectionError, match="needs a PostgreSQL connection") as error:
        ZtadFindingsHook().findings_url()
    assert SECRET not in str(error.value)


def test_findings_database_url_gives_url_and_masked_url(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", f"postgresql://ztad:{SECRET}@pg:5432/ztad")
    url, masked = findings_database_url("ztad_findings")
    assert make_url(url).password == SECRET
    assert SECRET not in masked


def test_findings_database_url_is_none_without_a_connection():
    assert findings_database_url("ztad_findings") is None


# --------------------------------------------------------------------------- source JSON


def test_full_source_document_becomes_a_source_config():
    config = parse_source_config(
        {
            "root": " s3://bucket/auth ",
            "format": "csv",
            "column_mapping": {"ts": "timestamp", "user": "user_id"},
            "options": {"timezone": "Europe/Madrid", "chunk_bytes": 1048576, "header": True},
        },
        "Variable 'ztad_source'",
    )
    assert config == SourceConfig(
        root="s3://bucket/auth",
        format="csv",
        column_mapping={"ts": "timestamp", "user": "user_id"},
        options={"timezone": "Europe/Madrid", "chunk_bytes": 1048576, "header": True},
    )


def test_only_root_is_required():
    assert parse_source_config('{"root": "/data/auth"}', "x") == SourceConfig(root="/data/auth")


def test_invalid_json_names_origin_and_position():
    expected = r"Variable 'ztad_source' is not valid JSON .*line 1, column \d+"
    with pytest.raises(SourceConfigError, match=expected):
        parse_source_config('{"root": "/data", }', "Variable 'ztad_source'")


@pytest.mark.parametrize(
    "document, message",
    [
        ('["/data"]', "must be a JSON object, not list"),
        ('{"format": "csv"}', 'needs "root"'),
        ('{"root": ""}', 'needs "root"'),
        ('{"root": 42}', 'needs "root"'),
        ('{"root": "/d", "fromat": "csv"}', r"unknown key\(s\) \['fromat'\]"),
        ('{"root": "/d", "format": 3}', '"format" must be a format name'),
        ('{"root": "/d", "column_mapping": ["ts"]}', '"column_mapping" must be an object'),
        ('{"root": "/d", "column_mapping": {"ts": 1}}', r"maps \['ts'\] to non-text values"),
        ('{"root": "/d", "options": "tz=UTC"}', '"options" must be an object'),
    ],
)
def test_malformed_source_documents_are_refused_clearly(document, message):
    with pytest.raises(SourceConfigError, match=message):
        parse_source_config(document, "Variable 'ztad_source'")


def test_option_errors_do_not_echo_option_values():
    with pytest.raises(SourceConfigError, match=r"\['token'\]") as error:
        parse_source_config({"root": "/d", "options": {"token": [SECRET]}}, "x")
    assert SECRET not in str(error.value)


# --------------------------------------------------------------------------- source hook


def source_connection(extra: dict) -> str:
    """A connection holding the source JSON as its extra, as ``AIRFLOW_CONN_ZTAD_SOURCE``."""
    return json.dumps({"conn_type": "generic", "extra": extra})


def test_source_comes_from_the_variable_first(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_ZTAD_SOURCE", '{"root": "/from/variable", "format": "jsonl"}')
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_SOURCE", source_connection({"root": "/from/conn"}))
    monkeypatch.setenv("ZTAD_LOG_ROOT", "/from/env")
    assert ZtadSourceHook().get_source_config() == SourceConfig(root="/from/variable", format="jsonl")


def test_source_comes_from_the_connection_extra_without_variable(monkeypatch):
    extra = {"root": "s3://b/auth", "format": "parquet", "column_mapping": {"u": "user_id"}}
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_SOURCE", source_connection(extra))
    monkeypatch.setenv("ZTAD_LOG_ROOT", "/from/env")
    config = ZtadSourceHook().get_source_config()
    assert config == SourceConfig(root="s3://b/auth", format="parquet", column_mapping={"u": "user_id"})


def test_source_falls_back_to_the_environment(monkeypatch):
    monkeypatch.setenv("ZTAD_LOG_ROOT", "/from/env")
    monkeypatch.setenv("ZTAD_LOG_FORMAT", "csv")
    assert ZtadSourceHook().get_source_config() == SourceConfig(root="/from/env", format="csv")


def test_no_source_anywhere_says_how_to_configure_one():
    with pytest.raises(SourceConfigError, match="no log source configured") as error:
        ZtadSourceHook().get_source_config()
    for hint in ("ztad_source", "ZTAD_LOG_ROOT"):
        assert hint in str(error.value)


def test_a_bad_variable_is_an_error_not_a_fallback(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_ZTAD_SOURCE", "/data/auth")
    monkeypatch.setenv("ZTAD_LOG_ROOT", "/from/env")
    with pytest.raises(SourceConfigError, match="Variable 'ztad_source' is not valid JSON"):
        ZtadSourceHook().get_source_config()


def test_a_connection_without_root_names_the_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_SOURCE", source_connection({"format": "csv"}))
    with pytest.raises(SourceConfigError, match="extra of connection 'ztad_source' needs \"root\""):
        ZtadSourceHook().get_source_config()
