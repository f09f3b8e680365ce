"""Password storage: Argon2id for new hashes, old PBKDF2 hashes upgraded on the next login."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import password_reset_link
from fairlens_site.settings import base

pytestmark = pytest.mark.django_db


def test_production_settings_hash_with_argon2id_first() -> None:
    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        assert make_password("a-Long-passphrase-0").startswith("argon2$argon2id$")


def test_a_pbkdf2_hash_is_upgraded_to_argon2_at_login(make_user: object) -> None:
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        user = make_user("erin", "monitor")
        User.objects.filter(pk=user.pk).update(password=make_password("old-Passphrase-11", hasher="pbkdf2_sha256"))
        response = APIClient().post("/api/login", {"username": "erin", "password": "old-Passphrase-11"}, format="json")
        assert response.status_code == 200
        assert User.objects.get(pk=user.pk).password.startswith("argon2$argon2id$")


def test_weak_passwords_are_refused_with_reasons(monitor_user: User) -> None:
    link, _, _ = password_reset_link(user=monitor_user, purpose="reset")
    response = APIClient().post(
        "/api/v1/accounts/password-reset/complete",
        {"token": link.split("token=")[1], "password": "password"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "weak_password"
    assert response.json()["details"]["password"]
