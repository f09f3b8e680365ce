"""Property-based API fuzzing with schemathesis over our own OpenAPI schema, once per principal.

Every operation gets generated valid and invalid requests; any 5xx, any response that breaks the documented
schema, status codes or content types fails the test. Bounded: a fixed number of examples per operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fairlens_site.wsgi import application

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
EXAMPLES_PER_OPERATION = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def in_process_wsgi() -> Iterator[None]:
    """Keep the test transaction's connection open across in-process requests (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _authorization(principal: str, client_as: Callable[[str], object]) -> dict[str, str]:
    client = client_as(principal)
    header = client._credentials.get("HTTP_AUTHORIZATION")  # type: ignore[attr-defined]
    return {"Authorization": header} if header else {}


@pytest.mark.parametrize("principal", ["anonymous", "monitor", "auditor", "admin", "api_key"])
def test_no_operation_fails_or_breaks_its_schema(
    principal: str, client_as: Callable[[str], object], in_process_wsgi: None
) -> None:
    headers = _authorization(principal, client_as)
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/", application, headers=headers or _authorization("monitor", client_as)
    )
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                exercise()
            except Unsatisfiable:
                continue  # nothing invalid can be said to an operation without parameters or body
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
                failures.append(f"{operation.label} [{mode}]: {str(exc)[:1500]}")

    assert not failures, "\n\n".join(failures)
