"""Default pagination: limit/offset with a hard ceiling, refusing unordered querysets and malformed limits."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination as DRFLimitOffsetPagination


class LimitOffsetPagination(DRFLimitOffsetPagination):
    default_limit = 50
    max_limit = 500

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        # Offsets over an unordered queryset can skip or repeat rows between pages.
        if hasattr(queryset, "ordered") and not queryset.ordered:
            raise ValueError(f"{type(view).__name__} paginates an unordered queryset; add an order_by().")
        return super().paginate_queryset(queryset, request, view)

    # DRF quietly replaces a limit or offset it cannot read by the default, so `limit=-5` or `offset=ten` gets
    # a page the client did not ask for; they are 400s naming the parameter. A limit above the ceiling still
    # gets the ceiling (the documented behaviour).
    def get_limit(self, request: Any) -> int:
        value = _query_int(request, self.limit_query_param, minimum=1)
        return self.default_limit if value is None else min(value, self.max_limit)

    def get_offset(self, request: Any) -> int:
        value = _query_int(request, self.offset_query_param, minimum=0)
        return 0 if value is None else value

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = f"Rows per page ({self.default_limit} by default, {self.max_limit} at most)."
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"]["minimum"] = 0
        return parameters


def _query_int(request: Any, name: str, *, minimum: int) -> int | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError({name: ["Give this parameter once."]})
    text = values[0]
    if not (text.isascii() and text.isdigit()) or int(text[:19]) < minimum:
        raise ValidationError({name: [f"Give a whole number of at least {minimum}."]})
    # Beyond 18 digits the number only means "past the end" (and would overflow a database integer).
    return int(text) if len(text) <= 18 else 10**18


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
