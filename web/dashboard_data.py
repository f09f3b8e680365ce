"""What the dashboard pages show: models and their current verdicts, a version's recent checks as a chart series,
the latest check's forecast and pre-alert, unresolved alerts and likely causes. The reads are the apps'
selectors; this module turns their rows into badges, words and chart points. No writes, no HTTP.

Check results are read as :mod:`monitoring.checks.analysis` stores them: ``result["reports"][attribute]``
holds ``comparisons[group]`` with each metric's value, ``intervals`` and ``verdicts``; ``result["trend"]``
holds the pre-alert and forecast of the headline DIR series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from monitoring.alerts import rules
from monitoring.alerts.models import Alert
from monitoring.alerts.selectors import models_with_unresolved_counts, unresolved_alerts_of, violation_still_found
from monitoring.checks.selectors import (
    completed_checks_between,
    current_check_summary,
    recent_completed_checks,
    score_histograms_of,
)
from monitoring.constants import INTERSECTION_SEPARATOR
from monitoring.fairness import wasserstein_from_histograms
from monitoring.fairness.labels import FINAL, NO_LABELS, PROVISIONAL, delay_summary
from monitoring.group_labels import display_label, group_from_stored
from monitoring.ingestion.selectors import label_delays
from monitoring.models import FairnessCheck
from registry.models import MLModel, ModelVersion, MonitoringPolicy
from registry.selectors import live_versions
from web.charts import Forecast, Point, histogram_chart, time_labels
from web.report_tables import verdict_tables

CHART_METRICS = ("DIR", "SPD", "EOD", "AOD")
DEFAULT_METRIC = "DIR"
CHART_CHECKS = 30

# status_summary -> (badge class suffix, words a person reads). Status is never shown by colour alone.
STATUS_BADGES = {
    "pass": ("ok", "Pass"),
    "pre_alert": ("warn", "Pre-alert"),
    "alert": ("bad", "Alert"),
    "insufficient_data": ("none", "Insufficient data"),
}
NO_DATA = ("none", "No checks yet")
SEVERITY_BADGES = {"critical": "badge-bad", "high": "badge-bad", "medium": "badge-warn"}
PRE_ALERT_BADGES = {
    "ok": ("ok", "No pre-alert"),
    "pre_alert": ("warn", "Pre-alert"),
    "breached": ("bad", "Breached"),
    "insufficient_data": ("none", "Too few checks"),
}
FORECAST_ACTIONS = {
    "none": "No action needed",
    "warn": "Warn: watch the next checks closely",
    "retrain": "Retrain the model",
}


def status_badge(status: str | None) -> dict[str, str]:
    """CSS class and label of a check status; a missing status is shown as no data, never as a pass."""
    if not status:
        kind, label = NO_DATA
    else:
        kind, label = STATUS_BADGES.get(status, ("none", status.replace("_", " ").capitalize()))
    return {"css": f"badge-{kind}", "label": label, "status": status or "none"}


# --- The model list -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    version: ModelVersion
    status: str | None
    headline_dir: float | None
    completed_at: datetime | None
    badge: dict[str, str]


@dataclass(frozen=True)
class ModelRow:
    model: MLModel
    versions: list[VersionRow]
    open_alerts: int
    acknowledged_alerts: int


def model_rows() -> list[ModelRow]:
    """Every model with its non-retired versions (newest first) and its unresolved alert counts."""
    rows = []
    for model in models_with_unresolved_counts():
        versions = []
        for version in live_versions(model):
            latest = current_check_summary(version.pk) or {}
            status = latest.get("status_summary") or None
            versions.append(
                VersionRow(
                    version=version,
                    status=status,
                    headline_dir=latest.get("headline_dir"),
                    completed_at=latest.get("completed_at"),
                    badge=status_badge(status),
                )
            )
        rows.append(ModelRow(model, versions, model.open_alerts, model.acknowledged_alerts))
    return rows


# --- One model ------------------------------------------------------------------------------------------------


def recent_checks(version: ModelVersion, limit: int = CHART_CHECKS) -> list[FairnessCheck]:
    return recent_completed_checks(version.pk, limit)


RANGE_PRESETS = (1, 7, 30, 90)  # days: the zoom links above the charts
RANGE_MAX_CHECKS = 2000  # a 90-day range of hourly checks; beyond, the latest ones


class RangeForm(forms.Form):
    """The charts' time range: the last ``days``, or the window ends from ``start`` to ``end`` (UTC days, both
    included). Nothing given: the last ``CHART_CHECKS`` checks."""

    days = forms.IntegerField(required=False, min_value=1, max_value=3660)
    start = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(required=False, label="To (included)", widget=forms.DateInput({"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        return cleaned


@dataclass(frozen=True)
class ChartRange:
    form: RangeForm
    start: datetime | None
    end: datetime | None
    errors: list[str]
    query: dict[str, str]  # the range as query parameters, kept by the metric links and the live refresh

    @property
    def chosen(self) -> bool:
        return self.start is not None


def chart_range(params: Mapping[str, str], now: datetime) -> ChartRange:
    """The range asked for in ``params``; a part that does not validate is reported and the default used."""
    given = {name: params.get(name, "") for name in RangeForm.base_fields if params.get(name, "")}
    form = RangeForm(given)
    if not given or not form.is_valid():
        errors = [f"{form.fields[name].label or name}: {' '.join(found)}" for name, found in form.errors.items()]
        return ChartRange(form, None, None, errors if given else [], {})
    data = form.cleaned_data
    if data.get("start") or data.get("end"):
        start = datetime.combine(data.get("start") or (data["end"] - timedelta(days=30)), time.min, tzinfo=UTC)
        end = datetime.combine(data["end"], time.min, tzinfo=UTC) + timedelta(days=1) if data.get("end") else now
        query = {name: str(data[name]) for name in ("start", "end") if data.get(name)}
    else:
        start, end = now - timedelta(days=data["days"]), now + timedelta(seconds=1)
        query = {"days": str(data["days"])}
    return ChartRange(form, start, end, [], query)


def checks_for(version: ModelVersion, chosen: ChartRange) -> list[FairnessCheck]:
    if not chosen.chosen:
        return recent_checks(version)
    return completed_checks_between(version.pk, chosen.start, chosen.end, RANGE_MAX_CHECKS)


def _single_attribute_comparisons(result: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    reports = result.get("reports") or {}
    found = [
        (attribute, group, comparison)
        for attribute, report in reports.items()
        if INTERSECTION_SEPARATOR not in attribute
        for group, comparison in (report.get("comparisons") or {}).items()
    ]
    if found:
        return found
    return [  # only intersections reported: use them rather than show nothing
        (attribute, group, comparison)
        for attribute, report in reports.items()
        for group, comparison in (report.get("comparisons") or {}).items()
    ]


def _excess(value: float, band: Mapping[str, float | None]) -> float:
    low, high = band.get("min"), band.get("max")
    below = low - value if low is not None else 0.0
    above = value - high if high is not None else 0.0
    return max(below, above, 0.0)


@dataclass(frozen=True)
class Worst:
    """The group a chart point and the likely causes speak about."""

    attribute: str
    group: str
    value: float | None
    interval: list[float] | None


def worst_group(result: Mapping[str, Any], metric: str, band: Mapping[str, float | None] | None = None) -> Worst | None:
    """The group with the worst value of ``metric`` over the single protected attributes.

    DIR: the lowest (the check's headline DIR). Other metrics: the furthest beyond the policy band, ties and
    band-less metrics by the distance from 0 (no difference).
    """
    candidates = [
        (attribute, group, comparison)
        for attribute, group, comparison in _single_attribute_comparisons(result)
        if comparison.get(metric) is not None
    ]
    if not candidates:
        return None
    if metric == "DIR":
        attribute, group, comparison = min(candidates, key=lambda item: item[2]["DIR"])
    else:
        attribute, group, comparison = max(
            candidates, key=lambda item: (_excess(item[2][metric], band or {}), abs(item[2][metric]))
        )
    interval = (comparison.get("intervals") or {}).get(metric)
    return Worst(attribute, group, float(comparison[metric]), list(interval) if interval else None)


def metric_band(policy: MonitoringPolicy | None, metric: str) -> dict[str, float | None]:
    band = ((policy.metric_bands if policy else None) or {}).get(metric) or {}
    return {"min": band.get("min"), "max": band.get("max")}


def thresholds_for(metric: str, policy: MonitoringPolicy | None, latest: FairnessCheck | None) -> list[float]:
    """Threshold lines: the policy band's ends; for DIR the minimum defaults to the check's own threshold."""
    band = metric_band(policy, metric)
    low, high = band["min"], band["max"]
    if metric == "DIR" and low is None:
        stored = (latest.result or {}).get("threshold") if latest is not None else None
        low = stored if stored is not None else settings.FAIRLENS_ALERT_THRESHOLD
    return [float(value) for value in (low, high) if value is not None]


def check_label(check: FairnessCheck) -> str:
    """A check's window end as the data tables show it, with its time zone."""
    return timezone.localtime(check.window_end).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class SeriesRow:
    """One check as the chart and its data table show it."""

    check: FairnessCheck
    label: str
    value: float | None
    lower: float | None
    upper: float | None
    subject: str
    badge: dict[str, str]


def metric_series(checks: Sequence[FairnessCheck], metric: str, band: Mapping[str, float | None]) -> list[SeriesRow]:
    rows = []
    for check in checks:
        result = check.result or {}
        worst = worst_group(result, metric, band)
        value = check.headline_dir if metric == "DIR" else (worst.value if worst else None)
        interval = worst.interval if worst and worst.interval else (None, None)
        rows.append(
            SeriesRow(
                check=check,
                label=check_label(check),
                value=value,
                lower=interval[0],
                upper=interval[1],
                subject=f"{worst.attribute}={worst.group}" if worst else "",
                badge=status_badge(check.status_summary or None),
            )
        )
    return rows


def chart_points(rows: Sequence[SeriesRow]) -> list[Point]:
    labels = time_labels([timezone.localtime(row.check.window_end) for row in rows])
    return [Point(label, row.value, row.lower, row.upper) for label, row in zip(labels, rows, strict=True)]


def _words(code: Any) -> str:
    """A stored reason code (``projected_to_cross_within_3_steps``) as words."""
    return str(code).replace("_", " ") if code else ""


def trend_of(check: FairnessCheck | None) -> dict[str, Any]:
    return ((check.result or {}).get("trend") or {}) if check is not None else {}


def forecast_of(check: FairnessCheck | None) -> dict[str, Any] | None:
    """The latest check's forecast of the next headline DIR, or None when it predicts nothing."""
    forecast = trend_of(check).get("forecast") or {}
    if forecast.get("predicted_next") is None:
        return None
    interval = forecast.get("prediction_interval") or {}
    action = forecast.get("action") or "none"
    probability = forecast.get("breach_probability")
    return {
        "predicted_next": float(forecast["predicted_next"]),
        "lower": interval.get("lower"),
        "upper": interval.get("upper"),
        "breach_probability": probability,
        "breach_percent": None if probability is None else round(100 * float(probability), 1),
        "action": action,
        "action_text": FORECAST_ACTIONS.get(action, action),
        "reason": _words(forecast.get("reason")),
        "threshold": forecast.get("threshold"),
        "points_used": forecast.get("points_used"),
    }


def chart_forecast(forecast: Mapping[str, Any] | None) -> Forecast | None:
    if forecast is None:
        return None
    return Forecast(forecast["predicted_next"], forecast["lower"], forecast["upper"])


def pre_alert_of(check: FairnessCheck | None) -> dict[str, Any] | None:
    pre_alert = trend_of(check).get("pre_alert")
    if not pre_alert:
        return None
    status = pre_alert.get("status") or "insufficient_data"
    kind, label = PRE_ALERT_BADGES.get(status, ("none", status.replace("_", " ").capitalize()))
    return {
        **pre_alert,
        "status": status,
        "css": f"badge-{kind}",
        "label": label,
        "reason": _words(pre_alert.get("reason")),
    }


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    badge: str
    status_label: str
    persisting: FairnessCheck | None  # the latest check when it still finds the violation


def unresolved_alerts(model: MLModel) -> list[AlertRow]:
    """The model's open and acknowledged alerts, most severe first, then the most recently seen."""
    return [
        AlertRow(
            alert=alert,
            badge=SEVERITY_BADGES.get(alert.severity, "badge-none"),
            status_label=alert.get_status_display(),
            persisting=violation_still_found(alert),
        )
        for alert in unresolved_alerts_of(model)
    ]


@dataclass(frozen=True)
class Causes:
    subject: str
    lines: list[str] = field(default_factory=list)


def likely_causes(check: FairnessCheck | None) -> Causes | None:
    """The rules' likely causes for the latest check's worst DIR group."""
    if check is None or not check.result:
        return None
    worst = worst_group(check.result, "DIR")
    if worst is None:
        return None
    try:
        lines = rules.likely_causes(check.result, worst.attribute, worst.group)
    except (KeyError, TypeError, ValueError):  # an unexpected stored shape must not break the page
        lines = []
    return Causes(subject=f"{worst.attribute}={worst.group}", lines=lines)


@dataclass(frozen=True)
class InputDrift:
    """The latest check's input-drift findings, as the page lists them (exploratory: never an alert)."""

    status: str
    tested: int
    findings: list[str] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)  # every tested (feature, group), for the table


