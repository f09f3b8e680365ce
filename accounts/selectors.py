"""Reads for accounts."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import Prefetch, QuerySet

from accounts.models import ModelClientKey, User
from core.roles import USER_ROLES


def user_list() -> QuerySet[User]:
    """Users with their role groups prefetched, by username."""
    return User.objects.prefetch_related(
        Prefetch("groups", queryset=Group.objects.filter(name__in=USER_ROLES), to_attr="role_groups")
    ).order_by("username")


def model_client_key_list() -> QuerySet[ModelClientKey]:
    """API keys, newest first, with their model and creator."""
    return ModelClientKey.objects.select_related("model", "created_by", "revoked_by").order_by("-created")
