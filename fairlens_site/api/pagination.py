"""Default pagination: limit/offset with a hard ceiling, refusing unordered querysets."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination as DRFLimitOffsetPagination


class LimitOffsetPagination(DRFLimitOffsetPagination):
    default_limit = 50
    max_limit = 500

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        # Offsets over an unordered queryset can skip or repeat rows between pages.
        if hasattr(queryset, "ordered") and not queryset.ordered:
            raise ValueError(f"{type(view).__name__} paginates an unordered queryset; add an order_by().")
        return super().paginate_queryset(queryset, request, view)


def cursor_page_schema(name: str, item_serializer: Any) -> Any:
    """OpenAPI description of a cursor-paginated page: ``{"next", "previous", "results": [...]}``."""
    from drf_spectacular.utils import inline_serializer
    from rest_framework import serializers

    return inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item_serializer(many=True),
        },
    )