_DRIFT_STATUS = {
    "no_features": "The policy declares no feature to test.",
    "baseline_filling": "The baseline (the version's first window of feature values) is still filling.",
    "no_feature_values": "No feature values received yet.",
    "stale": "This check is older than the latest evidence; see the latest check.",
}


def input_drift(check: FairnessCheck | None) -> InputDrift | None:
    """The latest check's input drift: each finding as one line (feature, group, PSI of the window)."""
    drift = (check.result or {}).get("feature_drift") if check is not None else None
    if not drift:
        return None
    if drift.get("status") != "tested":
        return InputDrift(status=_DRIFT_STATUS.get(drift.get("status"), str(drift.get("status"))), tested=0)
    lines = [
        f"{cell['feature']} in {cell['attribute']}={cell['group']}: e-value e^{cell['log_e_value']:.1f}, "
        + ("no rows in the window" if cell.get("psi") is None else f"PSI {cell['psi']:.2f} over the window")
        for cell in drift.get("cells", [])
        if cell.get("finding")
    ]
    cells = [
        {
            "feature": cell["feature"],
            "subject": f"{cell['attribute']}={cell['group']}",
            "psi": cell.get("psi"),
            "e_value": math.exp(min(cell["log_e_value"], 700.0)),
            "finding": bool(cell.get("finding")),
        }
        for cell in drift.get("cells", [])
    ]
    return InputDrift(status="tested", tested=len(cells), findings=lines, cells=cells)


