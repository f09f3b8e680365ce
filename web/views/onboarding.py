"""Onboarding a model in the pages (admins): register it with its first version and policy, then on its setup
page change the policy, add versions, issue an API key (shown once, with a curl line and a CSV template), try an
upload (checked, and stored only when asked), add webhook endpoints and send them a test event, and run the
first check.

Forms that fail validation are shown again with their messages (status 400) and nothing is written. A secret
(an API key, an endpoint's signing secret) is shown only in the response to the POST that created it, which is
never cached; every other POST redirects, so a reload does not repeat it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import model_client_key_list
from accounts.services import model_client_key_create
from core.api.errors import ApplicationError
from core.roles import Role
from monitoring.alerts.delivery import send_test_event
from monitoring.alerts.selectors import endpoint_list, endpoints_for_model
from monitoring.alerts.services import endpoint_create
from monitoring.checks.selectors import current_check_summary
from monitoring.checks.services import CheckBusy, run_check
from monitoring.ingestion.selectors import predictions_received
from monitoring.ingestion.services import prepare_csv_predictions, protected_attributes_for, store_predictions
from registry.models import MLModel, ModelVersion
from registry.selectors import current_version, model_list, model_named, versions_newest_first
from registry.services import current_policy, policy_create, register_model
from web.access import page_roles
from web.onboarding import (
    EndpointForm,
    KeyForm,
    PolicyForm,
    RegisterForm,
    UploadForm,
    VersionForm,
    csv_template,
    curl_command,
    policy_initial,
)

ADMINS = (Role.ADMIN,)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


# --- Start: the models and the registration form -----------------------------------------------------------


def _model_steps(model: MLModel) -> dict[str, Any]:
    version = current_version(model)
    summary = current_check_summary(version.pk) if version is not None else None
    return {
        "model": model,
        "version": version,
        "policy": current_policy(model) is not None,
        "keys": model_client_key_list().filter(model=model, revoked=False).exists(),
        "predictions": predictions_received(version) if version is not None else 0,
        "checked": summary is not None,
    }


@page_roles(*ADMINS)
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST or None, initial={**policy_initial(None), "version": "1", "stage": "production"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = register_model(
                name=data["name"],
                version=data["version"],
                registered_by=request.user,
                description=data.get("description") or "",
                policy=form.policy_fields(),
                stage=data["stage"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, f"{version.model.name} v{version.version} is registered with its policy. Next: an API key."
            )
            return redirect("web-onboarding-model", name=version.model.name)
    status = 400 if request.method == "POST" else 200
    rows = [_model_steps(model) for model in model_list()]
    return render(request, "web/onboarding_start.html", {"form": form, "rows": rows}, status=status)


# --- One model's setup page ------------------------------------------------------------------------------------


def _missing(request: HttpRequest, name: str) -> HttpResponse:
    messages.error(request, f"There is no model named “{name[:100]}”.")
    return redirect("web-onboarding")


def for_model(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Call ``view`` with the model named in the URL, for admins only; an unknown name goes back to the start
    page with a message."""

    @wraps(view)
    def resolved(request: HttpRequest, name: str, *args: Any, **kwargs: Any) -> HttpResponse:
        model = model_named(name)
        if model is None:
            return _missing(request, name)
        return view(request, model, *args, **kwargs)

    return page_roles(*ADMINS)(resolved)


def _setup_page(request: HttpRequest, model: MLModel, status: int = 200, **extra: Any) -> HttpResponse:
    policy = current_policy(model)
    versions = versions_newest_first(model)
    version = current_version(model)
    context = {
        "model": model,
        "policy": policy,
        "versions": versions,
        "version": version,
        "steps": _model_steps(model),
        "keys": list(model_client_key_list().filter(model=model)),
        "endpoints": list(endpoints_for_model(model)),
        "policy_form": PolicyForm(initial=policy_initial(policy)),
        "version_form": VersionForm(initial={"stage": ModelVersion.Stage.STAGING}),
        "key_form": KeyForm(),
        "upload_form": UploadForm(),
        "endpoint_form": EndpointForm(initial={"format": "standard", "only_this_model": True}),
        "attributes": policy.protected_attributes if policy else [],
        "max_rows": settings.INGEST_MAX_ROWS,
        **extra,
    }
    return _no_store(render(request, "web/onboarding_model.html", context, status=status))


@for_model
@require_GET
def model_setup(request: HttpRequest, model: MLModel) -> HttpResponse:
    return _setup_page(request, model)


@for_model
@require_POST
def change_policy(request: HttpRequest, model: MLModel) -> HttpResponse:
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _setup_page(request, model, status=400, policy_form=form, open_section="policy")
    policy = policy_create(model=model, created_by=request.user, **form.policy_fields())
    messages.success(request, f"Policy v{policy.version} of {model.name} is in force from the next check.")
    return redirect("web-onboarding-model", name=model.name)


@for_model
@require_POST
def add_version(request: HttpRequest, model: MLModel) -> HttpResponse:
    form = VersionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            version = register_model(
                name=model.name,
                version=data["version"],
                registered_by=request.user,
                description=data.get("description") or "",
                training_metrics=data["training_metrics"],
                stage=data["stage"],
            )
        except ApplicationError as exc:
            form.add_error("version" if exc.code == "conflict" else None, exc.message)
        else:
            messages.success(request, f"{model.name} v{version.version} is registered ({version.get_stage_display()}).")
            return redirect("web-onboarding-model", name=model.name)
    return _setup_page(request, model, status=400, version_form=form, open_section="versions")


