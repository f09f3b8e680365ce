"""DRF authentication: people with ``Authorization: Bearer <JWT>``, model clients with
``Authorization: Api-Key <prefix>.<secret>``."""

from __future__ import annotations

import re
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_api_key.permissions import KeyParser
from rest_framework_simplejwt.authentication import JWTAuthentication

from accounts.models import ModelClientKey, ModelClientPrincipal
from accounts.services import model_client_key_mark_used

# The shape of a key from ModelClientKey.objects.create_key: an 8-character prefix, a dot, a 32-character secret.
# A JWT has three dot-separated parts, so the two never look alike.
_API_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")


class ApiKeyAsBearer(AuthenticationFailed):
    default_code = "api_key_as_bearer"


class BearerJWTAuthentication(JWTAuthentication):
    """simplejwt's Bearer authentication, which also recognises the common mistake of sending an API key as a
    Bearer token and says which header API keys use, instead of "Given token not valid"."""

    def get_validated_token(self, raw_token: bytes) -> Any:
        if _API_KEY_SHAPE.fullmatch(raw_token.decode("latin-1").strip()):
            raise ApiKeyAsBearer(
                "This is an API key, not an access token: API keys use `Authorization: Api-Key <key>`, "
                "not `Authorization: Bearer <key>`."
            )
        return super().get_validated_token(raw_token)


class ModelClientKeyAuthentication(BaseAuthentication):
    """Authenticates a model client by API key; ``request.user`` becomes a ``ModelClientPrincipal``.

    The key is read from the Authorization header only, never from the query string, so it does not end up
    in access logs or browser history.
    """

    keyword = "Api-Key"
    _parser = KeyParser()

    def authenticate(self, request: Any) -> tuple[ModelClientPrincipal, ModelClientKey] | None:
        raw_key = self._parser.get_from_authorization(request)
        if raw_key is None:
            return None
        try:
            key = ModelClientKey.objects.get_from_key(raw_key.strip())
        except ModelClientKey.DoesNotExist:
            raise AuthenticationFailed("Invalid or revoked API key.") from None
        if key.has_expired:
            raise AuthenticationFailed("This API key has expired.")
        model_client_key_mark_used(key)
        return ModelClientPrincipal(key), key

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