# --- Per group: the latest check's table, each group's series, the evidence and the score drift ------------------


def table_metrics(policy: MonitoringPolicy | None) -> tuple[str, ...]:
    """The per-group table's metric columns: the chart's four, then any other metric the policy bands."""
    banded = tuple(name for name in ((policy.metric_bands if policy else None) or {}) if name not in CHART_METRICS)
    return CHART_METRICS + banded


def group_tables(check: FairnessCheck | None, policy: MonitoringPolicy | None) -> list[dict[str, Any]]:
    """The latest check's verdict table of every attribute and intersection (the audit report's tables)."""
    reports = (check.result or {}).get("reports") if check is not None else None
    return verdict_tables(reports, table_metrics(policy), check.result.get("labels")) if reports else []


@dataclass(frozen=True)
class GroupSeries:
    """One group's value of a metric over the recent checks: a small multiple on the model page."""

    subject: str
    chart_id: str
    points: list[Point]


def group_series(checks: Sequence[FairnessCheck], metric: str) -> list[GroupSeries]:
    """Every compared group's ``metric`` (with its interval) in each check, oldest first; a check that did not
    compare the group (too few rows, group not seen) leaves a gap."""
    subjects: dict[str, None] = {}
    for check in checks:
        for attribute, report in ((check.result or {}).get("reports") or {}).items():
            for group in report.get("comparisons") or {}:
                subjects.setdefault(f"{attribute}={group}", None)
    labels = time_labels([timezone.localtime(check.window_end) for check in checks])
    series = []
    for index, subject in enumerate(subjects):
        attribute, group = subject.split("=", 1)
        points = []
        for label, check in zip(labels, checks, strict=True):
            report = ((check.result or {}).get("reports") or {}).get(attribute) or {}
            comparison = (report.get("comparisons") or {}).get(group) or {}
            interval = (comparison.get("intervals") or {}).get(metric) or (None, None)
            points.append(Point(label, comparison.get(metric), interval[0], interval[1]))
        series.append(GroupSeries(subject=subject, chart_id=f"group-chart-{index}", points=points))
    return series


