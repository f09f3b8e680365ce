"""Test settings: the base settings with throwaway secrets, fast hashing and an isolated var/ folder.

PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL are set (as .ci/run does); otherwise SQLite and
the filesystem broker, exactly as `make run` uses them.
"""

import base64
import os
import secrets
from pathlib import Path

_BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Per-run random values: nothing secret is written down, and subprocesses started by tests inherit them.
os.environ.setdefault("FAIRLENS_VAR_DIR", str(_BASE_DIR / "var" / "test"))
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(50))
os.environ.setdefault("FERNET_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
os.environ.setdefault("FAIRLENS_ID_PEPPER", secrets.token_urlsafe(32))
if "AUDIT_SIGNING_KEY" not in os.environ:
    from core.env import _new_ed25519_pem

    os.environ["AUDIT_SIGNING_KEY"] = _new_ed25519_pem()
if "REPORT_SIGNING_KEY" not in os.environ:
    from core.env import _new_p256_pem

    os.environ["REPORT_SIGNING_KEY"] = _new_p256_pem()
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")

from fairlens_site.settings.base import *  # noqa: E402,F403
from fairlens_site.settings.base import DATABASES, PASSWORD_HASHERS, REST_FRAMEWORK, VAR_DIR  # noqa: E402

# Argon2 stays in the list (a test checks new hashes use it under the base settings); MD5 first only
# because fixtures create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a Celery worker started by a test as a subprocess sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# Generous rates so fuzzing and matrices do not trip throttles; throttle tests set their own rates.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "principal": "100000/min", "login": "100000/min"},
}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
