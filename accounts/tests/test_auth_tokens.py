"""Login, refresh rotation, logout, and every way a token must be refused (401 JSON)."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import password_reset_complete, password_reset_link, user_update
from compliance.models import AuditEntry
from conftest import totp_code

pytestmark = pytest.mark.django_db
PASSWORD = "correct-Horse-battery-9"
ME = "/api/v1/accounts/me/"


def login(client: APIClient, username: str, password: str = PASSWORD) -> dict:
    response = client.post("/api/login", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def me_status(token: str) -> tuple[int, dict]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get(ME)
    return response.status_code, response.json()


def _forged(payload_changes: dict, *, key: str | None = None, algorithm: str = "HS256") -> str:
    now = int(time.time())
    payload = {
        "token_type": "access",
        "exp": now + 300,
        "iat": now,
        "jti": "f" * 32,
        "user_id": "1",
        "aud": "fairlens-api",
        "iss": "fairlens",
    }
    payload.update(payload_changes)
    return jwt.encode(payload, key if key is not None else settings.JWT_SECRET, algorithm=algorithm)


def test_login_returns_tokens_and_role_in_the_seed_envelope(admin_user: object) -> None:
    # when (the admin has an authenticator, so the sign-in carries its code)
    response = APIClient().post(
        "/api/login", {"username": "alice-admin", "password": PASSWORD, "otp": totp_code(admin_user)}, format="json"
    )
    # then
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "success"
    assert body["data"]["role"] == "admin"
    assert body["data"]["token_type"] == "Bearer"
    assert body["data"]["mfa_verified"] is True
    assert me_status(body["data"]["access_token"])[0] == 200


def test_wrong_password_is_a_401_json_error_that_does_not_say_which_part_was_wrong(admin_user: object) -> None:
    wrong_password = APIClient().post("/api/login", {"username": "alice-admin", "password": "nope"}, format="json")
    unknown_user = APIClient().post("/api/login", {"username": "nobody", "password": "nope"}, format="json")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json()["code"] == unknown_user.json()["code"] == "invalid_credentials"
    assert wrong_password.json()["message"] == unknown_user.json()["message"]


def test_login_with_missing_fields_names_them(db: None) -> None:
    response = APIClient().post("/api/login", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "password" in response.json()["details"]


def test_expired_access_token_is_rejected(monitor_user: object) -> None:
    tokens = login(APIClient(), "carol-monitor")
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    with time_machine.travel(timezone.now() + lifetime + timedelta(seconds=1), tick=False):
        status, body = me_status(tokens["access_token"])
    assert status == 401
    assert body["code"] == "token_not_valid"


@pytest.mark.parametrize(
    ("case", "token_factory"),
    [
        ("wrong signature", lambda: _forged({}, key="another-secret-entirely-0123456789abcdef")),
        ("alg none", lambda: _forged({}, key="", algorithm="none")),
        ("wrong audience", lambda: _forged({"aud": "someone-else"})),
        ("wrong issuer", lambda: _forged({"iss": "someone-else"})),
        ("not a jwt", lambda: "definitely.not.a-token"),
    ],
)
def test_forged_tokens_are_rejected(monitor_user: object, case: str, token_factory: object) -> None:
    status, body = me_status(token_factory())  # type: ignore[operator]
    assert status == 401, case
    assert body["status"] == "error"


def test_refresh_token_cannot_be_used_as_an_access_token(monitor_user: object) -> None:
    tokens = login(APIClient(), "carol-monitor")
    status, body = me_status(tokens["refresh_token"])
    assert status == 401
    assert body["code"] == "token_not_valid"


def test_access_token_cannot_be_used_to_refresh(monitor_user: object) -> None:
    tokens = login(APIClient(), "carol-monitor")
    response = APIClient().post("/api/refresh", {"refresh_token": tokens["access_token"]}, format="json")
    assert response.status_code == 401


def test_refresh_rotates_and_the_new_tokens_work(monitor_user: object) -> None:
    tokens = login(APIClient(), "carol-monitor")
    response = APIClient().post("/api/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert response.status_code == 200
    rotated = response.json()["data"]
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert me_status(rotated["access_token"])[0] == 200


def test_reusing_a_rotated_refresh_token_is_rejected_and_signs_out_every_session(monitor_user: object) -> None:
    # given a rotation has happened
    tokens = login(APIClient(), "carol-monitor")
    first = APIClient().post("/api/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    new_refresh = first.json()["data"]["refresh_token"]
    # when the old refresh token is presented again (someone kept a copy)
    reuse = APIClient().post("/api/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    # then it is refused and the legitimate new refresh token is revoked too
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "token_reused"
    after = APIClient().post("/api/refresh", {"refresh_token": new_refresh}, format="json")
    assert after.status_code == 401


def test_refresh_after_logout_is_rejected(monitor_user: object) -> None:
    tokens = login(APIClient(), "carol-monitor")
    logout = APIClient().post("/api/logout", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert logout.status_code == 200
    assert logout.json()["data"] == {"revoked": True}
    again = APIClient().post("/api/logout", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert again.json()["data"] == {"revoked": False}
    refresh = APIClient().post("/api/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert refresh.status_code == 401


def test_a_logged_out_refresh_token_is_refused_as_logged_out_not_as_theft(monitor_user: object) -> None:
    # given two sessions of one user, and the first one logs out
    laptop = login(APIClient(), "carol-monitor")
    phone = login(APIClient(), "carol-monitor")
    APIClient().post("/api/logout", {"refresh_token": laptop["refresh_token"]}, format="json")
    # when the logged-out refresh token is presented (a stale tab, a retried request)
    stale = APIClient().post("/api/refresh", {"refresh_token": laptop["refresh_token"]}, format="json")
    # then it is refused as logged out, with a plain sentence, and the other session is not revoked
    assert stale.status_code == 401
    assert stale.json()["code"] == "token_logged_out"
    assert stale.json()["message"] == "This refresh token was logged out; sign in again."
    assert not AuditEntry.objects.filter(action="auth.tokens_revoked").exists()
    still_signed_in = APIClient().post("/api/refresh", {"refresh_token": phone["refresh_token"]}, format="json")
    assert still_signed_in.status_code == 200


def test_a_token_revoked_with_all_sessions_is_refused_without_another_revocation(monitor_user: object) -> None:
    # given a rotated token was reused, which revoked every session, including a second one
    tokens = login(APIClient(), "carol-monitor")
    other = login(APIClient(), "carol-monitor")
    APIClient().post("/api/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    APIClient().post("/api/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    revocations = AuditEntry.objects.filter(action="auth.tokens_revoked").count()
    # when the second session's (revoked, never rotated) token is presented
    response = APIClient().post("/api/refresh", {"refresh_token": other["refresh_token"]}, format="json")
    # then it is refused as revoked; that is not a new theft signal
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert AuditEntry.objects.filter(action="auth.tokens_revoked").count() == revocations


def test_password_change_invalidates_existing_tokens(monitor_user: object) -> None:
    tokens = login(APIClient(), "carol-monitor")
    link, _, _ = password_reset_link(user=monitor_user, purpose="reset")
    password_reset_complete(token=link.split("token=")[1], password="a-Different-passphrase-42")
    assert me_status(tokens["access_token"])[0] == 401
    refresh = APIClient().post("/api/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert refresh.status_code == 401


def test_deactivated_user_is_refused_at_once(monitor_user: object, admin_user: object) -> None:
    tokens = login(APIClient(), "carol-monitor")
    user_update(user=monitor_user, changed_by=admin_user, is_active=False)
    assert me_status(tokens["access_token"])[0] == 401
    refresh = APIClient().post("/api/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert refresh.status_code == 401


def test_401_carries_a_bearer_challenge(db: None) -> None:
    response = APIClient().get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {
        "status": "error",
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "details": {},
    }


def test_an_api_key_sent_as_a_bearer_token_is_told_the_api_key_scheme(model_key: tuple) -> None:
    # given a model client that put its API key where a JWT goes
    _, raw_key = model_key
    # when
    status, body = me_status(raw_key)
    # then the answer is one plain sentence naming the right header
    assert status == 401
    assert body["code"] == "api_key_as_bearer"
    assert "Authorization: Api-Key <key>" in body["message"]
    assert "ErrorDetail" not in body["message"]


def test_an_invalid_bearer_token_has_a_plain_sentence_as_message(monitor_user: object) -> None:
    status, body = me_status("definitely.not.a-token")
    assert status == 401
    assert body["code"] == "token_not_valid"
    assert body["message"] == "Given token not valid for any token type"
    assert body["details"] == {}
