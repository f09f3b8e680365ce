"""OpenAPI schema and Swagger UI views whose errors are JSON like every other API error.

drf-spectacular renders with YAML or HTML renderers, which would also render a 401; these views switch
error responses to JSON.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import api_docs_permission


class _JsonErrorsMixin:
    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
            request.accepted_renderer = response.accepted_renderer
            request.accepted_media_type = response.accepted_media_type
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


class SchemaView(_JsonErrorsMixin, SpectacularAPIView):
    def get_permissions(self) -> list[Any]:
        return [api_docs_permission()()]


class SwaggerView(_JsonErrorsMixin, SpectacularSwaggerView):
    url_name = "schema"

    def get_permissions(self) -> list[Any]:
        return [api_docs_permission()()]
