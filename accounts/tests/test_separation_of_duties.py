"""Separation of duties: nobody is both admin and auditor, and nobody changes their own role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.admin import UserAdminChangeForm
from accounts.models import User
from accounts.services import SeparationOfDutiesError, check_separation_of_duties, user_approve_role, user_set_role
from core.roles import roles_of

pytestmark = pytest.mark.django_db


def test_the_service_refuses_admin_plus_auditor() -> None:
    with pytest.raises(SeparationOfDutiesError):
        check_separation_of_duties(roles={"admin", "auditor"})
    check_separation_of_duties(roles={"admin", "monitor"})  # allowed


def test_a_superuser_cannot_be_made_auditor(admin_user: User) -> None:
    root = User.objects.create_superuser("root", password="x-Very-long-passphrase-1")
    with pytest.raises(SeparationOfDutiesError):
        user_set_role(user=root, role="auditor", changed_by=admin_user)
    assert "auditor" not in roles_of(User.objects.get(pk=root.pk))


def test_an_admin_cannot_change_their_own_role(client_as: object, admin_user: User) -> None:
    response = client_as("admin").patch(f"/api/v1/accounts/users/{admin_user.pk}/", {"role": "auditor"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "own_role"
    assert set(admin_user.groups.values_list("name", flat=True)) == {"admin"}


def test_the_api_refuses_making_a_superuser_an_auditor(client_as: object) -> None:
    root = User.objects.create_superuser("root", password="x-Very-long-passphrase-1")
    response = client_as("admin").patch(f"/api/v1/accounts/users/{root.pk}/", {"role": "auditor"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "separation_of_duties"


def test_changing_a_role_replaces_the_old_one_once_approved(client_as: object, monitor_user: User) -> None:
    response = client_as("admin").patch(
        f"/api/v1/accounts/users/{monitor_user.pk}/", {"role": "auditor"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["monitor"]
    assert response.json()["pending_role"] == "auditor"
    approved = client_as("auditor").post(f"/api/v1/accounts/users/{monitor_user.pk}/approve/")
    assert approved.status_code == 200, approved.content
    assert approved.json()["roles"] == ["auditor"]
    assert approved.json()["pending_role"] is None
    assert set(monitor_user.groups.values_list("name", flat=True)) == {"auditor"}


def test_the_admin_form_refuses_auditor_for_a_superuser(admin_user: User) -> None:
    root = User.objects.create_superuser("root", password="x-Very-long-passphrase-1")
    form = UserAdminChangeForm(
        instance=root,
        data={"username": "root", "role": "auditor", "is_active": "on", "email": "", "first_name": "", "last_name": ""},
    )
    form.editing_user = admin_user
    assert not form.is_valid()
    assert "admin and auditor" in str(form.errors["role"])


def test_the_admin_form_refuses_changing_your_own_role(admin_user: User) -> None:
    form = UserAdminChangeForm(
        instance=admin_user,
        data={
            "username": admin_user.username,
            "role": "monitor",
            "is_active": "on",
            "email": "",
            "first_name": "",
            "last_name": "",
        },
    )
    form.editing_user = admin_user
    assert not form.is_valid()
    assert "own role" in str(form.errors["role"])


def test_admin_role_through_the_admin_site_cannot_be_combined(
    client: object, admin_user: User, auditor_user: User, make_user: object
) -> None:
    # given an admin editing an auditor in /admin/
    client.force_login(admin_user)
    url = f"/admin/accounts/user/{auditor_user.pk}/change/"
    # when they pick the admin role (replacing auditor is allowed; the role field holds one value)
    response = client.post(
        url,
        {
            "username": auditor_user.username,
            "role": "admin",
            "is_active": "on",
            "email": "",
            "first_name": "",
            "last_name": "",
        },
    )
    # then the admin role is requested; once a second admin approves, the user holds admin only, never both
    assert response.status_code == 302
    assert set(Group.objects.filter(user=auditor_user).values_list("name", flat=True)) == {"auditor"}
    user_approve_role(user=User.objects.get(pk=auditor_user.pk), approved_by=make_user("second-admin", "admin"))
    assert set(Group.objects.filter(user=auditor_user).values_list("name", flat=True)) == {"admin"}