EVIDENCE_DECISIONS = {
    "alert": ("badge-bad", "Alert"),
    "pre_alert": ("badge-warn", "Building up"),
    "finding": ("badge-warn", "Finding (exploratory)"),
    "none": ("badge-ok", "No evidence of a violation"),
}


def evidence_rows(check: FairnessCheck | None) -> list[dict[str, Any]]:
    """Each monitored comparison's anytime-valid evidence in the latest check: the e-value against the level
    that alerts, the confidence sequence and the minimum detectable DIR at the current volume."""
    evidence = (check.result or {}).get("evidence") if check is not None else None
    rows = []
    for item in (evidence or {}).get("comparisons") or []:
        css, label = EVIDENCE_DECISIONS.get(item.get("decision") or "none", ("badge-none", item.get("decision")))
        edge = "at least" if item.get("edge") == "lower" else "at most"
        rows.append(
            {
                "subject": f"{item['attribute']}={item['group']}",
                "metric": item["metric"],
                "band": f"{edge} {item['bound']:g}",
                "e_value": item.get("e_value"),
                "alert_at": math.exp(item["log_threshold"]) if item.get("log_threshold") is not None else None,
                "interval": item.get("interval"),
                "since": item.get("since"),
                "badge": css,
                "label": label,
                "tier": item.get("tier"),
                "detectable": (item.get("detectable") or {}).get("statement"),
            }
        )
    return rows


