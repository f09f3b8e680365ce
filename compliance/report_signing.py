"""The deployment's report-signing key and certificate (settings), and signing a document with them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from compliance.pdf_signing import certificate_fingerprint, self_signed_certificate, sign_pdf


class ReportSigningUnavailable(RuntimeError):
    """No report-signing key is configured, so no PDF can be signed (a 503: the deployment is incomplete)."""


@dataclass(frozen=True)
class SignedDocument:
    pdf: bytes
    certificate_sha256: str


@lru_cache(maxsize=4)
def _certificate_for(key_pem: str, certificate_pem: str, signer_name: str) -> str:
    return certificate_pem or self_signed_certificate(key_pem, signer_name)


def _key_pem() -> str:
    if not settings.REPORT_SIGNING_KEY:
        raise ReportSigningUnavailable(
            "No report-signing key is configured (REPORT_SIGNING_KEY); the JSON and CSV bundles are available."
        )
    return settings.REPORT_SIGNING_KEY


def signing_certificate_pem() -> str:
    """The certificate (chain) documents are signed with: REPORT_SIGNING_CERT, or the key's self-signed one."""
    return _certificate_for(_key_pem(), settings.REPORT_SIGNING_CERT, settings.REPORT_SIGNER_NAME)


def sign_document(pdf: bytes, *, reason: str) -> SignedDocument:
    certificate = signing_certificate_pem()
    signed = sign_pdf(pdf, key_pem=_key_pem(), certificate_pem=certificate, reason=reason)
    return SignedDocument(pdf=signed, certificate_sha256=certificate_fingerprint(certificate))
