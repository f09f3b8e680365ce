"""DRF authentication for model clients: ``Authorization: Api-Key <prefix>.<secret>``."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_api_key.permissions import KeyParser

from accounts.models import ModelClientKey, ModelClientPrincipal
from accounts.services import model_client_key_mark_used


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
