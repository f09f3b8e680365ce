"""Admin actions (Django's LogEntry rows) recorded in the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry

from compliance.services import audit_append

_ACTIONS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}


def audit_admin_action(sender: type, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    audit_append(
        action=_ACTIONS.get(instance.action_flag, "admin.action"),
        actor=instance.user,
        object_type=f"{instance.content_type.app_label}.{instance.content_type.model}" if instance.content_type else "",
        object_id=str(instance.object_id or ""),
        payload={"repr": instance.object_repr[:200], "change": instance.get_change_message()[:1000]},
    )
