"""Dashboard pages: the model list, a model's page (verdict, chart, forecast, alerts, causes, demo scenario) with
its live fragment for auto-refresh. The alerts' action forms post to :mod:`web.views.alerts`.

The model page's live part (``#live``) is rendered once per request from ``_model_live.html``; with
``partial=1`` only that fragment is returned, with an ``X-Live-Digest`` header so the script replaces it only
when something changed. The demo scenario runs only on a full page request that carries its parameters.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from core.api.errors import ApplicationError
from demo.model import DEMO_MODEL_NAME
from demo.scenarios import run_demo_scenarios
from demo.stream import demo_version
from registry.models import MLModel, ModelVersion
from registry.selectors import current_version, model_named, versions_newest_first
from registry.services import current_policy
from web import charts
from web import dashboard_data as data
from web.access import OPERATORS, READERS, can, page_roles
from web.views.alerts import NOTE_MAX_LENGTH

SCENARIO_PARAMS = ("drift_level", "n_samples")
SCENARIO_DEFAULTS = {"drift_level": 0.5, "n_samples": 1000}
SCENARIO_SEED = 42
LIVE_TEMPLATE = "web/_model_live.html"
_CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*"')


class ScenarioForm(forms.Form):
    drift_level = forms.FloatField(min_value=0.0, max_value=1.0, label="Drift level")
    n_samples = forms.IntegerField(min_value=100, max_value=5000, label="Samples")


# --- Model list -----------------------------------------------------------------------------------------------


@page_roles(*READERS)
def model_list(request: HttpRequest) -> HttpResponse:
    return render(request, "web/dashboard.html", {"rows": data.model_rows()})


def _not_found(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "web/dashboard.html", {"rows": data.model_rows(), "not_found": message}, status=404)


# --- Model page -----------------------------------------------------------------------------------------------


def _live_digest(html: str) -> str:
    """A fingerprint of the fragment that ignores the per-render CSRF token masks."""
    return hashlib.sha256(_CSRF_VALUE.sub(r'\1"', html).encode()).hexdigest()[:32]


def _page_query(version: ModelVersion | None, metric: str, chosen: data.ChartRange) -> str:
    params = {"version": version.version} if version is not None else {}
    return "?" + urlencode({**params, "metric": metric, **chosen.query})


def _live_context(
    request: HttpRequest, model: MLModel, version: ModelVersion | None, metric: str, chosen: data.ChartRange
) -> dict[str, Any]:
    policy = current_policy(model)
    checks = data.checks_for(version, chosen) if version is not None else []
    latest = checks[-1] if checks else None
    band = data.metric_band(policy, metric)
    rows = data.metric_series(checks, metric, band)
    thresholds = data.thresholds_for(metric, policy, latest)
    forecast = data.forecast_of(latest)
    span = "checks in the chosen range" if chosen.chosen else "checks"
    title = f"{metric} of {model.name}" + (f" v{version.version}" if version else "") + f", {len(rows)} {span}"
    chart = (
        ""
        if not rows
        else charts.line_chart(
            data.chart_points(rows),
            title=title,
            metric=metric,
            thresholds=thresholds,
            forecast=data.chart_forecast(forecast) if metric == "DIR" else None,
            chart_id="metric-chart",
        )
    )
    page_url = reverse("web-model", args=[model.name]) + _page_query(version, metric, chosen)
    group_charts = [
        {
            "subject": series.subject,
            "svg": charts.line_chart(
                series.points,
                title=f"{metric} of {series.subject}, {len(series.points)} {span}",
                metric=metric,
                thresholds=thresholds,
                chart_id=series.chart_id,
                size=charts.SMALL,
            ),
        }
        for series in data.group_series(checks, metric)
    ]
    return {
        "model": model,
        "version": version,
        "metric": metric,
        "latest": latest,
        "badge": data.status_badge(latest.status_summary if latest else None),
        "status_line": data.status_line(latest, policy),
        "group_tables": data.group_tables(latest, policy),
        "table_metrics": data.table_metrics(policy),
        "evidence_rows": data.evidence_rows(latest),
        "group_charts": group_charts,
        "score_drift": data.score_drift_rows(latest),
        "chart": chart,
        "chart_title": title,
        "rows": rows,
        "thresholds": thresholds,
        "band": band,
        "forecast": forecast,
        "pre_alert": data.pre_alert_of(latest),
        "trend_note": data.trend_note(latest, forecast, data.pre_alert_of(latest)),
        "alerts": data.unresolved_alerts(model),
        "causes": data.likely_causes(latest),
        "input_drift": data.input_drift(latest),
        "labels": data.label_lifecycle(latest),
        "can_operate": can(request, *OPERATORS),
        "page_url": page_url,
        "note_max_length": NOTE_MAX_LENGTH,
    }


def _scenario(request: HttpRequest, model: MLModel) -> dict[str, Any] | None:
    """The demo scenario controls (only on the demo model's page) and, when asked for, their result."""
    if model.name != DEMO_MODEL_NAME:
        return None
    target = demo_version()
    if target is None:
        return None
    asked = any(name in request.GET for name in SCENARIO_PARAMS)
    values: dict[str, Any] = dict(SCENARIO_DEFAULTS)
    context: dict[str, Any] = {"version": target, "errors": [], "result": None, "values": values}
    if not asked:
        return context
    form = ScenarioForm({name: request.GET.get(name, str(SCENARIO_DEFAULTS[name])) for name in SCENARIO_PARAMS})
    if not form.is_valid():
        context["errors"] = [
            f"{form.fields[name].label}: {' '.join(str(message) for message in errors)}"
            for name, errors in form.errors.items()
        ]
        return context
    values.update(form.cleaned_data)
    try:
        result = run_demo_scenarios(
            model_version=target,
            principal=request.user.get_username(),
            n_samples=form.cleaned_data["n_samples"],
            drift_level=form.cleaned_data["drift_level"],
            seed=SCENARIO_SEED,
        )
    except ApplicationError as exc:
        context["errors"] = [exc.message]
        return context
    drifted = result.scenarios.get("drifted_scenario", {})
    context["result"] = {
        "drifted": drifted,
        "fair": result.scenarios.get("fair_scenario", {}),
        "alert": bool(drifted.get("dir_alert")),
        "record_id": result.record_id,
    }
    return context


@page_roles(*READERS)
def model_page(request: HttpRequest, name: str) -> HttpResponse:
    model = model_named(name)
    if model is None:
        return _not_found(request, f"There is no model named “{name[:100]}”.")
    versions = versions_newest_first(model)
    requested = request.GET.get("version", "").strip()
    if requested:
        version = next((item for item in versions if item.version == requested), None)
        if version is None:
            return _not_found(request, f"{model.name} has no version “{requested[:50]}”.")
    else:
        version = current_version(model)
    metric = request.GET.get("metric", data.DEFAULT_METRIC).strip().upper() or data.DEFAULT_METRIC
    metric_error = None
    if metric not in data.CHART_METRICS:
        metric_error = f"Unknown metric “{metric[:20]}”; choose one of {', '.join(data.CHART_METRICS)}. Showing DIR."
        metric = data.DEFAULT_METRIC
    chosen = data.chart_range(request.GET, timezone.now())
    live = _live_context(request, model, version, metric, chosen)
    live_html = render_to_string(LIVE_TEMPLATE, live, request=request)
    digest = _live_digest(live_html)
    if request.GET.get("partial") == "1":
        response = HttpResponse(live_html)
        response["X-Live-Digest"] = digest
        response["Cache-Control"] = "no-store"
        return response
    context = {
        **live,
        "versions": versions,
        "metrics": data.CHART_METRICS,
        "metric_error": metric_error,
        "chart_range": chosen,
        "range_query": urlencode(chosen.query),
        "version_query": urlencode({"version": version.version}) if version is not None else "",
        "range_presets": data.RANGE_PRESETS,
        "live_html": live_html,
        "live_digest": digest,
        "partial_url": live["page_url"] + "&partial=1",
        "scenario": _scenario(request, model),
    }
    return render(request, "web/model.html", context)