def score_drift_rows(check: FairnessCheck | None) -> list[dict[str, Any]]:
    """Per group, the score distribution of the window against the version's baseline: KS and PSI as the check
    stored them, and, from the check's stored histograms, the Wasserstein distance (in score units, each bin's
    mass at its midpoint) and both histograms as a chart."""
    drift = (check.result or {}).get("score_drift") if check is not None else None
    if not drift or not drift.get("groups"):
        return []
    window, baseline = score_histograms_of(check.pk)
    rows = []
    for index, (subject, tests) in enumerate(drift["groups"].items()):
        ks, psi = tests.get("ks") or {}, tests.get("psi") or {}
        attribute, group = subject.split("=", 1)
        current = (window.get(attribute) or {}).get(group)
        reference = (baseline.get(attribute) or {}).get(group)
        chart = (
            histogram_chart(current, reference, title=f"Scores of {subject}", chart_id=f"score-chart-{index}")
            if current
            else ""
        )
        distance = None
        if current and reference and sum(current) and sum(reference):
            edges = [bin_index / len(current) for bin_index in range(len(current) + 1)]
            distance = wasserstein_from_histograms(edges, reference, current, normalize=False).statistic
        rows.append(
            {
                "subject": subject,
                "ks": ks.get("statistic"),
                "ks_p": ks.get("p_value"),
                "psi": psi.get("statistic"),
                "psi_threshold": psi.get("threshold"),
                "n_reference": ks.get("n_reference"),
                "n_current": ks.get("n_current"),
                "drifted": bool(tests.get("drifted")),
                "reason": ks.get("reason") or psi.get("reason") or "",
                "chart": chart,
                "wasserstein": distance,
            }
        )
    return rows


# --- The one line every status comes with ------------------------------------------------------------------------


def _interval_words(interval: Sequence[float] | None) -> str:
    return f"interval {interval[0]:.2f}–{interval[1]:.2f}" if interval else "no interval yet"


def _subject_words(violation: Mapping[str, Any]) -> str:
    """ "SPD -0.214 for gender=Female"; without a value in this window (the alert comes from earlier hours'
    evidence), "SPD for gender=Female (no value in this window)"."""
    subject = f"{violation['attribute']}={violation['group']}"
    if violation["value"] is None:
        return f"{violation['metric']} for {subject} (no value in this window)"
    return f"{violation['metric']} {violation['value']:.3f} for {subject}"


def _band_words(violation: Mapping[str, Any], bands: Mapping[str, Any]) -> str:
    band = bands.get(violation["metric"]) or {}
    low, high = band.get("min"), band.get("max")
    if low is not None and violation["value"] is not None and violation["value"] < low:
        return f"below {low:g}"
    if high is not None and violation["value"] is not None and violation["value"] > high:
        return f"above {high:g}"
    return "outside its band"


