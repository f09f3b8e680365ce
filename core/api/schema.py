"""OpenAPI helpers: the common error shape documented on every operation, and list filters."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every API error has this shape.",
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "code": {"type": "string", "description": "Machine-readable error code."},
        "message": {"type": "string", "description": "What is wrong, for people."},
        "details": {"type": "object", "additionalProperties": True, "description": "Per-field messages."},
        "error_id": {"type": "string", "description": "Present on 500 errors; quote it to operators."},
    },
    "required": ["status", "code", "message", "details"],
}

_ERROR_STATUSES = {
    "400": "The request is invalid.",
    "401": "Missing or invalid credentials.",
    "403": "The credentials do not allow this.",
    "404": "No such resource.",
    "405": "Method not allowed.",
    "409": "Conflicts with existing data or the current state (a name taken, no demo model registered).",
    "413": "Request body too large.",
    "429": "Too many requests; see Retry-After.",
    "500": "Unexpected server error (with an error id).",
    "503": "PostgreSQL or Redis cannot be reached; see Retry-After.",
}
_WRITE_ERROR_STATUSES = {
    "415": "Unsupported request content type.",
}
_WRITE_METHODS = {"post", "put", "patch"}
# DRF's form parsers stay on for the browsable API, but a form cannot say what the JSON body says (null, nested
# objects, lists of one), so bodies are documented as JSON, plus multipart where a file is uploaded.
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Add an ``Error`` component and reference it for the error statuses of every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    components = result["components"]["schemas"]
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            _document_json_bodies(operation, components)
            responses = operation.setdefault("responses", {})
            statuses = {**_ERROR_STATUSES, **(_WRITE_ERROR_STATUSES if method in _WRITE_METHODS else {})}
            for status, description in statuses.items():
                responses.setdefault(status, {"description": description, "content": reference})
    return result


def _uploads_a_file(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return any(prop.get("format") == "binary" for prop in schema.get("properties", {}).values())


def _document_json_bodies(operation: dict[str, Any], components: dict[str, Any]) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return
    content.pop(_FORM, None)
    if _MULTIPART in content and not _uploads_a_file(content[_MULTIPART].get("schema", {}), components):
        del content[_MULTIPART]


def string_filters(*names: str) -> list[OpenApiParameter]:
    """OpenAPI query parameters for a list endpoint's string filters (``?model=...&status=...``)."""
    return [OpenApiParameter(name, OpenApiTypes.STR) for name in names]
