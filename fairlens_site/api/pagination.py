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
