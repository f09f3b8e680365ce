"""manage.py seed_demo: idempotent demo users, refused with default passwords when DEBUG is off."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.models import User
from core.roles import roles_of

pytestmark = pytest.mark.django_db
PASSWORDS = {"admin": "admin-Demo-pass-1", "auditor": "auditor-Demo-pass-2", "monitor": "monitor-Demo-pass-3"}


@override_settings(FAIRLENS_DEMO_PASSWORDS=PASSWORDS)
def test_seeding_twice_gives_the_same_three_users() -> None:
    call_command("seed_demo", stdout=StringIO())
    first = {user.username: user.password for user in User.objects.all()}
    output = StringIO()
    call_command("seed_demo", stdout=output)
    assert {user.username: user.password for user in User.objects.all()} == first
    assert "admin: unchanged" in output.getvalue()
    assert {name: sorted(roles_of(User.objects.get(username=name))) for name in PASSWORDS} == {
        "admin": ["admin"],
        "auditor": ["auditor"],
        "monitor": ["monitor"],
    }
    assert User.objects.get(username="auditor").check_password("auditor-Demo-pass-2")


@override_settings(FAIRLENS_DEMO_PASSWORDS=PASSWORDS)
def test_reset_passwords_applies_new_values() -> None:
    call_command("seed_demo", stdout=StringIO())
    with override_settings(FAIRLENS_DEMO_PASSWORDS={**PASSWORDS, "admin": "new-Admin-pass-9"}):
        call_command("seed_demo", "--reset-passwords", stdout=StringIO())
    assert User.objects.get(username="admin").check_password("new-Admin-pass-9")


@override_settings(FAIRLENS_DEMO_PASSWORDS=PASSWORDS)
def test_dry_run_changes_nothing() -> None:
    call_command("seed_demo", "--dry-run", stdout=StringIO())
    assert not User.objects.exists()


@override_settings(DEBUG=False)
def test_default_passwords_are_refused_when_debug_is_off() -> None:
    with pytest.raises(CommandError, match="default password"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()


@override_settings(DEBUG=True)
def test_default_passwords_are_allowed_for_a_development_run() -> None:
    call_command("seed_demo", stdout=StringIO())
    assert User.objects.get(username="admin").check_password("change-me")
