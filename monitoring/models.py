"""Stored predictions, their per-hour rollups, and records of each ingestion."""

from __future__ import annotations

import uuid

from django.db import models

from registry.models import ModelVersion


class Prediction(models.Model):
    """One prediction of a model version. The client's id is stored only as a keyed hash (``prediction_key``)."""

    # The table keeps only the indexes its queries use, because each one costs every ingested row: the primary
    # key and the unique (model_version, prediction_key) pair, which also serves lookups by version and the
    # label join. Windows are read from rollups, never from this table, so there is no index on time.
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="predictions", db_index=False
    )
    prediction_key = models.CharField(max_length=64, help_text="HMAC-SHA256 of the client's prediction id.")
    occurred_at = models.DateTimeField()
    attributes = models.JSONField(help_text="Protected attribute values, e.g. {'sex': 'Female'}.")
    y_pred = models.PositiveSmallIntegerField()
    y_true = models.PositiveSmallIntegerField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    features = models.JSONField(null=True, blank=True)
    # Not indexed: nothing looks predictions up by record, and records are never deleted (they are audited).
    record = models.ForeignKey(
        "IngestionRecord",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="predictions",
        db_index=False,
    )
    received_at = models.DateTimeField(auto_now_add=True)
    labeled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(fields=("model_version", "prediction_key"), name="unique_prediction_per_version"),
        ]

    def __str__(self) -> str:
        return f"prediction {self.prediction_key[:12]}… of {self.model_version_id}"


class PredictionRollup(models.Model):
    """Confusion counts and a score histogram for one (version, hour, attribute, group).

    ``attribute`` is one protected attribute (``sex``) or an intersection (``race&sex``), ``group`` the value
    (``Female`` or ``Black&Female``). Counts are additive, so a window's counts are sums over its buckets and
    every fairness metric of the window follows from them. Labels arriving later move a prediction from
    ``unlabeled_*`` into the confusion counts.
    """

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="rollups")
    bucket_start = models.DateTimeField()
    attribute = models.CharField(max_length=200)
    group = models.CharField(max_length=400)
    tp = models.BigIntegerField(default=0)
    fp = models.BigIntegerField(default=0)
    tn = models.BigIntegerField(default=0)
    fn = models.BigIntegerField(default=0)
    unlabeled_pos = models.BigIntegerField(default=0)
    unlabeled_neg = models.BigIntegerField(default=0)
    score_histogram = models.JSONField(default=list, help_text="Counts per score bin (SCORE_BINS over [0, 1]).")

    class Meta:
        ordering = ("model_version", "bucket_start", "attribute", "group")
        constraints = [
            models.UniqueConstraint(
                fields=("model_version", "bucket_start", "attribute", "group"), name="unique_rollup_cell"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bucket_start:%Y-%m-%d %H:00} {self.attribute}={self.group}"


class FeatureRollup(models.Model):
    """How many rows of one (version, hour, attribute, group) had a declared feature in one fine bin.

    ``value`` is the fine bin (see ``monitoring.fairness.feature_bins``): a numeric feature's bin index as text,
    or a categorical feature's category. Only single protected attributes are kept (drift is tested per group of
    each). Counts are additive, like the prediction rollups, and labels never change them.
    """

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="feature_rollups")
    bucket_start = models.DateTimeField()
    attribute = models.CharField(max_length=200)
    group = models.CharField(max_length=400)
    feature = models.CharField(max_length=200)
    value = models.CharField(max_length=100)
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ("model_version", "bucket_start", "attribute", "group", "feature", "value")
        constraints = [
            models.UniqueConstraint(
                fields=("model_version", "bucket_start", "attribute", "group", "feature", "value"),
                name="unique_feature_rollup_cell",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bucket_start:%Y-%m-%d %H:00} {self.attribute}={self.group} {self.feature}[{self.value}]"


class IngestionRecord(models.Model):
    """One ingestion (a batch, a seed submit_predictions call, the demo stream), or a simulated run
    (evaluate_model, monitor_fairness) that stores no predictions; ``record_id`` names it."""

    class Source(models.TextChoices):
        API = "api", "Predictions API"
        SUBMIT = "submit", "submit_predictions"
        EVALUATE = "evaluate", "evaluate_model (simulated, not monitored)"
        LABELS = "labels", "Labels API"
        MONITOR = "monitor_fairness", "monitor_fairness demo"
        DEMO_STREAM = "demo_stream", "Demo stream"

    record_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="ingestion_records")
    source = models.CharField(max_length=20, choices=Source.choices)
    principal = models.CharField(max_length=200, help_text="Who sent it: a username or api-key:<prefix>.")
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="Metrics or label counts of this ingestion.")
    encrypted_alert = models.TextField(blank=True, help_text="The alert explanation, encrypted and bound to this row.")
    alert_key_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.source} {self.record_id}"


