"""Registry API serializers."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.constants import BANDED_METRICS, FEATURE_TYPES
from registry.models import MLModel, ModelVersion, MonitoringPolicy


class JSONObjectField(serializers.JSONField):
    """A JSON object, also accepted as a JSON string (multipart form fields are strings)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise serializers.ValidationError("must be a JSON object") from exc
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be a JSON object")
        return super().to_internal_value(data)


class BandSerializer(serializers.Serializer):
    min = serializers.FloatField(required=False, allow_null=True)
    max = serializers.FloatField(required=False, allow_null=True)


class FeatureSerializer(serializers.Serializer):
    name = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", max_length=63)
    type = serializers.ChoiceField(choices=list(FEATURE_TYPES), help_text="numeric, or categorical (any text).")
    identifier = serializers.BooleanField(
        required=False, default=False, help_text="Stored only as a keyed hash (customer numbers, e-mail addresses)."
    )


class PolicyInputSerializer(serializers.Serializer):
    protected_attributes = serializers.ListField(child=serializers.CharField(max_length=63), min_length=1)
    privileged = serializers.DictField(child=serializers.CharField(max_length=100))
    favorable_label = serializers.ChoiceField(choices=[0, 1], required=False)
    metric_bands = serializers.DictField(
        child=BandSerializer(), required=False, help_text=f"Bands per metric ({', '.join(BANDED_METRICS)})."
    )
    min_group_size = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
    confidence_level = serializers.FloatField(min_value=0.5, max_value=0.999, required=False)
    window_hours = serializers.IntegerField(min_value=1, max_value=24 * 366, required=False)
    check_interval_minutes = serializers.IntegerField(min_value=1, max_value=7 * 24 * 60, required=False)
    alpha = serializers.FloatField(
        min_value=0.0001,
        max_value=0.5,
        required=False,
        help_text="Chance of any false page per review period if the model complies (default 0.05).",
    )
    review_period_days = serializers.IntegerField(
        min_value=1, max_value=3660, required=False, help_text="Evidence resets each review period (default 91)."
    )
    label_lag_hours = serializers.IntegerField(
        min_value=0,
        max_value=24 * 90,
        required=False,
        help_text="Hours before label-based comparisons take an hour into the evidence (default 0).",
    )
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=["webhook", "email", "slack"]), required=False
    )
    features = FeatureSerializer(
        many=True,
        required=False,
        help_text="The features that may be stored; any other feature sent with a prediction is dropped.",
    )
    bias_audit = JSONObjectField(
        required=False,
        help_text="NYC LL144 bias audits: {sex: {attribute, categories: {value: EEO-1 category}}, race_ethnicity: "
        "{...}, tool: selection|scoring, data_source: historical|test, distribution_date: YYYY-MM-DD}.",
    )
    special_category_data = JSONObjectField(
        required=False,
        help_text="EU AI Act Art. 10(5) record: {purpose: why the protected attributes are strictly necessary for "
        "bias detection, deletion_date: YYYY-MM-DD, safeguards: further safeguards}.",
    )


@extend_schema_field(PolicyInputSerializer)
class PolicyFieldFromString(serializers.Field):
    """A policy given as an object or, in multipart forms, as a JSON string."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        raw = JSONObjectField().to_internal_value(data)
        policy = PolicyInputSerializer(data=raw)
        policy.is_valid(raise_exception=True)
        return dict(policy.validated_data)

    def to_representation(self, value: Any) -> Any:
        return value


class PolicyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = MonitoringPolicy
        fields = (
            "version",
            "protected_attributes",
            "privileged",
            "favorable_label",
            "metric_bands",
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
            "created_at",
        )
        read_only_fields = fields


class VersionOutputSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    registered_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    has_artifact = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = (
            "model",
            "version",
            "description",
            "framework",
            "stage",
            "has_artifact",
            "artifact_sha256",
            "artifact_size",
            "metadata",
            "training_metrics",
            "registered_by",
            "created_at",
        )
        read_only_fields = fields

    def get_has_artifact(self, obj: ModelVersion) -> bool:
        return bool(obj.artifact)


class ModelOutputSerializer(serializers.ModelSerializer):
    versions = serializers.SerializerMethodField()
    policy = serializers.SerializerMethodField()

    class Meta:
        model = MLModel
        fields = ("name", "description", "created_at", "versions", "policy")
        read_only_fields = fields

    def get_versions(self, obj: MLModel) -> list[str]:
        return [version.version for version in obj.versions.all()]

    def get_policy(self, obj: MLModel) -> dict[str, Any] | None:
        policies = sorted(obj.policies.all(), key=lambda policy: policy.version)
        return PolicyOutputSerializer(policies[-1]).data if policies else None


class RegisterInputSerializer(serializers.Serializer):
    """Register a model version; JSON, or multipart with an ``artifact`` file (joblib)."""

    name = serializers.RegexField(r"^[a-z0-9][a-z0-9_.-]{0,99}$", max_length=100)
    version = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$", max_length=50)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    metadata = JSONObjectField(required=False, default=dict)
    training_metrics = JSONObjectField(required=False, default=dict)
    stage = serializers.ChoiceField(
        choices=ModelVersion.Stage.choices, required=False, default=ModelVersion.Stage.STAGING
    )
    policy = PolicyFieldFromString(required=False, allow_null=True, default=None)
    artifact = serializers.FileField(required=False, allow_null=True, default=None)


class VersionCreateInputSerializer(RegisterInputSerializer):
    name = None


class RegisterJSONInputSerializer(RegisterInputSerializer):
    """The JSON form of a registration (documentation): a JSON body cannot carry the artifact file."""

    artifact = None


class VersionCreateJSONInputSerializer(VersionCreateInputSerializer):
    """The JSON form of a new version (documentation): a JSON body cannot carry the artifact file."""

    artifact = None


def register_request(serializer: type[serializers.Serializer], json_serializer: type[serializers.Serializer]) -> dict:
    """The request body of a registration, per media type: the artifact only in multipart."""
    return {"application/json": json_serializer, "multipart/form-data": serializer}


class StageInputSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=ModelVersion.Stage.choices)
