"""Separation of duties against a malicious admin: no setting others' passwords, two-person approval of admins
and auditors, and resets the user completes (one-time, expiring, audited, told to the auditors)."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import PasswordResetToken, User
from compliance.models import AuditEntry
from conftest import TEST_PASSWORD, totp_code
from core.roles import roles_of

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "the-Auditors-own-choice-5"


def _token_in(message: Any) -> str:
    return re.search(r"token=([\w-]+)", message.body).group(1)


def _login(username: str, password: str, otp: str | None = None) -> Any:
    body = {"username": username, "password": password, **({"otp": otp} if otp else {})}
    return APIClient().post("/api/login", body, format="json")


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_an_admin_cannot_set_an_auditors_password(client_as: Any, auditor_user: User) -> None:
    # when the admin tries the old route
    response = client_as("admin").post(
        f"/api/v1/accounts/users/{auditor_user.pk}/set-password/", {"password": "admin-Chosen-pass-1"}, format="json"
    )
    # then there is no such operation, and the admin's password does not open the account
    assert response.status_code == 404
    assert response.json()["status"] == "error"
    assert _login("bob-auditor", "admin-Chosen-pass-1").status_code == 401
    assert User.objects.get(pk=auditor_user.pk).check_password(TEST_PASSWORD)


def test_the_admin_site_has_no_password_change_page(client: Any, admin_user: User, auditor_user: User) -> None:
    client.force_login(admin_user)
    assert client.get(f"/admin/accounts/user/{auditor_user.pk}/password/").status_code in (302, 404)
    page = client.get(f"/admin/accounts/user/{auditor_user.pk}/change/")
    assert page.status_code == 200
    assert b"../password/" not in page.content
    assert client.get("/admin/accounts/user/add/").content.count(b'type="password"') == 0


def test_an_auditor_created_by_an_admin_waits_for_an_auditors_approval(
    client_as: Any, admin_user: User, auditor_user: User
) -> None:
    # given an admin creating an auditor account with an address the admin controls
    admin = client_as("admin")
    created = admin.post(
        "/api/v1/accounts/users/", {"username": "mallory", "email": "mallory@example.com", "role": "auditor"}
    )
    assert created.status_code == 201, created.content
    assert created.json()["roles"] == []
    assert created.json()["pending_role"] == "auditor"
    mallory = User.objects.get(username="mallory")
    # then the existing auditor was told, and the invitation went to the new address only
    notices = [m for m in mail.outbox if "bob-auditor@example.com" in m.to and "mallory" in m.subject]
    assert notices
    assert "approves" in notices[0].body
    invitation = next(m for m in mail.outbox if m.to == ["mallory@example.com"])
    # when the admin completes the invitation and signs in
    done = APIClient().post(
        "/api/v1/accounts/password-reset/complete", {"token": _token_in(invitation), "password": NEW_PASSWORD}
    )
    assert done.status_code == 204
    refused = _login("mallory", NEW_PASSWORD)
    # then the account cannot sign in, let alone decrypt, until approved
    assert refused.status_code == 403
    assert refused.json()["code"] == "approval_pending"
    assert roles_of(mallory) == frozenset()
    # and the admin cannot approve it: only an existing auditor can
    self_approval = admin.post(f"/api/v1/accounts/users/{mallory.pk}/approve/")
    assert self_approval.status_code == 403
    assert self_approval.json()["code"] == "two_person_rule"
    assert User.objects.get(pk=mallory.pk).pending_role == "auditor"
    # when an auditor approves
    approved = client_as("auditor").post(f"/api/v1/accounts/users/{mallory.pk}/approve/")
    assert approved.status_code == 200
    assert approved.json()["roles"] == ["auditor"]
    # then the role holds, and the approval is on the record with both people
    entry = AuditEntry.objects.get(action="user.role_approved")
    assert entry.payload["requested_by"] == "alice-admin"
    assert entry.actor == "bob-auditor"
    # and signing in now needs an enrolled authenticator first (FAIRLENS_REQUIRE_MFA, on outside DEBUG)
    signed_in = _login("mallory", NEW_PASSWORD)
    assert signed_in.status_code == 200
    assert signed_in.json()["data"]["mfa_enrolment_required"] is True
    limited = _bearer(signed_in.json()["data"]["access_token"])
    history = limited.get("/api/audit_history")
    assert history.status_code == 403
    assert history.json()["code"] == "mfa_enrolment_required"


def test_a_new_admin_needs_a_second_admin(client_as: Any, admin_user: User, make_user: Any) -> None:
    created = client_as("admin").post(
        "/api/v1/accounts/users/", {"username": "adam", "email": "adam@example.com", "role": "admin"}
    )
    adam = User.objects.get(username="adam")
    assert created.json()["pending_role"] == "admin"
    assert not adam.is_staff
    # the requester cannot approve their own request; an auditor cannot approve an admin
    assert client_as("admin").post(f"/api/v1/accounts/users/{adam.pk}/approve/").status_code == 403
    assert client_as("auditor").post(f"/api/v1/accounts/users/{adam.pk}/approve/").status_code == 403
    second = make_user("second-admin", "admin")
    from accounts.services import user_approve_role

    user_approve_role(user=adam, approved_by=second)
    adam.refresh_from_db()
    assert roles_of(adam) == frozenset({"admin"})
    assert adam.is_staff


def test_nobody_approves_a_role_that_was_not_requested(client_as: Any, monitor_user: User) -> None:
    response = client_as("auditor").post(f"/api/v1/accounts/users/{monitor_user.pk}/approve/")
    assert response.status_code == 409
    assert response.json()["code"] == "no_pending_role"


def test_an_auditor_reset_is_one_time_audited_and_told_to_the_auditors(
    client_as: Any, auditor_user: User, make_user: Any
) -> None:
    # given a second auditor, who should hear of it
    make_user("erin-auditor", "auditor")
    # when an admin starts a reset for bob
    response = client_as("admin").post(f"/api/v1/accounts/users/{auditor_user.pk}/reset/")
    # then nothing changed yet, the link went to bob, and both auditors were told
    assert response.status_code == 202, response.content
    assert response.json()["sent_to"] == "bob-auditor@example.com"
    assert "token" not in response.json()
    assert User.objects.get(pk=auditor_user.pk).check_password(TEST_PASSWORD)
    link = next(m for m in mail.outbox if m.to == ["bob-auditor@example.com"] and "Choose" in m.subject)
    notice = next(m for m in mail.outbox if "reset" in m.subject.lower() and "erin-auditor@example.com" in m.to)
    assert "alice-admin" in notice.body
    assert AuditEntry.objects.filter(action="user.password_reset_started", object_id=str(auditor_user.pk)).exists()
    assert PasswordResetToken.objects.get(user=auditor_user).token_hash != _token_in(link)  # only a hash is kept
    # when bob completes it
    complete = "/api/v1/accounts/password-reset/complete"
    assert APIClient().post(complete, {"token": _token_in(link), "password": NEW_PASSWORD}).status_code == 204
    # then the link is spent
    again = APIClient().post(complete, {"token": _token_in(link), "password": "yet-Another-passphrase-6"})
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_reset_token"
    assert again.json()["details"]["token"]
    assert AuditEntry.objects.filter(action="user.password_reset_completed").count() == 1
    # and the second factor survives the reset: the new password alone does not sign in
    without_code = _login("bob-auditor", NEW_PASSWORD)
    assert without_code.status_code == 401
    assert without_code.json()["code"] == "otp_required"
    assert _login("bob-auditor", NEW_PASSWORD, totp_code(auditor_user)).status_code == 200


def test_an_expired_reset_link_is_refused(client_as: Any, monitor_user: User) -> None:
    client_as("admin").post(f"/api/v1/accounts/users/{monitor_user.pk}/reset/")
    token = _token_in(mail.outbox[-1])
    PasswordResetToken.objects.filter(user=monitor_user).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = APIClient().post(
        "/api/v1/accounts/password-reset/complete", {"token": token, "password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_reset_token"
    assert User.objects.get(pk=monitor_user.pk).check_password(TEST_PASSWORD)


def test_a_newer_reset_link_replaces_the_older_one(client_as: Any, monitor_user: User) -> None:
    client_as("admin").post(f"/api/v1/accounts/users/{monitor_user.pk}/reset/")
    first = _token_in(mail.outbox[-1])
    client_as("admin").post(f"/api/v1/accounts/users/{monitor_user.pk}/reset/")
    response = APIClient().post("/api/v1/accounts/password-reset/complete", {"token": first, "password": NEW_PASSWORD})
    assert response.status_code == 400


def test_a_reset_for_a_user_without_an_address_says_so(client_as: Any, monitor_user: User) -> None:
    User.objects.filter(pk=monitor_user.pk).update(email="")
    response = client_as("admin").post(f"/api/v1/accounts/users/{monitor_user.pk}/reset/")
    assert response.status_code == 400
    assert "email" in response.json()["details"]


def test_the_reset_page_sets_the_password_once(client: Any, monitor_user: User) -> None:
    from accounts.services import password_reset_link

    link, _, _ = password_reset_link(user=monitor_user, purpose="reset")
    token = link.split("token=")[1]
    page = client.get(f"/password-reset/?token={token}")
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "no-referrer"
    form = {"token": token, "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert b"Your password is set" in client.post("/password-reset/", form).content
    assert client.post("/password-reset/", form).status_code == 400


def test_an_auditors_changed_address_is_told_to_the_auditors(client_as: Any, auditor_user: User) -> None:
    response = client_as("admin").patch(
        f"/api/v1/accounts/users/{auditor_user.pk}/", {"email": "admin-mailbox@example.com"}, format="json"
    )
    assert response.status_code == 200
    notice = next(m for m in mail.outbox if "E-mail address changed" in m.subject)
    assert "admin-mailbox@example.com" in notice.to  # the new address, and the old one: all auditors now


def test_creating_users_through_the_api_takes_no_password(client_as: Any) -> None:
    response = client_as("admin").post(
        "/api/v1/accounts/users/",
        {"username": "frank", "email": "frank@example.com", "password": "admin-Chosen-pass-1", "role": "monitor"},
    )
    assert response.status_code == 201
    assert not User.objects.get(username="frank").has_usable_password()
    missing = client_as("admin").post("/api/v1/accounts/users/", {"username": "gina", "role": "monitor"})
    assert missing.status_code == 400
    assert "email" in missing.json()["details"]


def test_the_first_auditor_is_made_on_the_server_and_only_once(db: None) -> None:
    output = StringIO()
    call_command(
        "create_first_user",
        "--role",
        "auditor",
        "--username",
        "first",
        "--email",
        "first@example.com",
        "--print-link",
        stdout=output,
    )
    first = User.objects.get(username="first")
    assert roles_of(first) == frozenset({"auditor"})
    assert "token=" in output.getvalue()
    with pytest.raises(CommandError, match="exists already"):
        call_command(
            "create_first_user",
            "--role",
            "auditor",
            "--username",
            "second",
            "--email",
            "s@example.com",
            stdout=StringIO(),
        )
