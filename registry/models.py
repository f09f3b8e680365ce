"""Registered models. Versions, artifacts and monitoring policies build on ``MLModel``."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

model_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]{0,99}$",
    "Use 1-100 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.",
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
