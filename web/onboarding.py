"""The forms of onboarding a model in the pages, and the files they hand out (the CSV template, the curl line).

The forms parse what a person types (comma-separated attributes, ``attribute=value`` pairs, a band per metric)
into the policy fields the registry validates; the registry's messages are shown on the fields they concern.
Nothing here writes: the views call the services.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from core.api.errors import ApplicationError
from monitoring.alerts.models import WebhookEndpoint
from registry.constants import BANDED_METRICS, FEATURE_TYPES
from registry.models import ModelVersion, MonitoringPolicy, model_name_validator, version_validator
from registry.selectors import model_named
from registry.services import default_policy_fields, policy_fields_validated

METRIC_NAMES = {
    "DIR": "Disparate impact ratio",
    "SPD": "Statistical parity difference",
    "EOD": "Equal opportunity difference",
    "AOD": "Average odds difference",
    "FPR_DIFF": "False positive rate difference",
}
CHANNELS = [("webhook", "Webhook"), ("slack", "Slack"), ("email", "E-mail")]
# A registry message about one of these policy fields is shown on the form field of the same name.
POLICY_FIELDS = (
    "protected_attributes",
    "privileged",
    "min_group_size",
    "confidence_level",
    "window_hours",
    "check_interval_minutes",
    "alpha",
    "review_period_days",
    "label_lag_hours",
    "channels",
    "features",
    "bias_audit",
    "special_category_data",
    "label_coverage_final",
)


def _band_field(metric: str, end: str) -> str:
    return f"{metric.lower()}_{end}"


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class PolicyForm(forms.Form):
    """A monitoring policy as a person writes it; ``policy_fields`` gives what ``policy_create`` takes."""

    protected_attributes = forms.CharField(
        help_text="Comma-separated column names, e.g. gender, race.", widget=forms.TextInput({"autocomplete": "off"})
    )
    privileged = forms.CharField(
        label="Privileged (reference) values",
        help_text="attribute=value for each attribute, comma-separated, e.g. gender=Male, race=White.",
        widget=forms.TextInput({"autocomplete": "off"}),
    )
    min_group_size = forms.IntegerField(min_value=1, help_text="Groups with fewer rows in a window get no verdict.")
    confidence_level = forms.FloatField(help_text="Of the window's intervals, e.g. 0.95.")
    window_hours = forms.IntegerField(min_value=1, max_value=24 * 366, help_text="Each check looks at this window.")
    check_interval_minutes = forms.IntegerField(min_value=1, label="Check every (minutes)")
    alpha = forms.FloatField(
        label="False alert budget (alpha)", help_text="Chance of any false alert per review period, e.g. 0.05."
    )
    review_period_days = forms.IntegerField(min_value=1, help_text="Evidence restarts each period, e.g. 91.")
    label_lag_hours = forms.IntegerField(
        min_value=0, help_text="How late true outcomes may arrive; 0 when they come with the predictions."
    )
    channels = forms.MultipleChoiceField(
        choices=CHANNELS, required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: all channels."
    )
    features = forms.CharField(
        required=False,
        help_text="Optional features to store and test for drift: name:type, comma-separated, with type numeric or "
        "categorical; add :identifier to keep only a keyed hash, e.g. income:numeric, region:categorical.",
        widget=forms.TextInput({"autocomplete": "off"}),
    )
    bias_audit = forms.JSONField(
        required=False,
        label="NYC LL144 bias audits (JSON)",
        help_text='Optional: {"sex": {"attribute": "gender", "categories": {"F": "Female", "M": "Male"}}, '
        '"race_ethnicity": {"attribute": "race", "categories": {...}}, "tool": "selection" or "scoring", '
        '"data_source": "historical" or "test", "distribution_date": "YYYY-MM-DD"}. Unmapped values count as unknown.',
        widget=forms.Textarea({"rows": 3}),
    )
    special_category_data = forms.JSONField(
        required=False,
        label="Special-category data record, EU AI Act Art. 10(5) (JSON)",
        help_text='Optional: {"purpose": "why the protected attributes are strictly necessary for bias detection", '
        '"deletion_date": "YYYY-MM-DD", "safeguards": "further safeguards"}.',
        widget=forms.Textarea({"rows": 3}),
    )
    label_coverage_final = forms.FloatField(
        required=False,
        initial=0.9,
        min_value=0.01,
        max_value=1,
        label="Label coverage for final EOD/AOD/FPR",
        help_text="Label-based metrics of a window are provisional until this share of its predictions has a label.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for metric in BANDED_METRICS:
            for end, words in (("min", "at least"), ("max", "at most")):
                self.fields[_band_field(metric, end)] = forms.FloatField(
                    required=False, label=f"{METRIC_NAMES[metric]} ({metric}) {words}"
                )

    def band_rows(self) -> list[dict[str, Any]]:
        """The band fields by metric, for the template's table."""
        return [
            {
                "metric": metric,
                "name": METRIC_NAMES[metric],
                "min": self[_band_field(metric, "min")],
                "max": self[_band_field(metric, "max")],
            }
            for metric in BANDED_METRICS
        ]

    def clean_privileged(self) -> dict[str, str]:
        text = self.cleaned_data["privileged"]
        pairs = {}
        for part in _split(text):
            attribute, sep, value = part.partition("=")
            if not sep or not attribute.strip() or not value.strip():
                raise forms.ValidationError(f"“{part}” is not attribute=value.")
            pairs[attribute.strip()] = value.strip()
        return pairs

    def clean_features(self) -> list[dict[str, Any]]:
        text = self.cleaned_data.get("features") or ""
        declared = []
        for part in _split(text):
            pieces = [piece.strip() for piece in part.split(":")]
            if len(pieces) not in (2, 3) or (len(pieces) == 3 and pieces[2] != "identifier"):
                raise forms.ValidationError(f"“{part}” is not name:type or name:type:identifier.")
            if pieces[1] not in FEATURE_TYPES:
                raise forms.ValidationError(f"“{part}”: the type is one of {', '.join(FEATURE_TYPES)}.")
            declared.append({"name": pieces[0], "type": pieces[1], "identifier": len(pieces) == 3})
        return declared

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        fields: dict[str, Any] = {"protected_attributes": _split(cleaned["protected_attributes"])}
        bands = {}
        for metric in BANDED_METRICS:
            low, high = cleaned.get(_band_field(metric, "min")), cleaned.get(_band_field(metric, "max"))
            if low is not None or high is not None:
                bands[metric] = {"min": low, "max": high}
        fields["metric_bands"] = bands
        for name in POLICY_FIELDS:
            if name not in fields:
                fields[name] = cleaned.get(name)
        fields["channels"] = list(cleaned.get("channels") or [])
        fields["bias_audit"] = cleaned.get("bias_audit") or {}
        fields["special_category_data"] = cleaned.get("special_category_data") or {}
        try:
            self.policy = policy_fields_validated(**fields)
        except ApplicationError as exc:
            for name, messages in (exc.details or {}).items():
                target = name if name in self.fields else None
                for message in messages:
                    self.add_error(target, f"{name.replace('_', ' ')}: {message}" if target is None else message)
        return cleaned

    def policy_fields(self) -> dict[str, Any]:
        return self.policy


