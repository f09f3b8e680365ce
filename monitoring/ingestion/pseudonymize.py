"""Keyed pseudonymisation of client ids (HMAC-SHA256 under a secret pepper).

A plain hash of an id from a small space (application numbers, employee ids) can be reversed by hashing every
candidate; a keyed hash cannot without the pepper. The same id always maps to the same key, which is what
makes re-sends idempotent and lets labels find their predictions. Features a policy declares as identifiers are
stored through the same hash.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings


def pseudonymize(ids: Iterable[str], *, pepper: str | None = None) -> list[str]:
    """Return the hex HMAC-SHA256 of each id under ``FAIRLENS_ID_PEPPER``."""
    key = (pepper if pepper is not None else settings.FAIRLENS_ID_PEPPER).encode()
    template = hmac.new(key, digestmod=hashlib.sha256)
    result = []
    for value in ids:
        mac = template.copy()
        mac.update(str(value).encode())
        result.append(mac.hexdigest())
    return result