@for_model
@require_POST
def issue_key(request: HttpRequest, model: MLModel) -> HttpResponse:
    form = KeyForm(request.POST)
    if not form.is_valid():
        return _setup_page(request, model, status=400, key_form=form, open_section="keys")
    key, raw_key = model_client_key_create(
        model=model, name=form.cleaned_data["name"], created_by=request.user, expires_at=form.expires_at()
    )
    version = current_version(model)
    issued = {
        "key": raw_key,
        "prefix": key.prefix,
        "name": key.name,
        "curl": curl_command(request.build_absolute_uri("/").rstrip("/"), model.name, version.version, raw_key)
        if version is not None
        else None,
    }
    return _setup_page(request, model, status=201, issued=issued, open_section="keys")


@for_model
@require_GET
def template_csv(request: HttpRequest, model: MLModel) -> HttpResponse:
    policy = current_policy(model)
    if policy is None:
        messages.error(request, f"{model.name} has no policy yet, so there are no columns to put in a template.")
        return redirect("web-onboarding-model", name=model.name)
    body = csv_template(policy.protected_attributes, policy.privileged, policy.features)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{model.name}-predictions-template.csv"'
    return response


@for_model
@require_POST
def upload(request: HttpRequest, model: MLModel) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    version = current_version(model)
    if version is None:
        form.add_error(None, f"{model.name} has no version in staging or production to send predictions to.")
    if not form.is_valid():
        return _setup_page(request, model, status=400, upload_form=form, open_section="upload")
    try:
        prepared = prepare_csv_predictions(
            model_version=version, payload=form.cleaned_data["file"], attributes=protected_attributes_for(version)
        )
    except ApplicationError as exc:
        form.add_error("file", exc.message)
        return _setup_page(request, model, status=400, upload_form=form, open_section="upload")
    parsed = prepared.parsed
    result = {
        "version": version,
        "total": parsed.total_rows,
        "valid": parsed.total_rows - parsed.rejected_rows,
        "rejected": parsed.rejected_rows,
        "errors": parsed.reported_errors(),
        "dropped_features": parsed.dropped_features,
        "stored": None,
    }
    if form.cleaned_data["store"] and result["valid"]:
        stored = store_predictions(
            model_version=version, prepared=prepared, principal=f"page:{request.user.get_username()}"
        )
        result["stored"] = {"accepted": stored.accepted, "duplicates": stored.duplicates}
    return _setup_page(request, model, upload_result=result, open_section="upload")


@for_model
@require_POST
def add_endpoint(request: HttpRequest, model: MLModel) -> HttpResponse:
    form = EndpointForm(request.POST)
    if form.is_valid() and endpoint_list().filter(name=form.cleaned_data["name"]).exists():
        form.add_error("name", "An endpoint of this name exists already.")
    if form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = endpoint_create(
                created_by=request.user,
                name=data["name"],
                url=data["url"],
                format=data["format"],
                model=model if data["only_this_model"] else None,
            )
        except ApplicationError as exc:
            form.add_error("url", exc.message)
        else:
            created = {"endpoint": endpoint, "secret": secret}
            return _setup_page(request, model, status=201, created_endpoint=created, open_section="endpoints")
    return _setup_page(request, model, status=400, endpoint_form=form, open_section="endpoints")


@for_model
@require_POST
def test_endpoint(request: HttpRequest, model: MLModel, endpoint_id: int) -> HttpResponse:
    endpoint = endpoints_for_model(model).filter(pk=endpoint_id).first()
    if endpoint is None:
        messages.error(request, f"{model.name} has no webhook endpoint {endpoint_id}.")
        return redirect("web-onboarding-model", name=model.name)
    delivery = send_test_event(endpoint=endpoint, requested_by=request.user)
    attempt = delivery.attempt_log.order_by("-number").first()
    answer = (
        f"HTTP {attempt.status_code}" if attempt and attempt.status_code else (attempt.error if attempt else "")
    ) or "no answer"
    took = f" in {attempt.latency_ms:.0f} ms" if attempt and attempt.latency_ms is not None else ""
    if delivery.status == delivery.Status.DELIVERED:
        messages.success(request, f"Test event delivered to {endpoint.name}: {answer}{took}.")
    else:
        retry = (
            f" It is retried from {timezone.localtime(delivery.next_attempt_at):%H:%M:%S} UTC."
            if delivery.status == delivery.Status.PENDING
            else ""
        )
        messages.error(request, f"Test event to {endpoint.name} was not delivered: {answer}{took}.{retry}")
    return redirect("web-onboarding-model", name=model.name)


@for_model
@require_POST
def check_now(request: HttpRequest, model: MLModel) -> HttpResponse:
    version = current_version(model)
    if version is None:
        messages.error(request, f"{model.name} has no version in staging or production to check.")
        return redirect("web-onboarding-model", name=model.name)
    try:
        check = run_check(
            model_version=version,
            window_end=timezone.now(),
            trigger="manual",
            claim_token=f"page:{request.user.pk}:{timezone.now().timestamp()}",
        )
    except CheckBusy:
        messages.error(request, f"A check of {model.name} v{version.version} is running; try again in a minute.")
        return redirect("web-onboarding-model", name=model.name)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("web-onboarding-model", name=model.name)
    messages.success(request, f"Check {check.pk} of {model.name} v{version.version}: {check.status}.")
    return redirect("web-model", name=model.name)