class IdempotencyKey(models.Model):
    """The first response to a request sent with an ``Idempotency-Key`` header, replayed for repeats."""

    principal = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=("principal", "key"), name="unique_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.principal}: {self.key}"


class FairnessCheck(models.Model):
    """One fairness check of a model version over a window, under one policy version.

    ``inputs`` holds the window's confusion counts (and score histograms) per attribute and group, so the
    check can be redrawn later exactly; ``inputs_sha256`` is the hash of their canonical JSON. Reruns and
    concurrent runs of the same (version, policy version, window end) converge on one row.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        INGESTION = "ingestion", "Ingestion"
        MANUAL = "manual", "Manual"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="checks")
    policy = models.ForeignKey("registry.MonitoringPolicy", on_delete=models.PROTECT, related_name="checks")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    claim_token = models.CharField(max_length=100, blank=True, help_text="Who runs it: a task id or a request.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    verdict = models.CharField(max_length=30, blank=True)
    status_summary = models.CharField(
        max_length=30, blank=True, help_text="pass, pre_alert, alert or insufficient_data: what a person sees."
    )
    headline_dir = models.FloatField(null=True, blank=True, help_text="Lowest DIR over protected attributes.")
    n_predictions = models.BigIntegerField(default=0)
    predictions_seen = models.BigIntegerField(
        default=0, help_text="Predictions the version had received when the check read its window."
    )
    new_evidence = models.BooleanField(
        default=False,
        help_text="The latest window, holding predictions the last such check had not seen: only these checks "
        "count towards a persisting violation (RETRAIN_AFTER_CHECKS).",
    )
    engine_version = models.CharField(max_length=20, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    inputs_sha256 = models.CharField(max_length=64, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-window_end", "-id")
        constraints = [
            models.UniqueConstraint(fields=("model_version", "policy", "window_end"), name="one_check_per_window"),
        ]
        indexes = [models.Index(fields=("model_version", "status", "window_end"), name="check_version_status_end")]

    def __str__(self) -> str:
        return f"check of {self.model_version} ending {self.window_end:%Y-%m-%d %H:%M}"


class IngestionCheckGate(models.Model):
    """When the next ingestion-triggered check of a version may be enqueued (the debounce)."""

    model_version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="+")
    next_allowed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.model_version}: next at {self.next_allowed_at:%H:%M:%S}"


# What a check shows people (API and admin), after who and which policy it is about.
CHECK_RECORD_FIELDS = (
    "window_start",
    "window_end",
    "trigger",
    "status",
    "status_summary",
    "verdict",
    "headline_dir",
    "n_predictions",
    "predictions_seen",
    "new_evidence",
    "engine_version",
    "inputs_sha256",
    "result",
    "error",
    "created_at",
    "completed_at",
)

# Name for the OpenAPI schema (ENUM_NAME_OVERRIDES): alerts and deliveries have a "status" too.
CHECK_STATUS = FairnessCheck.Status
