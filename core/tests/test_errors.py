"""One JSON error shape everywhere: unknown paths, wrong methods, bad bodies, oversize bodies, crashes."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def assert_error_shape(response: object, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "error"
    assert body["code"] == code
    assert body["message"]
    assert isinstance(body["details"], dict)
    return body


def test_unknown_api_path_is_a_json_404() -> None:
    assert_error_shape(Client().get("/api/v1/no-such-thing/"), 404, "not_found")


def test_missing_trailing_slash_gets_a_hint() -> None:
    body = assert_error_shape(Client().get("/api/v1/accounts/me"), 404, "not_found")
    assert "/api/v1/accounts/me/" in body["message"]


def test_unknown_non_api_path_is_a_json_404_too() -> None:
    assert_error_shape(Client().get("/nothing-here"), 404, "not_found")


def test_wrong_method_is_a_json_405() -> None:
    assert_error_shape(APIClient().delete("/api/health"), 405, "method_not_allowed")


def test_malformed_json_is_a_400_naming_the_problem() -> None:
    response = APIClient().post("/api/login", data="{not json", content_type="application/json")
    body = assert_error_shape(response, 400, "parse_error")
    assert "JSON" in body["message"]


def test_unsupported_media_type_is_a_415() -> None:
    response = APIClient().post("/api/login", data="<x/>", content_type="application/xml")
    assert_error_shape(response, 415, "unsupported_media_type")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_an_oversize_body_is_a_json_413() -> None:
    response = APIClient().post(
        "/api/login", data='{"username": "' + "a" * 2000 + '"}', content_type="application/json"
    )
    assert_error_shape(response, 413, "request_too_large")


def test_an_unexpected_error_is_a_500_with_an_error_id_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given a probe that crashes
    def crash() -> list:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("fairlens_site.views.run_probes", crash)
    # when
    with caplog.at_level(logging.ERROR, logger="fairlens.api"):
        response = APIClient().get("/api/health")
    # then the client sees an id, not the detail; the log has both
    body = assert_error_shape(response, 500, "server_error")
    assert len(body["error_id"]) == 32
    assert b"secret internal detail" not in response.content
    assert b"Traceback" not in response.content
    assert body["error_id"] in caplog.text
    assert "secret internal detail" in caplog.text


def test_validation_errors_name_each_field(client_as: object) -> None:
    response = client_as("admin").post("/api/v1/accounts/users/", {"username": "", "role": "emperor"}, format="json")
    body = assert_error_shape(response, 400, "invalid")
    assert set(body["details"]) == {"username", "email", "role"}
    assert body["message"].split(":")[0] in {"username", "email", "role"}


def test_a_crash_outside_drf_is_a_json_500_whose_id_is_the_request_id() -> None:
    from django.test import RequestFactory

    from core.request_context import reset_request_id, set_request_id
    from fairlens_site.views import server_error

    token = set_request_id("req-0123456789")
    try:
        response = server_error(RequestFactory().get("/anything"))
    finally:
        reset_request_id(token)
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "status": "error",
        "code": "server_error",
        "details": {},
        "error_id": "req-0123456789",
        "message": "An unexpected error occurred. Quote the error id when reporting it.",
    }


def test_a_nested_error_detail_becomes_a_plain_sentence_not_a_repr() -> None:
    # given an API exception whose detail is a dict, as simplejwt's InvalidToken raises
    from rest_framework import exceptions

    from core.api.exceptions import exception_handler

    nested = exceptions.AuthenticationFailed({"detail": "Token is expired", "code": "token_not_valid"})
    listed = exceptions.PermissionDenied(["First reason.", "Second reason."])
    # when
    nested_body = exception_handler(nested, {}).data
    listed_body = exception_handler(listed, {}).data
    # then
    assert nested_body["message"] == "Token is expired"
    assert listed_body["message"] == "First reason."
    for body in (nested_body, listed_body):
        assert isinstance(body["message"], str)
        assert "ErrorDetail(" not in body["message"]
