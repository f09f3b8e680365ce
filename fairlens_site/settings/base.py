"""FairLens settings. Everything comes from the environment; `.env.example` documents every variable.

There is one settings module for every deployment: production differs only through environment values.
`test.py` overrides a few things for speed and isolation.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from core.env import BASE_DIR, VAR_DIR, env, secret

# --- Core ------------------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = secret("DJANGO_SECRET_KEY", debug=DEBUG)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "fairlens_site.views.csrf_failure"

INSTALLED_APPS = [
    "fairlens_site.apps.FairLensAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "rest_framework_api_key",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "corsheaders",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "core",
    "accounts",
    "registry",
    "monitoring",
    "compliance",
    "monitoring.alerts",
    "demo",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outermost of our own: they time the whole request and see the final status code.
    "core.request_metrics.RequestMetricsMiddleware",
    "core.middleware.RequestLogMiddleware",
    "core.middleware.ContentSecurityMiddleware",
    "core.middleware.JsonNotFoundMiddleware",
    # Turns a view's "database/cache unreachable" into 503 + Retry-After (DRF views: the exception handler).
    "core.middleware.DependencyOutageMiddleware",
    "core.middleware.ApiHttpsOnlyMiddleware",
    # With DATABASE_REPLICA_URL: whether this request's reads may go to the replica.
    "core.replica.ReplicaReadsMiddleware",
    "core.middleware.RejectNulQueryMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a lockout flagged during authentication into our JSON answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fairlens_site.urls"
WSGI_APPLICATION = "fairlens_site.wsgi.application"
ASGI_APPLICATION = "fairlens_site.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context.navigation",
            ],
        },
    }
]

# --- Database --------------------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'fairlens.sqlite3'}"),
}
# How long an SQLite writer waits for the write lock before "database is locked", and how many times a
# write transaction that still got it is rerun (with backoff) before the request or task fails.
SQLITE_BUSY_TIMEOUT_SECONDS = env.float("SQLITE_BUSY_TIMEOUT_SECONDS", default=10.0)
DATABASE_LOCK_RETRIES = env.int("DATABASE_LOCK_RETRIES", default=4)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside one writer; IMMEDIATE takes the write lock when a transaction starts, so
    # web, worker and beat queue on busy_timeout instead of failing with "database is locked" mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        f" PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)};",
        "transaction_mode": "IMMEDIATE",
        # sqlite3.connect's own timeout, which is the busy timeout until init_command runs.
        "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# A PostgreSQL streaming replica for the heavy reads of GET requests (core/replica.py says which, and how a
# writer reads its own writes). Unset: every query goes to DATABASE_URL.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
# After a write, that client's reads stay on the primary this long (a cookie), longer than the replica's lag.
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=5)
# After the replica fails to connect, reads go to the primary this long before it is tried again.
REPLICA_RETRY_SECONDS = env.int("REPLICA_RETRY_SECONDS", default=30)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **env.db_url_config(DATABASE_REPLICA_URL),
        "CONN_MAX_AGE": DATABASES["default"].get("CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": True,
        # Tests run against one database: the replica alias reads the test database too.
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]

# --- Cache and broker ------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "fairlens",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # A file cache is shared by every process on the machine (web workers, Celery), which throttling needs;
    # an in-process cache would give each gunicorn worker its own counters.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
BROKER_DIR = Path(env.str("FAIRLENS_BROKER_DIR", default=str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "atomicfs://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own filesystem transport lets a worker read a message that is still being written and crash
    # (core/broker.py); the same folders work with the atomic one.
    CELERY_BROKER_URL = CELERY_BROKER_URL.replace("filesystem://", "atomicfs://", 1)
if CELERY_BROKER_URL.startswith("atomicfs://"):
    # A real broker that needs no server: messages are files in one folder, each written under a temporary
    # name and renamed when complete, and claimed by renaming it away (core/broker.py).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # How long a worker waits before looking again when it finds nothing to do (kombu's default is 1 s,
        # which also paces a busy worker: it sleeps whenever its prefetch limit is reached).
        "polling_interval": env.float("FAIRLENS_BROKER_POLLING_SECONDS", default=0.1),
    }
else:
    # Redis hands an unacknowledged message (acks_late) to another worker once it has been out this long. A
    # task still running at CELERY_TASK_TIME_LIMIT is killed, so a minute past that limit a message still out
    # belongs to a worker that died: it comes back then, not after an hour. A countdown or ETA longer than this
    # would be redelivered early and run twice, so task retry backoffs stay below it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 60, "socket_connect_timeout": 2}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # Every day at 03:17 UTC (https://crontab.guru/#17_3_*_*_*): drop expired refresh tokens and their
    # blacklist rows, which simplejwt otherwise keeps for ever.
    "flush-expired-tokens": {
        "task": "accounts.tasks.flush_expired_tokens_task",
        "schedule": crontab(minute=17, hour=3),
        "options": {"expires": 3600},
    },
    # Every minute (https://crontab.guru/#*_*_*_*_*): sign a checkpoint if one is due, anchor pending ones.
    "audit-checkpoint": {
        "task": "compliance.tasks.checkpoint_task",
        "schedule": crontab(),
        "options": {"expires": 55},
    },
    # Every day at 03:37 UTC (https://crontab.guru/#37_3_*_*_*): delete stored predictions past their retention
    # or their model's Art. 10(5) deletion date (the rollups stay).
    "delete-expired-predictions": {
        "task": "monitoring.tasks.delete_expired_predictions_task",
        "schedule": crontab(minute=37, hour=3),
        "options": {"expires": 3600},
    },
    # Every hour at :07 (https://crontab.guru/#7_*_*_*_*): verify the log against the anchored checkpoint.
    "audit-verify": {
        "task": "compliance.tasks.verify_audit_log_task",
        "schedule": crontab(minute=7),
        "options": {"expires": 3000},
    },
}

# --- Auth ------------------------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

JWT_SECRET = secret("JWT_SECRET", debug=DEBUG)
JWT_ALGORITHM = env.str("JWT_ALGORITHM", default="HS256")
ALLOWED_JWT_ALGORITHMS = ("HS256", "HS384", "HS512")
if JWT_ALGORITHM not in ALLOWED_JWT_ALGORITHMS:
    raise ImproperlyConfigured(f"JWT_ALGORITHM must be one of {', '.join(ALLOWED_JWT_ALGORITHMS)}.")
if JWT_SECRET == SECRET_KEY:
    raise ImproperlyConfigured("JWT_SECRET must differ from DJANGO_SECRET_KEY.")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_EXPIRE", default=300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_EXPIRE", default=86400)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": JWT_ALGORITHM,
    "SIGNING_KEY": JWT_SECRET,
    "AUDIENCE": "fairlens-api",
    "ISSUER": "fairlens",
    "LEEWAY": 0,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "CHECK_USER_IS_ACTIVE": True,
    # A password change invalidates every token issued before it.
    "CHECK_REVOKE_TOKEN": True,
    "REVOKE_TOKEN_CLAIM": "hash_password",
}

# Second factor (TOTP, django-otp). Required for admins and auditors unless switched off; off is for local demos
# only (`check --deploy` refuses it). Decrypting always needs a fresh code from an enrolled authenticator.
FAIRLENS_REQUIRE_MFA = env.bool("FAIRLENS_REQUIRE_MFA", default=not DEBUG)
OTP_TOTP_ISSUER = "FairLens"
# Failed codes double the wait before the next attempt (django-otp's throttling), per device.
OTP_TOTP_THROTTLE_FACTOR = 1
# How long a password reset link and a new account's invitation link stay usable.
FAIRLENS_PASSWORD_RESET_MINUTES = env.int("FAIRLENS_PASSWORD_RESET_MINUTES", default=60)
FAIRLENS_INVITATION_HOURS = env.int("FAIRLENS_INVITATION_HOURS", default=72)
# Where people reach FairLens: the base of the links in e-mails (reset and invitation links).
FAIRLENS_PUBLIC_URL = env.str("FAIRLENS_PUBLIC_URL", default="http://localhost:8000").rstrip("/")

AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"
AXES_VERBOSE = False

# Proxies in front of FairLens that append to X-Forwarded-For. 0 means the socket peer is the client, so a
# client cannot pick its own identity for throttling and lockout by sending that header.
NUM_PROXIES = env.int("FAIRLENS_NUM_PROXIES", default=0)

# --- REST framework --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so a missing or bad token answers 401 with "WWW-Authenticate: Bearer".
        "accounts.authentication.BearerJWTAuthentication",
        "accounts.authentication.ModelClientKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasRole"],
    # JSON bodies are decoded strictly (bounded nesting, no NaN, NUL or lone surrogates): a 400, never a 500.
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.AnonymousRateThrottle",
        "core.api.throttling.PrincipalRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON_RATE", default="60/min"),
        "principal": env.str("THROTTLE_USER_RATE", default="600/min"),
        "login": env.str("THROTTLE_LOGIN_RATE", default="20/min"),
    },
    "NUM_PROXIES": NUM_PROXIES,
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    # Docstrings are reStructuredText: the browsable API shows ``literals`` as code, not raw backticks.
    "VIEW_DESCRIPTION_FUNCTION": "core.api.descriptions.view_description",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

API_DOCS_PUBLIC = env.bool("FAIRLENS_API_DOCS_PUBLIC", default=DEBUG)
SPECTACULAR_SETTINGS = {
    "TITLE": "FairLens API",
    "DESCRIPTION": "Fairness-drift monitoring: models, predictions, checks, alerts and a verifiable audit trail.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "BinaryLabelEnum": [(0, 0), (1, 1)],
        "EnvelopeStatusEnum": [("success", "success")],
        "CheckStatusEnum": "monitoring.models.CHECK_STATUS",
        "AlertStatusEnum": "monitoring.alerts.models.ALERT_STATUS",
        "DeliveryStatusEnum": "monitoring.alerts.models.DELIVERY_STATUS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_error_responses",
    ],
}

# --- HTTP security ---------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# API clients are refused over plain HTTP (ApiHttpsOnlyMiddleware) instead of redirected, so a client
# configured with http:// fails loudly rather than silently re-sending credentials.
SECURE_REDIRECT_EXEMPT = [r"^api/"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    # Only behind a proxy that overwrites X-Forwarded-Proto; otherwise clients could claim HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_NAME = "__Host-sessionid" if SESSION_COOKIE_SECURE else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if CSRF_COOKIE_SECURE else "csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600

CORS_ALLOWED_ORIGINS = env.list("FAIRLENS_CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

# --- Static files ----------------------------------------------------------------------------------------
MEDIA_ROOT = env.path("FAIRLENS_MEDIA_ROOT", default=str(VAR_DIR / "media"))
LOGIN_URL = "web-login"
LOGIN_REDIRECT_URL = "web-dashboard"
STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- I18n and time ---------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging ---------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.request_context.RequestIdLogFilter"},
        # Celery's received/succeeded/sending-due lines for the sweeps beat runs every few seconds go to DEBUG:
        # at INFO they were most of the log. The tasks' own lines (an alert opened, a delivery) stay at INFO.
        "quiet_periodic_tasks": {
            "()": "core.log_filters.QuietPeriodicTasks",
            "tasks": [
                "alerts.tasks.deliver_due_task",
                "monitoring.tasks.dispatch_checks_task",
                "demo.tasks.demo_stream_task",
                "compliance.tasks.checkpoint_task",
            ],
        },
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "quiet_periodic_tasks"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log replaces Django's own 4xx/5xx lines, which would repeat each failed request.
        "django.request": {"level": "ERROR", "handlers": ["console"], "propagate": False},
        "django.server": {"level": "WARNING"},
        # django-axes narrates every attempt at INFO; failures and lockouts still show at WARNING.
        "axes": {"level": "WARNING"},
        # fpdf2's font subsetting logs every glyph table at INFO for each PDF.
        "fontTools": {"level": "WARNING"},
    },
}

# --- FairLens --------------------------------------------------------------------------------------------
FAIRLENS_VERSION = "0.1.0"
# E-mail (auditor notifications now, alert channels later). Development prints mail to the console.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = secret("EMAIL_HOST_PASSWORD", debug=DEBUG, default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="fairlens@localhost")
FAIRLENS_ALERT_THRESHOLD = env.float("ALERT_THRESHOLD", default=0.8)
if not 0 < FAIRLENS_ALERT_THRESHOLD <= 1:
    raise ImproperlyConfigured("ALERT_THRESHOLD must be in (0, 1]; the four-fifths rule is 0.8.")
FAIRLENS_WEBHOOK_URL = env.str("WEBHOOK_URL", default="")
# Port of the demo webhook receiver (manage.py demo_receiver). `make run` picks a free one per checkout and
# points WEBHOOK_URL at it; by default it is the port of a loopback WEBHOOK_URL, so the two agree.
try:
    _webhook_url = urlsplit(FAIRLENS_WEBHOOK_URL)
    _loopback_port = _webhook_url.port if _webhook_url.hostname in ("127.0.0.1", "localhost") else None
except ValueError:  # a malformed WEBHOOK_URL is reported where the endpoint is created, not here
    _loopback_port = None
FAIRLENS_DEMO_RECEIVER_PORT = env.int("DEMO_RECEIVER_PORT", default=_loopback_port or 8765)
# Secret of the default endpoint (whsec_...). Without one, production generates a random secret that an admin
# reveals with the endpoint's rotate-secret action.
FAIRLENS_WEBHOOK_SECRET = secret("WEBHOOK_SECRET", debug=DEBUG, default=None if DEBUG else "")
# Encryption keys for data at rest (alert explanations, webhook secrets): newest first. FERNET_KEY, the
# seed's single-key name, is accepted when FERNET_KEYS is not set.
FERNET_KEYS = [
    key.strip()
    for key in secret("FERNET_KEYS", debug=DEBUG, default=env.str("FERNET_KEY", default="") or None).split(",")
    if key.strip()
]
FAIRLENS_HEALTH_TIMEOUT_SECONDS = env.float("FAIRLENS_HEALTH_TIMEOUT_SECONDS", default=2.0)
# Retry-After (seconds) of the 503 answered while PostgreSQL or Redis cannot be reached.
OUTAGE_RETRY_AFTER_SECONDS = env.int("FAIRLENS_OUTAGE_RETRY_AFTER_SECONDS", default=5)
# Key for pseudonymising prediction ids (HMAC-SHA256). Changing it makes earlier ids unrecognisable, so
# re-sent predictions would count twice and labels could not find their predictions: keep it stable.
FAIRLENS_ID_PEPPER = secret("FAIRLENS_ID_PEPPER", debug=DEBUG)
INGEST_MAX_ROWS = env.int("INGEST_MAX_ROWS", default=50_000)
INGEST_MAX_BODY_BYTES = env.int("INGEST_MAX_BODY_BYTES", default=64 * 1024 * 1024)
# Most columns in a CSV batch (413 beyond, before it is parsed). 0: the fixed columns, the policy's attributes
# and declared features and 64 more, at most 1000. Also the most keys in one prediction's JSON `features`.
INGEST_MAX_COLUMNS = env.int("INGEST_MAX_COLUMNS", default=0)
# How far in the future a prediction timestamp may be (clock skew between client and server).
INGEST_MAX_FUTURE_SECONDS = env.int("INGEST_MAX_FUTURE_SECONDS", default=300)
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
FAIRLENS_ARTIFACT_MAX_BYTES = env.int("FAIRLENS_ARTIFACT_MAX_BYTES", default=100 * 1024 * 1024)

# --- Audit trail and keys --------------------------------------------------------------------------------
# Ed25519 private key (PKCS#8 PEM) that signs audit entries and checkpoints; separate from encryption keys.
AUDIT_SIGNING_KEY = secret("AUDIT_SIGNING_KEY", debug=DEBUG)
# Key (ECDSA P-256 or RSA, PKCS#8 PEM) that signs the PDF documents (PAdES), and its certificate chain (PEM,
# signer first). Without a certificate, a self-signed one named REPORT_SIGNER_NAME is made from the key. Without
# a key (production only; development generates one), PDFs answer 503 and the JSON/CSV bundles still work.
REPORT_SIGNING_KEY = secret("REPORT_SIGNING_KEY", debug=DEBUG, default=None if DEBUG else "")
REPORT_SIGNING_CERT = secret("REPORT_SIGNING_CERT", debug=DEBUG, default="")
REPORT_SIGNER_NAME = env.str("REPORT_SIGNER_NAME", default="FairLens report signing")
# Days stored predictions (individual records with their protected attribute values) are kept; 0 keeps them.
# The hourly rollups stay, so checks, reports and documents of old periods still work; a label for a deleted
# prediction is reported as unknown. A model's Art. 10(5) deletion date deletes all of its predictions.
PREDICTION_RETENTION_DAYS = env.int("PREDICTION_RETENTION_DAYS", default=0)
# How long the deployment keeps the audit log (EU AI Act Art. 19 and 26(6): at least six months). FairLens never
# deletes an audit entry (the runtime database role cannot); the documents state this period.
AUDIT_LOG_RETENTION_DAYS = env.int("AUDIT_LOG_RETENTION_DAYS", default=3650)
if AUDIT_LOG_RETENTION_DAYS < 183:
    raise ImproperlyConfigured("AUDIT_LOG_RETENTION_DAYS must be at least 183 (six months, EU AI Act Art. 19, 26(6)).")
# Name of the log and of its signing key in checkpoints (C2SP tlog-checkpoint origin / signed-note key name).
AUDIT_LOG_ORIGIN = env.str("AUDIT_LOG_ORIGIN", default="fairlens.local/audit")
AUDIT_KEY_NAME = env.str("AUDIT_KEY_NAME", default="fairlens")
# A checkpoint is made when this many entries or minutes have passed since the last one (if anything new).
CHECKPOINT_INTERVAL_ENTRIES = env.int("CHECKPOINT_INTERVAL_ENTRIES", default=1000)
CHECKPOINT_INTERVAL_MINUTES = env.int("CHECKPOINT_INTERVAL_MINUTES", default=5)
# Where checkpoints are anchored outside the database: "simulated_chain" appends to blockchain_anchors.jsonl.
ANCHOR_SINKS = env.list("ANCHOR_SINKS", default=["simulated_chain"])
AUDIT_MIRROR_PATH = env.path("AUDIT_MIRROR_PATH", default=str(VAR_DIR / "compliance_audit_log.jsonl"))
ANCHOR_FILE_PATH = env.path("ANCHOR_FILE_PATH", default=str(VAR_DIR / "blockchain_anchors.jsonl"))
# Where encryption keys come from: "local:" (FERNET_KEYS plus a keyring file under var/), "hcvault://mount/key"
# or "aws-kms://<key arn>" (see compliance/crypto/keyproviders.py).
KEY_PROVIDER_URI = env.str("KEY_PROVIDER_URI", default="local:")
FERNET_KEYRING_PATH = env.path("FERNET_KEYRING_PATH", default=str(VAR_DIR / "keys" / "fernet-keyring.json"))
FAIRLENS_DEMO_PASSWORDS = {
    "admin": env.str("ADMIN_PASSWORD", default="change-me"),
    "auditor": env.str("AUDITOR_PASSWORD", default="change-me"),
    "monitor": env.str("MONITOR_PASSWORD", default="change-me"),
}
FAIRLENS_DEMO_DEFAULT_PASSWORD = "change-me"  # noqa: S105 - the documented demo value, refused when DEBUG is off

# --- Prometheus ----------------------------------------------------------------------------------------------
# /metrics answers only a request with "Authorization: Bearer <METRICS_TOKEN>"; without a token it is not served
# (404). Per-model series (the latest DIR per version and attribute, check lag) are capped at METRICS_MAX_SERIES.
METRICS_TOKEN = secret("METRICS_TOKEN", debug=DEBUG, default="")
METRICS_MAX_SERIES = env.int("METRICS_MAX_SERIES", default=1000)

# --- Checks, alerts and notifications --------------------------------------------------------------------
# Ingestion enqueues at most one near-real-time check per model version per this many seconds.
CHECK_DEBOUNCE_SECONDS = env.int("CHECK_DEBOUNCE_SECONDS", default=60)
# How often beat looks for due scheduled checks and due deliveries.
CHECK_DISPATCH_SECONDS = env.int("CHECK_DISPATCH_SECONDS", default=60)
DELIVERY_SWEEP_SECONDS = env.int("DELIVERY_SWEEP_SECONDS", default=10)
# A check claimed by a worker that then vanished may be taken over after this long.
CHECK_LEASE_SECONDS = env.int("CHECK_LEASE_SECONDS", default=CELERY_TASK_TIME_LIMIT + 60)
# Fault injection for tests only: a claimed check sleeps this long before computing, so a test can kill the
# worker mid-check. Always 0 outside tests.
CHECK_FAULT_DELAY_SECONDS = env.float("CHECK_FAULT_DELAY_SECONDS", default=0.0)
# Alerts resolve by themselves on evidence of compliance, not after a number of passing checks (the former
# ALERT_RESOLVE_AFTER_PASSES is gone; see "What an alert guarantees" in docs/monitoring.md).
# Retraining is requested when the forecast says "retrain" or the evidence holds an alert this many checks.
RETRAIN_AFTER_CHECKS = env.int("RETRAIN_AFTER_CHECKS", default=3)
# Webhook retry schedule (seconds before attempt 1, 2, ...): the Standard Webhooks example schedule.
# WEBHOOK_RETRY_SCALE shrinks it (tests); jitter spreads retries by up to this fraction.
WEBHOOK_RETRY_SCHEDULE = [
    float(value)
    for value in env.list(
        "WEBHOOK_RETRY_SCHEDULE", default=["0", "5", "300", "1800", "7200", "18000", "36000", "50400", "72000", "86400"]
    )
]
WEBHOOK_RETRY_SCALE = env.float("WEBHOOK_RETRY_SCALE", default=1.0)
WEBHOOK_RETRY_JITTER = env.float("WEBHOOK_RETRY_JITTER", default=0.1)
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15.0)
# Plain http:// endpoints only for development and tests; production requires https.
WEBHOOK_ALLOW_INSECURE_HTTP = env.bool("WEBHOOK_ALLOW_INSECURE_HTTP", default=DEBUG)
WEBHOOK_ALLOWED_PORTS = env.list("WEBHOOK_ALLOWED_PORTS", cast=int, default=[443, 8443])
# Exact ip:port pairs a webhook may reach although they are not public (a loopback test receiver, the
# make-run demo receiver). Must be empty in production (a deploy check says so).
WEBHOOK_ALLOWED_PRIVATE_TARGETS = env.list("WEBHOOK_ALLOWED_PRIVATE_TARGETS", default=[])
# E-mail notifications: recipients and the event types they get.
ALERT_EMAIL_TO = env.list("ALERT_EMAIL_TO", default=[])
ALERT_EMAIL_EVENTS = env.list(
    "ALERT_EMAIL_EVENTS", default=["alert.opened", "alert.escalated", "alert.resolved", "retraining.requested"]
)
# Demo mode: the seed's demo endpoints answer anonymous callers (throttled), and make run streams drifting
# predictions for the demo model. Both off unless set; make run turns them on.
FAIRLENS_DEMO_ENDPOINTS = env.bool("FAIRLENS_DEMO_ENDPOINTS", default=False)
FAIRLENS_DEMO_STREAM = env.bool("FAIRLENS_DEMO_STREAM", default=False)
FAIRLENS_DEMO_STREAM_SECONDS = env.int("FAIRLENS_DEMO_STREAM_SECONDS", default=10)
# Seconds the demo drift takes to rise from 0 to its maximum.
FAIRLENS_DEMO_RAMP_SECONDS = env.int("FAIRLENS_DEMO_RAMP_SECONDS", default=180)

CELERY_BEAT_SCHEDULE.update(
    {
        "dispatch-checks": {
            "task": "monitoring.tasks.dispatch_checks_task",
            "schedule": float(CHECK_DISPATCH_SECONDS),
            "options": {"expires": CHECK_DISPATCH_SECONDS},
        },
        # Re-enqueues checks whose worker died past their lease (and an unfinished key re-encryption): beat
        # re-dispatches only the current window, and Redis returns a lost message only after its visibility
        # timeout. So a check completes within CHECK_LEASE_SECONDS plus this interval after a worker is killed.
        "reap-expired-claims": {
            "task": "monitoring.tasks.reap_expired_claims_task",
            "schedule": float(CHECK_DISPATCH_SECONDS),
            "options": {"expires": CHECK_DISPATCH_SECONDS},
        },
        "deliver-due": {
            "task": "alerts.tasks.deliver_due_task",
            "schedule": float(DELIVERY_SWEEP_SECONDS),
            "options": {"expires": DELIVERY_SWEEP_SECONDS},
        },
    }
)
if FAIRLENS_DEMO_STREAM:
    CELERY_BEAT_SCHEDULE["demo-stream"] = {
        "task": "demo.tasks.demo_stream_task",
        "schedule": float(FAIRLENS_DEMO_STREAM_SECONDS),
        "options": {"expires": FAIRLENS_DEMO_STREAM_SECONDS},
    }
