"""Registered models, their versions (with hashed artifacts) and their versioned monitoring policies."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

model_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]{0,99}$",
    "Use 1-100 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.",
)
version_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$",
    "Use 1-50 letters, digits, '.', '_' or '-', starting with a letter or digit.",
)


class MLModel(models.Model):
    """A machine-learning model FairLens monitors, known by a stable, URL-safe name (e.g. ``loan_model``)."""

    name = models.CharField(max_length=100, unique=True, validators=[model_name_validator])
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ("name",)
        verbose_name = "model"

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One version of a model. Its artifact's SHA-256 is recorded at upload and checked at every load."""

    class Stage(models.TextChoices):
        STAGING = "staging", "Staging"
        PRODUCTION = "production", "Production"
        RETIRED = "retired", "Retired"

    class Framework(models.TextChoices):
        SKLEARN = "sklearn", "scikit-learn (joblib)"
        EXTERNAL = "external", "Served elsewhere (no artifact)"

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=50, validators=[version_validator])
    description = models.TextField(blank=True)
    framework = models.CharField(max_length=20, choices=Framework.choices, default=Framework.EXTERNAL)
    artifact = models.FileField(upload_to="artifacts/%Y/%m/", blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    artifact_size = models.BigIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    training_metrics = models.JSONField(default=dict, blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.STAGING)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("model__name", "-created_at")
        constraints = [models.UniqueConstraint(fields=("model", "version"), name="unique_model_version")]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"


class MonitoringPolicy(models.Model):
    """How a model is monitored. Policies are immutable: a change is a new version; the highest is in force.

    ``metric_bands`` maps a metric name to its acceptable band, e.g. ``{"DIR": {"min": 0.8, "max": null}}``.
    ``features`` declares the prediction features FairLens may store, e.g.
    ``[{"name": "income", "type": "numeric", "identifier": false}]``: any other feature a client sends is
    dropped before storage, and an ``identifier`` feature is stored only as a keyed hash.
    """

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="policies")
    version = models.PositiveIntegerField()
    protected_attributes = models.JSONField(help_text="Names of the protected attributes, e.g. ['sex', 'race'].")
    privileged = models.JSONField(help_text="Privileged (reference) value per attribute, e.g. {'sex': 'Male'}.")
    favorable_label = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(1)])
    metric_bands = models.JSONField()
    min_group_size = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    confidence_level = models.FloatField(default=0.95)
    window_hours = models.PositiveIntegerField(default=24, validators=[MinValueValidator(1)])
    check_interval_minutes = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    alpha = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0001), MaxValueValidator(0.5)],
        help_text="Chance of any false page per review period if the model complies (family-wise).",
    )
    review_period_days = models.PositiveIntegerField(
        default=91,
        validators=[MinValueValidator(1), MaxValueValidator(3660)],
        help_text="Evidence resets at the end of each review period (default a quarter).",
    )
    label_lag_hours = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(24 * 90)],
        help_text="Label-based comparisons (EOD, AOD, FPR difference) take an hour into the evidence only once it "
        "is this many hours old, so labels arriving late still count (0: as soon as it closes).",
    )
    channels = models.JSONField(default=list, blank=True, help_text="Notification channels, e.g. ['webhook'].")
    features = models.JSONField(
        default=list,
        blank=True,
        help_text="Features that may be stored: [{'name', 'type': numeric|categorical, 'identifier'}].",
    )
    bias_audit = models.JSONField(
        default=dict,
        blank=True,
        help_text="NYC LL144 bias audits: which attributes are sex and race/ethnicity and how their values map onto "
        "the EEO-1 categories, the kind of tool (selection or scoring), the data source and distribution date.",
    )
    special_category_data = models.JSONField(
        default=dict,
        blank=True,
        help_text="EU AI Act Art. 10(5): why processing the protected attributes (special categories of personal "
        "data) is strictly necessary for bias detection, the date they are to be deleted, and any further "
        "safeguards: {purpose, deletion_date: YYYY-MM-DD, safeguards}.",
    )
    label_coverage_final = models.FloatField(
        default=0.9,
        validators=[MinValueValidator(0.01), MaxValueValidator(1)],
        help_text="Label-based metrics (EOD, AOD, FPR) of a window are provisional until this share of its "
        "predictions has a label, then final.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("model__name", "-version")
        verbose_name_plural = "monitoring policies"
        constraints = [models.UniqueConstraint(fields=("model", "version"), name="unique_policy_version")]

    def __str__(self) -> str:
        return f"{self.model.name} policy v{self.version}"
