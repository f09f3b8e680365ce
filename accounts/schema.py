"""OpenAPI description of the model-client API key scheme (loaded by AccountsConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
