"""The API against its own OpenAPI document: schemathesis generates requests from the spec.

Every operation is called with generated valid and invalid input (on the SQLite run); each
answer must be documented (status code, content type, body schema) and none may be a server
error.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.ztad.service.conftest import SETTINGS, TRIAGE_HEADERS
from ztad.service.api import create_app


@pytest.fixture(scope="module")
def api_schema(served_sqlite):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(served_sqlite.config, SETTINGS))


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_honours_the_openapi_document(api_schema):
    operations = _operations(api_schema)
    assert len(operations) >= 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same requests every run: a failure here is reproducible
        )
        def honours_the_spec(case):
            case.call_and_validate(headers=TRIAGE_HEADERS)

        honours_the_spec()


def test_the_spec_describes_every_route_and_the_bearer_scheme(api_schema):
    raw = api_schema.raw_schema
    assert {"/predict", "/findings", "/incidents", "/incidents/{incident_id}", "/health", "/metrics"} <= set(
        raw["paths"]
    )
    assert raw["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