def status_line(check: FairnessCheck | None, policy: MonitoringPolicy | None) -> str:
    """Why the badge says what it says, in one line, from the same stored check the badge, table and forecast
    read: the worst subject's value, whether the evidence over time rules the band out, and the interval."""
    if check is None:
        return "No completed check yet: the first one runs after predictions arrive for a whole window."
    result = check.result or {}
    bands = (policy.metric_bands if policy else None) or {"DIR": {"min": result.get("threshold")}}
    found = [item for item in result.get("violations") or [] if item.get("evidence")]
    by_decision = {item["evidence"]["decision"]: item for item in reversed(found)}
    status = check.status_summary
    if status == "alert" and "alert" in by_decision:
        item = by_decision["alert"]
        evidence = item["evidence"]
        return (
            f"{_subject_words(item)} is "
            f"{_band_words(item, bands)}, and the evidence over time rules the band out (e-value "
            f"{evidence['e_value']:.3g}, alert at {math.exp(evidence['log_threshold']):.3g}; "
            f"{_interval_words(evidence.get('interval'))}): alert."
        )
    pending = by_decision.get("pre_alert") or by_decision.get("finding")
    if status == "pre_alert" and pending is not None:
        evidence = pending["evidence"]
        return (
            f"{_subject_words(pending)} is "
            f"{_band_words(pending, bands)}, but the evidence does not yet rule the band out (e-value "
            f"{evidence['e_value']:.3g} of the {math.exp(evidence['log_threshold']):.3g} that alerts; "
            f"{_interval_words(evidence.get('interval'))}): pre-alert."
        )
    if status == "insufficient_data":
        size = policy.min_group_size if policy else None
        return (
            "Too few rows in this window for a verdict"
            + (f": every compared group needs at least {size}" if size else "")
            + ": insufficient data."
        )
    headline = result.get("headline_dir")
    threshold = result.get("threshold")
    if headline is not None and threshold is not None and headline < threshold:
        return (
            f"The headline DIR {headline:.3f} is below {threshold:g} in this window, but the evidence over time "
            "does not point to a violation (one window alone is noise at this volume): pass."
        )
    if found:
        return (
            f"{len(found)} value{'s' if len(found) != 1 else ''} outside the band in this window, but no "
            "comparison's evidence is building up against the policy: pass."
        )
    headline_words = f"The headline DIR is {headline:.3f}" if headline is not None else "Every metric is"
    return f"{headline_words} and every compared metric is within the policy's bands: pass."


def trend_note(
    check: FairnessCheck | None, forecast: Mapping[str, Any] | None, pre_alert: Mapping[str, Any] | None
) -> str:
    """One line that reconciles the forecast and the trend with the verdict when they point different ways: the
    badge is the evidence about windows so far; the forecast and the moving average are projections of the
    headline DIR, never verdicts of their own."""
    if check is None:
        return ""
    status = check.status_summary
    warns = (forecast or {}).get("action") in ("warn", "retrain") or (pre_alert or {}).get("status") in (
        "pre_alert",
        "breached",
    )
    if status == "alert" and not warns:
        return "The current verdict already alerts; the forecast only projects the next window's DIR."
    if status in ("pass", "insufficient_data") and warns:
        return (
            "A projection, not a verdict: the evidence so far does not show a violation (the badge), while the "
            "trend of the headline DIR heads toward the threshold; watch the next checks."
        )
    return ""


# --- The label lifecycle of the latest check's window ----------------------------------------------------------

LABEL_STATUS_TEXT = {
    PROVISIONAL: "provisional: some compared group has fewer labels than the policy asks for",
    FINAL: "final: every compared group has the labels the policy asks for",
    NO_LABELS: "not computed: no prediction of the window has a label yet",
}


@dataclass
class LabelLifecycle:
    status: str
    status_text: str
    coverage: float | None
    lowest: float | None
    final_at: float
    rows: list[dict[str, Any]]
    warnings: list[str]
    delay: dict[str, Any]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def label_lifecycle(check: FairnessCheck | None) -> LabelLifecycle | None:
    """Label coverage per group, whether EOD/AOD/FPR are provisional or final, uneven-arrival warnings, and the
    label delays of the check's window (checks stored before labels were tracked have none)."""
    labels = (check.result or {}).get("labels") if check is not None else None
    if not labels:
        return None
    singles = [attribute for attribute in labels["attributes"] if INTERSECTION_SEPARATOR not in attribute]
    delays = label_delays(
        model_version=check.model_version, start=check.window_start, end=check.window_end, attributes=singles
    )
    rows = []
    for attribute, details in labels["attributes"].items():
        for group, row in details["groups"].items():
            summary = delay_summary(delays.get(attribute, {}).get(group, []))
            shown = display_label(group_from_stored(attribute, group))
            rows.append({"attribute": attribute, "group": shown, **row, "delay": summary})
    warnings = [
        f"Labels arrive unevenly across {attribute}: coverage differs by {_percent(details['gap'])} between its "
        f"groups (chi-square p = {details['p_value']:.2g}), so EOD, AOD and FPR compare unlike subsets."
        for attribute, details in labels["attributes"].items()
        if details["uneven"]
    ]
    everyone = [hours for groups in list(delays.values())[:1] for values in groups.values() for hours in values]
    return LabelLifecycle(
        status=labels["status"],
        status_text=LABEL_STATUS_TEXT.get(labels["status"], labels["status"]),
        coverage=labels["coverage"],
        lowest=labels["lowest_group_coverage"],
        final_at=labels["final_at"],
        rows=rows,
        warnings=warnings,
        delay=delay_summary(everyone),
    )
