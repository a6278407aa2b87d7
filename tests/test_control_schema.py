"""Schemathesis against the control API's own OpenAPI document: every operation, fed the
inputs the document describes and beyond, answers without a 5xx and no handler fails.
MOCKIDP_FUZZ_EXAMPLES sets the examples per operation: 25 by default, 200 in CI's second run
(see docs/testing.md)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from mockidp import MockIdP

EXAMPLES = int(os.environ.get("MOCKIDP_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def control_provider() -> MockIdP:
    with MockIdP() as idp:
        yield idp


@pytest.fixture(scope="module")
def control_schema(control_provider: MockIdP) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/_mockidp/openapi.json", control_provider.app)


def operations() -> list[str]:
    from mockidp.web.control import ROUTES

    return [route.name for route in ROUTES]


@pytest.mark.parametrize("operation_id", operations())
def test_control_operation_never_fails(control_provider: MockIdP,
                                      control_schema: schemathesis.BaseSchema,
                                      operation_id: str) -> None:
    operation = control_schema.find_operation_by_id(operation_id)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def call(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call()
        assert response.status_code < 500, (case, response.status_code, response.text)

    call()
    control_provider.check()
    control_provider.reset()