def policy_initial(policy: MonitoringPolicy | None) -> dict[str, Any]:
    """The form's starting values: the policy in force (to change it), else the registry's defaults."""
    values = (
        default_policy_fields()
        if policy is None
        else {name: getattr(policy, name) for name in (*POLICY_FIELDS, "metric_bands")}
    )
    initial: dict[str, Any] = {
        name: values.get(name) for name in POLICY_FIELDS if name not in ("protected_attributes", "privileged")
    }
    initial["protected_attributes"] = ", ".join(values.get("protected_attributes") or [])
    initial["privileged"] = ", ".join(f"{k}={v}" for k, v in (values.get("privileged") or {}).items())
    initial["features"] = ", ".join(
        f"{item['name']}:{item['type']}" + (":identifier" if item.get("identifier") else "")
        for item in values.get("features") or []
    )
    for metric, band in (values.get("metric_bands") or {}).items():
        for end in ("min", "max"):
            initial[_band_field(metric, end)] = (band or {}).get(end)
    return initial


class RegisterForm(PolicyForm):
    """A new model, its first version and its first policy: what a model needs before predictions arrive."""

    name = forms.CharField(
        max_length=100,
        validators=[model_name_validator],
        label="Model name",
        help_text="Lowercase letters, digits, '_', '.' and '-', e.g. credit_scoring. It is part of the API's URLs.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea({"rows": 2}))
    version = forms.CharField(max_length=50, validators=[version_validator], initial="1", label="First version")
    stage = forms.ChoiceField(
        choices=[(ModelVersion.Stage.STAGING, "Staging"), (ModelVersion.Stage.PRODUCTION, "Production")],
        initial=ModelVersion.Stage.PRODUCTION,
    )
    field_order = ["name", "description", "version", "stage"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if model_named(name) is not None:
            raise forms.ValidationError(f"A model named {name} exists already; add a version from its setup page.")
        return name


def _training_metrics(text: str) -> dict[str, float]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"Not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) for k, v in value.items()
    ):
        raise forms.ValidationError('An object of metric names to numbers, e.g. {"auc": 0.81, "accuracy": 0.77}.')
    return value


class VersionForm(forms.Form):
    version = forms.CharField(max_length=50, validators=[version_validator])
    stage = forms.ChoiceField(
        choices=[(ModelVersion.Stage.STAGING, "Staging"), (ModelVersion.Stage.PRODUCTION, "Production")]
    )
    description = forms.CharField(required=False, max_length=500)
    training_metrics = forms.CharField(
        required=False,
        widget=forms.Textarea({"rows": 2}),
        help_text='Optional JSON, e.g. {"auc": 0.81, "accuracy": 0.77}; shown when versions are compared.',
    )

    def clean_training_metrics(self) -> dict[str, float]:
        return _training_metrics(self.cleaned_data.get("training_metrics") or "")


class KeyForm(forms.Form):
    prefix = "key"  # the setup page holds several forms: their fields' ids must differ
    name = forms.CharField(max_length=50, label="Key name", help_text="Who uses it, e.g. scoring-service-prod.")
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3660, label="Expires after (days)", help_text="Empty: never."
    )

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None


