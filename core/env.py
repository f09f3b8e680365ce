"""Environment access for settings: one django-environ ``Env``, ``<NAME>_FILE`` secrets and dev-only secrets.

Secrets never live in code. Production reads them from the environment or from mounted files
(``<NAME>_FILE``). A development run (``DJANGO_DEBUG=true``, as ``make run`` does) that leaves a secret unset
gets a random value generated once and kept in ``var/dev-secrets.json`` (git-ignored), so tokens and
encrypted data survive restarts. With DEBUG off a missing secret stops start-up with a clear message.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FAIRLENS_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_DEV_SECRETS_FILE = VAR_DIR / "dev-secrets.json"

# How each development secret is made when it is first needed.
_DEV_SECRET_GENERATORS: dict[str, Callable[[], str]] = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "JWT_SECRET": lambda: secrets.token_urlsafe(50),
    "FERNET_KEYS": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    "FAIRLENS_ID_PEPPER": lambda: secrets.token_urlsafe(32),
    "AUDIT_SIGNING_KEY": lambda: _new_ed25519_pem(),
    "REPORT_SIGNING_KEY": lambda: _new_p256_pem(),
    # Standard Webhooks secret of the default endpoint (WEBHOOK_URL), shared with the demo receiver.
    "WEBHOOK_SECRET": lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
}


def _new_ed25519_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


def _new_p256_pem() -> str:
    """An ECDSA P-256 private key (PKCS#8 PEM): the report-signing key kind every PDF reader validates."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


def _dev_secret(name: str) -> str | None:
    """Return development secret ``name`` from ``var/dev-secrets.json``, generating and saving it once.

    Web, worker and beat start together, so the file is read and extended under an exclusive lock: every
    process ends up with the same values.
    """
    generator = _DEV_SECRET_GENERATORS.get(name)
    if generator is None:
        return None
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(_DEV_SECRETS_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        text = handle.read()
        values = json.loads(text) if text.strip() else {}
        if name not in values:
            values[name] = generator()
            handle.seek(0)
            handle.truncate()
            json.dump(values, handle, indent=2)
        return values[name]


def secret(name: str, *, debug: bool, default: str | None = None) -> str:
    """Return secret ``name`` from ``$NAME``, the file named by ``$NAME_FILE``, or (DEBUG only) the dev file."""
    value = env.str(name, default="")
    file_name = env.str(f"{name}_FILE", default="")
    if not value and file_name:
        value = Path(file_name).read_text().strip()
    if value:
        return value
    if default is not None:
        return default
    if debug:
        generated = _dev_secret(name)
        if generated is not None:
            return generated
    raise ImproperlyConfigured(
        f"{name} is not set. Set it (or {name}_FILE) in the environment; see .env.example. "
        "Only a development run (DJANGO_DEBUG=true) may start without it."
    )
