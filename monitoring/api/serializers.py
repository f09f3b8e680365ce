"""Monitoring API serializers (ingestion results, stored predictions, seed request bodies)."""

from __future__ import annotations

from rest_framework import serializers

from monitoring.models import Prediction


class RowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1-based position of the row in the batch.")
    field = serializers.CharField()
    reason = serializers.CharField()


class IngestionResultSerializer(serializers.Serializer):
    record_id = serializers.UUIDField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = RowErrorSerializer(many=True, help_text="The first 100 row errors.")
    dropped_features = serializers.ListField(
        child=serializers.CharField(),
        help_text="Features sent that the model's policy does not declare: dropped, never stored (first 100).",
    )


class LabelResultSerializer(serializers.Serializer):
    record_id = serializers.UUIDField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    unknown = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = RowErrorSerializer(many=True)


class PredictionInputSerializer(serializers.Serializer):
    """One prediction in a JSON batch (documentation; validation is vectorised over the whole batch)."""

    id = serializers.CharField(max_length=200, help_text="Your prediction id; stored only as a keyed hash.")
    timestamp = serializers.DateTimeField(help_text="ISO 8601 with a zone, e.g. 2026-01-31T12:00:00Z.")
    attributes = serializers.DictField(child=serializers.CharField(), help_text="Protected attribute values.")
    y_pred = serializers.ChoiceField(choices=[0, 1])
    y_true = serializers.ChoiceField(choices=[0, 1], required=False, allow_null=True)
    score = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    features = serializers.DictField(required=False, allow_null=True)


class PredictionBatchSerializer(serializers.Serializer):
    predictions = PredictionInputSerializer(many=True)


class LabelInputSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=200)
    y_true = serializers.ChoiceField(choices=[0, 1])


class LabelBatchSerializer(serializers.Serializer):
    labels = LabelInputSerializer(many=True)


class PredictionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = (
            "prediction_key",
            "occurred_at",
            "attributes",
            "y_pred",
            "y_true",
            "score",
            "received_at",
            "labeled_at",
        )
        read_only_fields = fields


class SubmitInputSerializer(serializers.Serializer):
    """The seed's /api/submit_predictions body (predictions are validated row by row afterwards)."""

    model_name = serializers.CharField(max_length=100)
    version = serializers.CharField(max_length=50)
    protected_attributes = serializers.ListField(
        child=serializers.CharField(max_length=63), required=False, min_length=1
    )
    privileged = serializers.DictField(child=serializers.CharField(max_length=100), required=False)
    favorable_label = serializers.ChoiceField(choices=[0, 1], required=False)
    # Each row an object (its fields are validated row by row afterwards); min_length as well as allow_empty,
    # as the schema states minItems only from min_length.
    predictions = serializers.ListField(child=serializers.DictField(), allow_empty=False, min_length=1)


class SubmitResultSerializer(IngestionResultSerializer):
    alert = serializers.BooleanField(help_text="True when any comparison's verdict is a violation.")
    metrics = serializers.DictField(help_text="Per attribute: groups, comparisons with intervals and verdicts.")


class EvaluateInputSerializer(serializers.Serializer):
    model_name = serializers.CharField(max_length=100, default="loan_model")
    version = serializers.CharField(max_length=50, default="1")
    n_samples = serializers.IntegerField(min_value=2, max_value=50_000, default=1000)
    drift_level = serializers.FloatField(min_value=0, max_value=1, default=0.0)
    mode = serializers.ChoiceField(
        choices=["demo", "prod"],
        default="demo",
        help_text="demo: the simulator's decisions; prod: the registered model's.",
    )
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**32 - 1)


class EvaluatedPredictionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The simulated applicant's id, pseudonymised (HMAC-SHA256).")
    timestamp = serializers.DateTimeField()
    attributes = serializers.DictField(child=serializers.CharField())
    y_pred = serializers.IntegerField()
    y_true = serializers.IntegerField()
    score = serializers.FloatField(allow_null=True, help_text="The model's probability (prod mode only).")
    features = serializers.DictField()


class EvaluateResultSerializer(serializers.Serializer):
    record_id = serializers.UUIDField(help_text="The evaluation record (for /api/verify_alert).")
    simulated = serializers.BooleanField(
        help_text="Always true: the predictions are not stored and do not enter the model's monitoring."
    )
    model = serializers.CharField()
    version = serializers.CharField()
    mode = serializers.CharField()
    predictions = EvaluatedPredictionSerializer(many=True, help_text="The first 1000 predictions at most.")
    predictions_truncated = serializers.BooleanField(help_text="True when n_samples exceeds the rows returned.")
    predictions_summary = serializers.DictField()
    alert = serializers.BooleanField(help_text="True when any comparison's verdict is a violation.")
    metrics = serializers.DictField(help_text="Per attribute: groups, comparisons with intervals and verdicts.")
    explanation = serializers.CharField(allow_null=True, help_text="Why the alert was raised (null without one).")
    encrypted_alert = serializers.CharField(allow_null=True, help_text="The explanation as stored, encrypted.")