class UploadForm(forms.Form):
    file = forms.FileField(label="Predictions CSV", help_text="The template's columns; at most 10 MB here.")
    store = forms.BooleanField(
        required=False, label="Store the valid rows", help_text="Unticked: only check the file; nothing is stored."
    )
    MAX_BYTES = 10 * 1024 * 1024

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 10 MB; send large batches through the API.")
        return upload.read()


class EndpointForm(forms.Form):
    prefix = "endpoint"
    name = forms.CharField(max_length=100)
    url = forms.URLField(max_length=2000, label="URL", assume_scheme="https")
    format = forms.ChoiceField(choices=WebhookEndpoint.Format.choices)
    only_this_model = forms.BooleanField(required=False, initial=True, label="Only this model's events")


# --- Files handed out --------------------------------------------------------------------------------------------


def csv_template(
    attributes: Sequence[str], privileged: Mapping[str, str], features: Sequence[Mapping[str, Any]]
) -> str:
    """A predictions CSV with the columns this model's policy takes and two example rows an hour ago."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    feature_names = [item["name"] for item in features]
    writer.writerow(["id", "timestamp", *attributes, "y_pred", "y_true", "score", *feature_names])
    stamp = (timezone.now() - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    for index, (y_pred, y_true, score) in enumerate(((1, 1, 0.82), (0, 1, 0.35)), start=1):
        groups = [privileged.get(name, "value") if index == 1 else "other" for name in attributes]
        examples = ["0" if item["type"] == "numeric" else "example" for item in features]
        moment = (stamp + timedelta(minutes=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        writer.writerow([f"example-{index}", moment, *groups, y_pred, y_true, score, *examples])
    return buffer.getvalue()


def curl_command(base_url: str, model: str, version: str, key: str) -> str:
    url = f"{base_url}/api/v1/models/{model}/versions/{version}/predictions"
    return (
        f"curl -X POST {shlex.quote(url)} \\\n"
        f"  -H {shlex.quote('Authorization: Api-Key ' + key)} \\\n"
        "  -H 'Content-Type: text/csv' \\\n"
        "  --data-binary @predictions.csv"
    )
