"""System checks for FairLens settings (`manage.py check`, and `check --deploy` for production ones)."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_fernet_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every configured encryption key must be a valid Fernet key; a typo would only surface at first use."""
    errors: list[Error] = []
    if not settings.FERNET_KEYS:
        errors.append(
            Error("No encryption key configured.", hint="Set FERNET_KEYS (see .env.example).", id="fairlens.E001")
        )
    for position, key in enumerate(settings.FERNET_KEYS, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            errors.append(
                Error(
                    f"FERNET_KEYS entry {position} is not a valid Fernet key.",
                    hint='Generate one with: python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"',
                    id="fairlens.E002",
                )
            )
    return errors


# The client library each external key provider needs (requirements-optional.txt).
KEY_PROVIDER_LIBRARIES = {"hcvault://": "hvac", "aws-kms://": "boto3"}


@register()
def check_key_provider_library(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A Vault or KMS key provider needs its optional client library; say so at startup, not at first use."""
    import importlib.util

    for scheme, module in KEY_PROVIDER_LIBRARIES.items():
        if settings.KEY_PROVIDER_URI.startswith(scheme) and importlib.util.find_spec(module) is None:
            return [
                Error(
                    f"KEY_PROVIDER_URI uses {scheme} but the Python package {module!r} is not installed.",
                    hint="pip install -r requirements-optional.txt",
                    id="fairlens.E020",
                )
            ]
    return []


@register(deploy=True)
def check_production_exposure(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    warnings: list[Warning] = []
    if settings.API_DOCS_PUBLIC:
        warnings.append(
            Warning(
                "The OpenAPI schema and Swagger UI are public.",
                hint="Set FAIRLENS_API_DOCS_PUBLIC=false in production.",
                id="fairlens.W001",
            )
        )
    if getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False):
        warnings.append(
            Warning(
                "CORS allows every origin.", hint="List origins in FAIRLENS_CORS_ALLOWED_ORIGINS.", id="fairlens.W002"
            )
        )
    return warnings


@register(deploy=True)
def check_webhook_egress(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Holes in the SSRF guard are for tests and local demos, never for a deployment."""
    errors: list[Error] = []
    if settings.WEBHOOK_ALLOWED_PRIVATE_TARGETS:
        errors.append(
            Error(
                "WEBHOOK_ALLOWED_PRIVATE_TARGETS lets webhooks reach non-public addresses.",
                hint="Leave it empty in production.",
                id="fairlens.E010",
            )
        )
    if settings.WEBHOOK_ALLOW_INSECURE_HTTP:
        errors.append(
            Error(
                "WEBHOOK_ALLOW_INSECURE_HTTP allows plain http:// webhooks.",
                hint="Set it to false.",
                id="fairlens.E011",
            )
        )
    if settings.FAIRLENS_DEMO_ENDPOINTS or settings.FAIRLENS_DEMO_STREAM or settings.CHECK_FAULT_DELAY_SECONDS:
        errors.append(
            Error(
                "A demo or test setting is on: FAIRLENS_DEMO_ENDPOINTS, FAIRLENS_DEMO_STREAM or "
                "CHECK_FAULT_DELAY_SECONDS.",
                hint="Turn them off in production.",
                id="fairlens.E012",
            )
        )
    return errors


@register(deploy=True)
def check_mfa_required(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Admins and auditors without a second factor undo the separation of duties: a reset password or a leaked
    one would be enough to read encrypted data or to administer."""
    if settings.FAIRLENS_REQUIRE_MFA:
        return []
    return [
        Error(
            "FAIRLENS_REQUIRE_MFA is off: admins and auditors can work without a second factor.",
            hint="Unset FAIRLENS_REQUIRE_MFA or set it to true (off is for local demos only).",
            id="fairlens.E040",
        )
    ]


@register()
def check_report_signing_key(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """The PDF documents are signed with REPORT_SIGNING_KEY: say at startup when there is none, or when it is
    not a key PDF readers validate, rather than at the first download (which answers 503)."""
    if not settings.REPORT_SIGNING_KEY:
        return [
            Warning(
                "No REPORT_SIGNING_KEY: the PDF documents answer 503 (their JSON and CSV bundles still work).",
                hint='Generate one with: python -c "from core.env import _new_p256_pem; print(_new_p256_pem())"',
                id="fairlens.W030",
            )
        ]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        key = serialization.load_pem_private_key(settings.REPORT_SIGNING_KEY.encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return [
            Error(
                "REPORT_SIGNING_KEY is not an unencrypted ECDSA or RSA private key (PKCS#8 PEM).",
                hint='Generate one with: python -c "from core.env import _new_p256_pem; print(_new_p256_pem())"',
                id="fairlens.E030",
            )
        ]
    return []
