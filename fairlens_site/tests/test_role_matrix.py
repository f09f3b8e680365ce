"""Role x endpoint matrix: every API endpoint, every principal, the expected status.

The table is the access policy in executable form. ``test_every_endpoint_is_in_the_matrix`` fails when an
endpoint is added without a row, so the matrix grows with the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from fairlens_site.startup import endpoints

pytestmark = pytest.mark.django_db

PRINCIPALS = ("anonymous", "monitor", "auditor", "admin", "api_key")


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # {pk}, {prefix} are filled in by the fixture `targets`
    expected: dict[str, int]
    body: Callable[[str], dict[str, Any]] | None = None


def _statuses(anonymous: int, monitor: int, auditor: int, admin: int, api_key: int) -> dict[str, int]:
    return dict(zip(PRINCIPALS, (anonymous, monitor, auditor, admin, api_key), strict=True))


OPEN = _statuses(200, 200, 200, 200, 200)
ANY_ROLE = _statuses(401, 200, 200, 200, 200)
ADMIN_AUDITOR_READ = _statuses(401, 403, 200, 200, 403)
ADMIN_ONLY = _statuses(401, 403, 403, 200, 403)
ADMIN_CREATE = _statuses(401, 403, 403, 201, 403)
ADMIN_NO_CONTENT = _statuses(401, 403, 403, 204, 403)

MATRIX = [
    Row("GET", "/", OPEN),
    Row("GET", "/api/health", OPEN),
    # Session endpoints ignore Authorization headers: everyone gets the same answer for the same body.
    Row(
        "POST",
        "/api/login",
        _statuses(401, 401, 401, 401, 401),
        body=lambda who: {"username": "nobody", "password": "wrong"},
    ),
    Row("POST", "/api/refresh", _statuses(401, 401, 401, 401, 401), body=lambda who: {"refresh_token": "x.y.z"}),
    Row("POST", "/api/logout", _statuses(401, 401, 401, 401, 401), body=lambda who: {"refresh_token": "x.y.z"}),
    # Docs are private unless FAIRLENS_API_DOCS_PUBLIC (off in tests, as in production).
    Row("GET", "/api/schema/", ANY_ROLE),
    Row("GET", "/api/docs/", ANY_ROLE),
    Row("GET", "/api/v1/accounts/me/", ANY_ROLE),
    Row("GET", "/api/v1/accounts/users/", ADMIN_AUDITOR_READ),
    Row(
        "POST",
        "/api/v1/accounts/users/",
        ADMIN_CREATE,
        body=lambda who: {"username": f"new-{who}", "password": "a-Long-enough-passphrase-7", "role": "monitor"},
    ),
    Row("GET", "/api/v1/accounts/users/{pk}/", ADMIN_AUDITOR_READ),
    Row("PATCH", "/api/v1/accounts/users/{pk}/", ADMIN_ONLY, body=lambda who: {"email": f"{who}@example.com"}),
    Row(
        "POST",
        "/api/v1/accounts/users/{pk}/set-password/",
        ADMIN_NO_CONTENT,
        body=lambda who: {"password": "another-Long-passphrase-8"},
    ),
    Row("GET", "/api/v1/accounts/api-keys/", ADMIN_AUDITOR_READ),
    Row("POST", "/api/v1/accounts/api-keys/", ADMIN_CREATE, body=lambda who: {"model": "loan_model", "name": who}),
    Row("GET", "/api/v1/accounts/api-keys/{prefix}/", ADMIN_AUDITOR_READ),
    Row("POST", "/api/v1/accounts/api-keys/{prefix}/revoke/", ADMIN_ONLY),
]


@pytest.fixture
def targets(make_user: Callable[..., Any], ml_model: Any) -> dict[str, str]:
    """Objects the parameterised paths point at, distinct from the principals' own user and key."""
    from accounts.services import model_client_key_create

    target_user = make_user("dave-target", "monitor")
    other_key, _ = model_client_key_create(model=ml_model, name="other-client", created_by=None)
    return {"pk": str(target_user.pk), "prefix": other_key.prefix}


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: f"{row.method} {row.path}")
def test_access_matches_the_policy(
    row: Row, principal: str, client_as: Callable[[str], APIClient], targets: dict[str, str]
) -> None:
    # given
    client = client_as(principal)
    path = row.path.format(**targets)
    # when
    body = row.body(principal) if row.body else None
    response = client.generic(row.method, path, data=_json(body), content_type="application/json")
    # then
    assert response.status_code == row.expected[principal], response.content[:300]
    if response.status_code >= 400:
        assert response.json()["status"] == "error"


def _json(body: dict[str, Any] | None) -> str:
    import json

    return json.dumps(body) if body is not None else ""


def test_every_endpoint_is_in_the_matrix() -> None:
    covered = {row.path for row in MATRIX}
    served = {path for path in endpoints() if not path.startswith("/api-auth/")}
    assert served - covered == set(), "add these endpoints to MATRIX"
