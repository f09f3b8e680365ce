"""Two versions of a model side by side: training metrics, fairness per group in each one's latest check, and
their recent checks; admins promote or retire a version here (through the registry's stage service)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.api.errors import ApplicationError
from core.roles import Role
from registry.models import ModelVersion
from registry.selectors import model_named, versions_newest_first
from registry.services import current_policy, version_set_stage
from web import dashboard_data as data
from web.access import READERS, can, page_roles, redirect_back

RECENT = 5
STAGE_ACTIONS = {
    "promote": ModelVersion.Stage.PRODUCTION,
    "stage": ModelVersion.Stage.STAGING,
    "retire": ModelVersion.Stage.RETIRED,
}


def _side(version: ModelVersion, policy: Any) -> dict[str, Any]:
    checks = data.recent_checks(version, RECENT)
    latest = checks[-1] if checks else None
    return {
        "version": version,
        "latest": latest,
        "badge": data.status_badge(latest.status_summary if latest else None),
        "status_line": data.status_line(latest, policy),
        "recent": list(reversed(checks)),
        "fairness": {
            (attribute, row["group"]): row
            for table in data.group_tables(latest, policy)
            for attribute in [table["attribute"]]
            for row in table["rows"]
        },
    }


def _pick(versions: list[ModelVersion], wanted: str, fallback: ModelVersion | None) -> ModelVersion | None:
    return next((item for item in versions if item.version == wanted), None) if wanted else fallback


@page_roles(*READERS)
def compare(request: HttpRequest, name: str) -> HttpResponse:
    model = model_named(name)
    if model is None:
        return render(
            request, "web/compare.html", {"not_found": f"There is no model named “{name[:100]}”."}, status=404
        )
    versions = versions_newest_first(model)
    left = _pick(versions, request.GET.get("a", "").strip(), versions[1] if len(versions) > 1 else None)
    right = _pick(versions, request.GET.get("b", "").strip(), versions[0] if versions else None)
    context: dict[str, Any] = {"model": model, "versions": versions, "can_promote": can(request, Role.ADMIN)}
    if left is None or right is None:
        context["not_found"] = (
            f"{model.name} has no version “{request.GET.get('a') if left is None else request.GET.get('b')}”."
            if len(versions) > 1
            else f"{model.name} has fewer than two versions to compare."
        )
        return render(request, "web/compare.html", context, status=404 if len(versions) > 1 else 200)
    policy = current_policy(model)
    sides = [_side(left, policy), _side(right, policy)]
    metric_names = sorted(set(left.training_metrics or {}) | set(right.training_metrics or {}))
    training = [
        {"name": key, "values": [(side["version"].training_metrics or {}).get(key) for side in sides]}
        for key in metric_names
    ]
    subjects = sorted(set(sides[0]["fairness"]) | set(sides[1]["fairness"]))
    fairness = []
    for subject in subjects:
        cells = [side["fairness"].get(subject) for side in sides]
        fairness.append({"attribute": subject[0], "group": subject[1], "cells": cells})
    context.update(
        {
            "sides": sides,
            "training": training,
            "fairness": fairness,
            "metrics": data.table_metrics(policy),
            "page_url": request.get_full_path(),
        }
    )
    return render(request, "web/compare.html", context)


@page_roles(Role.ADMIN)
@require_POST
def set_stage(request: HttpRequest, name: str, version: str) -> HttpResponse:
    model = model_named(name)
    target = next((item for item in versions_newest_first(model) if item.version == version), None) if model else None
    stage = STAGE_ACTIONS.get(request.POST.get("action", ""))
    back = reverse("web-compare", args=[name])
    if target is None or stage is None:
        messages.error(
            request, f"Cannot change the stage: no version “{version[:50]}” of {name[:100]}, or no such action."
        )
        return redirect_back(request, back)
    try:
        version_set_stage(model_version=target, stage=stage, changed_by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{model.name} v{target.version} is now in {target.get_stage_display().lower()}.")
    return redirect_back(request, back)
