"""Idempotency-Key support for POSTs that change data (draft-ietf-httpapi-idempotency-key-header).

The first response to a key is stored with a fingerprint of the request (method, path, body) in the same
transaction as the change it reports. A repeat with the same fingerprint gets that response again (marked
``Idempotent-Replayed: true``); the same key with a different request is refused (422). Keys are scoped to the
caller, so one client cannot read another's stored responses, and expire after IDEMPOTENCY_KEY_TTL_HOURS.
A concurrent repeat waits on the key's unique index, then replays.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from core.api.errors import ApplicationError
from monitoring.models import IdempotencyKey

_KEY_FORMAT = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\n", path.encode(), b"\n", body):
        digest.update(part)
    return digest.hexdigest()


def _replay(stored: IdempotencyKey, request_fingerprint: str) -> Response:
    if stored.fingerprint != request_fingerprint:
        raise ApplicationError(
            "This Idempotency-Key was already used for a different request.",
            code="idempotency_key_reused",
            status_code=422,
        )
    return Response(stored.response_body, status=stored.status_code, headers={"Idempotent-Replayed": "true"})


def run_idempotently(
    *, key: str | None, principal: str, method: str, path: str, body: bytes, handler: Callable[[], Response]
) -> Response:
    """Run ``handler`` once per (principal, key); without a key, just run it."""
    if key is None:
        return handler()
    if not _KEY_FORMAT.match(key):
        raise ApplicationError(
            "The Idempotency-Key header must be 1-255 visible ASCII characters.", code="invalid_idempotency_key"
        )
    request_fingerprint = fingerprint(method, path, body)
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    IdempotencyKey.objects.filter(principal=principal, key=key, created_at__lt=cutoff).delete()
    stored = IdempotencyKey.objects.filter(principal=principal, key=key).first()
    if stored is not None:
        return _replay(stored, request_fingerprint)
    try:
        with transaction.atomic():
            response = handler()
            if response.status_code < 500:
                IdempotencyKey.objects.create(
                    principal=principal,
                    key=key,
                    fingerprint=request_fingerprint,
                    status_code=response.status_code,
                    response_body=response.data,
                )
            return response
    except IntegrityError:
        # A concurrent request with the same key committed first; our work was rolled back with this block.
        stored = IdempotencyKey.objects.filter(principal=principal, key=key).first()
        if stored is None:
            raise
        return _replay(stored, request_fingerprint)
