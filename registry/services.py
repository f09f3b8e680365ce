"""Writes for the model registry."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from fairlens_site.api.errors import ApplicationError
from registry.models import MLModel


@transaction.atomic
def ml_model_create(*, name: str, description: str = "", created_by: User | None = None) -> MLModel:
    """Register a model name. Raises ``ApplicationError`` (409) if the name is taken, (400) if malformed."""
    model = MLModel(name=name, description=description, created_by=created_by)
    try:
        model.full_clean(exclude=["created_by"], validate_unique=False)
    except ValidationError as exc:
        raise ApplicationError("Invalid model.", code="invalid", details=exc.message_dict) from exc
    if MLModel.objects.filter(name=name).exists():
        raise ApplicationError(f"A model named {name!r} already exists.", code="conflict", status_code=409)
    model.save()
    return model
