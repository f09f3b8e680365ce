"""The seed endpoints' success envelope: ``{"status": "success", "data": ..., "message": ...}``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.response import Response


def envelope(data: Any, message: str = "", status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response({"status": "success", "data": data, "message": message}, status=status, headers=headers)


def envelope_serializer(name: str, data: serializers.Field) -> serializers.Serializer:
    """An OpenAPI description of the envelope around ``data``, for ``@extend_schema(responses=...)``."""
    return inline_serializer(
        name=name,
        fields={
            "status": serializers.ChoiceField(choices=["success"]),
            "data": data,
            "message": serializers.CharField(),
        },
    )
