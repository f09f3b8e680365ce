"""TOTP second factor: enrolment, sign-in with a code or a one-time recovery code, a fresh code per decryption."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from accounts.models import RecoveryCode, User
from compliance.models import AuditEntry
from conftest import TEST_PASSWORD, totp_code

pytestmark = pytest.mark.django_db


def _code_from_secret(secret: str, at: float | None = None) -> str:
    """What an authenticator app shows for this base32 secret: computed here from the secret alone."""
    clock = TOTP(base64.b32decode(secret), step=30, digits=6)
    clock.time = time.time() if at is None else at
    return f"{clock.token():06d}"


def _login(username: str, otp: str | None = None, password: str = TEST_PASSWORD) -> Any:
    body = {"username": username, "password": password, **({"otp": otp} if otp is not None else {})}
    return APIClient().post("/api/login", body, format="json")


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_enrolment_then_sign_in_needs_the_code_and_refuses_a_replay(make_user: Any) -> None:
    # given an auditor without an authenticator (FAIRLENS_REQUIRE_MFA is on outside DEBUG)
    make_user("dana-auditor", "auditor")
    first = _login("dana-auditor")
    assert first.status_code == 200
    assert first.json()["data"]["mfa_enrolment_required"] is True
    limited = _bearer(first.json()["data"]["access_token"])
    assert limited.get("/api/v1/compliance/entries/").json()["code"] == "mfa_enrolment_required"
    # when enrolling
    begun = limited.post("/api/v1/accounts/mfa/totp/")
    assert begun.status_code == 201
    assert begun["Cache-Control"] == "no-store"
    secret = begun.json()["secret"]
    assert begun.json()["otpauth_url"].startswith("otpauth://totp/FairLens%3Adana-auditor?")
    with time_machine.travel(time.time(), tick=False) as clock:
        wrong = limited.post("/api/v1/accounts/mfa/totp/confirm", {"otp": "000000"}, format="json")
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "invalid_otp"
        clock.shift(2)  # django-otp's pause after a wrong code
        code = _code_from_secret(secret)
        confirmed = limited.post("/api/v1/accounts/mfa/totp/confirm", {"otp": code}, format="json")
        # then there are ten recovery codes, and the new tokens work for everything
        assert confirmed.status_code == 200, confirmed.content
        assert len(confirmed.json()["recovery_codes"]) == 10
        full = _bearer(confirmed.json()["tokens"]["access_token"])
        assert full.get("/api/v1/compliance/entries/").status_code == 200
    # and sign-in now needs the code: none, a wrong one and a replayed one are refused
    later = time.time() + 30
    with time_machine.travel(later, tick=False) as clock:
        assert _login("dana-auditor").json()["code"] == "otp_required"
        assert _login("dana-auditor", "123456").json()["code"] == "invalid_otp"
        clock.shift(2)
        code = _code_from_secret(secret)
        good = _login("dana-auditor", code)
        assert good.status_code == 200
        assert good.json()["data"]["mfa_verified"] is True
        replay = _login("dana-auditor", code)
        assert replay.status_code == 401
        assert replay.json()["code"] == "invalid_otp"
    assert AuditEntry.objects.filter(action="mfa.enrolled").count() == 1


def test_a_second_enrolment_is_refused(client_as: Any) -> None:
    response = client_as("auditor").post("/api/v1/accounts/mfa/totp/")
    assert response.status_code == 409
    assert response.json()["code"] == "already_enrolled"


def test_a_recovery_code_signs_in_once(auditor_user: User) -> None:
    from accounts import mfa

    codes = mfa.recovery_codes_regenerate(user=auditor_user, otp=totp_code(auditor_user))
    # stored hashed
    assert not RecoveryCode.objects.filter(code_hash__in=codes).exists()
    assert _login("bob-auditor", codes[0].lower()).status_code == 200
    again = _login("bob-auditor", codes[0])
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_otp"
    assert mfa.recovery_codes_left(auditor_user) == 9
    assert AuditEntry.objects.filter(action="mfa.recovery_code_used").count() == 1


def test_a_wrong_code_counts_towards_the_lockout(auditor_user: User, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    wrong = [_login("bob-auditor", "000000").status_code for _ in range(3)]
    assert wrong[:2] == [401, 401]
    # the right password and the right code no longer help
    assert _login("bob-auditor", totp_code(auditor_user)).status_code == 429


def test_the_sign_in_page_asks_for_the_code(client: Any, auditor_user: User) -> None:
    without = client.post("/login/", {"username": "bob-auditor", "password": TEST_PASSWORD})
    assert without.status_code == 200
    assert b"authenticator" in without.content
    signed_in = client.post(
        "/login/", {"username": "bob-auditor", "password": TEST_PASSWORD, "otp": totp_code(auditor_user)}
    )
    assert signed_in.status_code == 302
    assert client.session["fairlens_mfa_at"]


def test_a_session_without_the_second_factor_is_refused_by_the_api(client: Any, auditor_user: User) -> None:
    client.force_login(auditor_user)  # a session that never passed the second factor
    response = client.get("/api/v1/compliance/entries/")
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_enrolment_required"


# --- Decryption: a fresh code every time --------------------------------------------------------------------


@pytest.fixture
def encrypted_alert_url(ml_model: Any) -> str:
    from monitoring.tests.factories import open_encrypted_alert
    from registry.services import register_model

    version = register_model(
        name=ml_model.name,
        version="1",
        registered_by=None,
        policy={"protected_attributes": ["gender"], "privileged": {"gender": "Male"}},
    )
    alert = open_encrypted_alert(version)
    return f"/api/v1/alerts/{alert.pk}/decrypt"


def test_decrypting_without_a_fresh_code_is_refused(
    client_as: Any, auditor_user: User, encrypted_alert_url: str
) -> None:
    auditor = client_as("auditor")  # a sign-in that passed the second factor, minutes ago or now
    reason = {"reason": "quarterly fairness review"}
    # without a code
    missing = auditor.post(encrypted_alert_url, reason, format="json")
    assert missing.status_code == 403
    assert missing.json()["code"] == "otp_required"
    assert missing.json()["details"]["otp"]
    with time_machine.travel(time.time(), tick=False) as clock:
        # with a wrong one
        wrong = auditor.post(encrypted_alert_url, {**reason, "otp": "000000"}, format="json")
        assert wrong.json()["code"] == "invalid_otp"
        assert not AuditEntry.objects.filter(action="data.decrypt").exists()
        # right after it, even the right code waits out django-otp's throttle (1 s after one failure)
        throttled = auditor.post(encrypted_alert_url, {**reason, "otp": totp_code(auditor_user)}, format="json")
        assert "wait" in throttled.json()["message"]
        clock.shift(2)
        # with a fresh one
        code = totp_code(auditor_user)
        ok = auditor.post(encrypted_alert_url, {**reason, "otp": code}, format="json")
        assert ok.status_code == 200
        assert "Potential bias" in ok.json()["explanation"]
        # and the same code again (a captured request replayed) is refused
        replay = auditor.post(encrypted_alert_url, {**reason, "otp": code}, format="json")
    assert replay.status_code == 403
    assert replay.json()["code"] == "invalid_otp"
    assert AuditEntry.objects.filter(action="data.decrypt").count() == 1


def test_the_code_used_to_sign_in_does_not_also_decrypt(auditor_user: User, encrypted_alert_url: str) -> None:
    with time_machine.travel(time.time(), tick=False):
        code = totp_code(auditor_user)
        signed_in = _login("bob-auditor", code)
        assert signed_in.status_code == 200
        auditor = _bearer(signed_in.json()["data"]["access_token"])
        response = auditor.post(encrypted_alert_url, {"reason": "quarterly review", "otp": code}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_otp"


def test_a_recovery_code_does_not_decrypt(auditor_user: User, client_as: Any, encrypted_alert_url: str) -> None:
    from accounts import mfa

    codes = mfa.recovery_codes_regenerate(user=auditor_user, otp=totp_code(auditor_user))
    response = client_as("auditor").post(
        encrypted_alert_url, {"reason": "quarterly review", "otp": codes[0]}, format="json"
    )
    assert response.status_code == 403


# --- Production must require it -----------------------------------------------------------------------------


def test_check_deploy_fails_when_mfa_is_not_required() -> None:
    from core.checks import check_mfa_required

    with override_settings(FAIRLENS_REQUIRE_MFA=False):
        assert [error.id for error in check_mfa_required()] == ["fairlens.E040"]
        with pytest.raises(SystemCheckError, match="fairlens.E040"):
            call_command("check", "--deploy")
    assert check_mfa_required() == []


def test_without_required_mfa_an_unenrolled_auditor_works_but_an_enrolled_one_still_gives_codes(
    make_user: Any, auditor_user: User, settings: Any
) -> None:
    settings.FAIRLENS_REQUIRE_MFA = False  # the local demo
    make_user("demo-auditor", "auditor")
    plain = _login("demo-auditor")
    assert plain.status_code == 200
    assert plain.json()["data"]["mfa_enrolment_required"] is False
    assert _bearer(plain.json()["data"]["access_token"]).get("/api/audit_history").status_code == 200
    assert _login("bob-auditor").json()["code"] == "otp_required"
