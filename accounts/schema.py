"""OpenAPI description of the authentication schemes (loaded by AccountsConfig.ready)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerJWTScheme(SimpleJWTScheme):
    """The Bearer JWT scheme, as drf-spectacular describes simplejwt's (it matches that class exactly)."""

    target_class = "accounts.authentication.BearerJWTAuthentication"


class ModelClientKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ModelClientKeyAuthentication"
    name = "ModelClientApiKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Model client key: `Api-Key <prefix>.<secret>`.",
        }
