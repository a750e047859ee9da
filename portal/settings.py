"""Steady settings. Every deploy value comes from the environment; the defaults run the demo.

Demo defaults: SQLite file, tasks run in process (no broker), email printed to the console.
Production: set DEBUG=false, SECRET_KEY, DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis),
EMAIL_URL (SMTP), ALLOWED_HOSTS and SITE_URL.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from portal.lib.crypto import MasterKeyError, parse_master_keys
from portal.lib.sshsig import (
    SigningKeyError,
    check_signer_identity,
    parse_signing_keys,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _env(read, name, **kwargs):
    """Read one variable, turning an unparsable value into a start-up error that names it."""
    try:
        return read(name, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"Environment variable {name} is not valid: {exc}"
        ) from exc


# --- Core -------------------------------------------------------------------------------------
DEVELOPMENT_SECRET_KEY = "steady-development-only-secret-key-do-not-use-in-production"  # noqa: S105

DEBUG = _env(env.bool, "DEBUG", default=True)
SECRET_KEY = _env(env.str, "SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development default while DEBUG is off; set SECRET_KEY to a long random value."
    )
ALLOWED_HOSTS = _env(
    env.list, "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = _env(env.list, "CSRF_TRUSTED_ORIGINS", default=[])
# The absolute address of the portal, used for links in email (no request is at hand in a worker).
SITE_URL = _env(env.str, "SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "guardian",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal.accounts",
    "portal.audit",
    "portal.projects",
    "portal.notices",
    "portal.roster",
    "portal.scrutiny",
    "cases",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After allauth's: caseworkers and staff without an authenticator app are sent to enrolment.
    "portal.accounts.mfa.SecondFactorGateMiddleware",
]

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
                "portal.accounts.context_processors.roles",
                "portal.accounts.context_processors.second_factor",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": _env(
        env.db_url, "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    ),
}
if DATABASES["default"].get("ENGINE") not in {
    "django.db.backends.postgresql",
    "django.db.backends.sqlite3",
}:
    raise ImproperlyConfigured(
        "DATABASE_URL must be a postgres:// or sqlite:/// URL; Steady supports PostgreSQL and SQLite."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The test database is a file, not shared-cache memory: the real Celery worker in the tests
    # writes from its own thread, and only a file database waits for a lock instead of failing.
    DATABASES["default"].setdefault("TEST", {"NAME": str(BASE_DIR / "test-db.sqlite3")})
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Accounts ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "portal.accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Steady] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
# Authenticator apps (TOTP) with recovery codes; caseworkers and staff must enrol before case work
# (the gate in portal/accounts/mfa.py). allauth signs in anyone enrolled with a code.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Steady"
# Guardian's anonymous-user row is not used: anonymous visitors never hold object permissions.
ANONYMOUS_USER_NAME = None

# --- Cache -----------------------------------------------------------------------------------
# allauth keeps its rate limits (sign-in, codes) and its record of used one-time codes here, so in
# production every web process must share one cache: a process-local one would let an attacker
# multiply the rate limits by the process count and replay a TOTP code on another process.
try:
    CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
except (ImproperlyConfigured, ValueError) as exc:
    raise ImproperlyConfigured(
        f"Environment variable CACHE_URL is not valid: {exc}"
    ) from exc
PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
if not DEBUG and CACHES["default"]["BACKEND"] in PROCESS_LOCAL_CACHES:
    raise ImproperlyConfigured(
        "CACHE_URL is a process-local cache while DEBUG is off; rate limits and one-time-code "
        "replay protection need a cache every process shares: set CACHE_URL=redis://host:6379/1."
    )

# --- Celery -----------------------------------------------------------------------------------
# Without a broker the demo runs every task in process, right after the transaction commits.
CELERY_BROKER_URL = _env(env.str, "CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = _env(env.str, "CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = _env(env.str, "CELERY_QUEUE", default="steady")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Retries are scheduled in the database (Delivery.next_attempt_at), never as broker ETAs, so the
# Redis visibility timeout only decides how soon a killed worker's unacknowledged task returns.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _env(env.int, "CELERY_VISIBILITY_TIMEOUT", default=3600)
}
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-deliveries": {
        "task": "portal.notices.tasks.requeue_stale_deliveries_task",
        "schedule": 300.0,
    },
    "dispatch-due-deliveries": {
        "task": "portal.notices.tasks.dispatch_due_deliveries_task",
        "schedule": 30.0,
    },
    "apply-due-revisions": {
        "task": "portal.notices.tasks.apply_due_revisions_task",
        "schedule": 300.0,
    },
    "warn-first-response": {
        "task": "cases.tasks.warn_first_response_task",
        "schedule": 300.0,
    },
    # Steward assignments: end those whose period is over; remind once a week before an end.
    "remind-assignment-endings": {
        "task": "cases.tasks.remind_assignment_endings_task",
        "schedule": 3600.0,
    },
    # Roster: a steward and the caseworkers hear once, 30 days before a vetting expires.
    "remind-vetting-expiry": {
        "task": "portal.roster.tasks.remind_expiring_vetting_task",
        "schedule": 3600.0,
    },
}

# --- Email ------------------------------------------------------------------------------------
vars().update(_env(env.email_url, "EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = _env(
    env.str, "DEFAULT_FROM_EMAIL", default="Steady <noreply@steady.localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A stuck SMTP server must not hold a worker (and its claimed delivery) for long.
EMAIL_TIMEOUT = _env(env.int, "EMAIL_TIMEOUT", default=30)

# --- Static files (served by the portal itself through whitenoise; no CDN) ---------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = _env(env.bool, "WHITENOISE_USE_FINDERS", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _env(env.bool, "SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https")
    if _env(env.bool, "BEHIND_TLS_PROXY", default=False)
    else None
)

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging: never case text; the console handler is enough for the demo and for containers ----
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": _env(env.str, "LOG_LEVEL", default="INFO"),
    },
}

# --- Case encryption at rest -----------------------------------------------------------------
# CASE_MASTER_KEYS="2:NEWKEY,1:OLDKEY": the first is current; older ones only for rotation.
# Generate one with `python manage.py generate_master_key`.
DEVELOPMENT_MASTER_KEY = "1:c3RlYWR5LWRldmVsb3BtZW50LW9ubHktbWFzdGVyLWs"  # noqa: S105
_master_keys_text = _env(env.str, "CASE_MASTER_KEYS", default=DEVELOPMENT_MASTER_KEY)
try:
    CASE_MASTER_KEY_VERSION, CASE_MASTER_KEYS = parse_master_keys(_master_keys_text)
except MasterKeyError as exc:
    raise ImproperlyConfigured(
        f"Environment variable CASE_MASTER_KEYS is not valid: {exc}"
    ) from exc
if not DEBUG and DEVELOPMENT_MASTER_KEY.split(":", 1)[1] in _master_keys_text:
    raise ImproperlyConfigured(
        "CASE_MASTER_KEYS contains the development master key while DEBUG is off; "
        "generate one with `python manage.py generate_master_key`."
    )

# --- Cases ----------------------------------------------------------------------------------
# Hours until a first response is due, by urgency (1 critical, 2 high, 3 normal, 4 low).
FIRST_RESPONSE_HOURS = {
    1: _env(env.int, "SLA_CRITICAL_HOURS", default=4),
    2: _env(env.int, "SLA_HIGH_HOURS", default=24),
    3: _env(env.int, "SLA_NORMAL_HOURS", default=72),
    4: _env(env.int, "SLA_LOW_HOURS", default=168),
}
# Caseworkers are warned once when less than this share of a case's window is left, once more
# when it has run out (cases.services.warn_first_response, every five minutes).
SLA_DUE_SOON_FRACTION = _env(env.float, "SLA_DUE_SOON_FRACTION", default=0.25)
if not 0 < SLA_DUE_SOON_FRACTION < 1:
    raise ImproperlyConfigured(
        "Environment variable SLA_DUE_SOON_FRACTION must be between 0 and 1, e.g. 0.25."
    )
# Sealed attachment files live here, outside STATIC_ROOT and any other served path.
ATTACHMENT_ROOT = _env(
    env.path, "ATTACHMENT_ROOT", default=str(BASE_DIR / "var" / "attachments")
)
ATTACHMENT_MAX_BYTES = _env(env.int, "ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# Uploads never touch the disk unsealed: kept in memory, bounded by ATTACHMENT_MAX_BYTES.
FILE_UPLOAD_HANDLERS = ["cases.upload_handlers.BoundedMemoryUploadHandler"]
# No form takes more than one file: a request cannot make the portal hold more than one.
DATA_UPLOAD_MAX_NUMBER_FILES = 1

# --- Steady -----------------------------------------------------------------------------------
# How long a subscriber has to click the confirmation link.
SUBSCRIPTION_CONFIRM_MAX_AGE = _env(
    env.int, "SUBSCRIPTION_CONFIRM_MAX_AGE", default=3 * 24 * 3600
)
DELIVERY_MAX_ATTEMPTS = _env(env.int, "DELIVERY_MAX_ATTEMPTS", default=8)

# --- Notices: signing, transparency log, delivery ----------------------------------------------
# NOTICE_SIGNING_KEYS="2027-01-01:NEWSEED,2026-01-01..2027-03-01:OLDSEED": Ed25519 seeds (base64),
# each with the period it is valid in; the first signs, the others stay in allowed_signers.
# Make one with `python manage.py generate_signing_key`.
DEVELOPMENT_SIGNING_KEY = "2026-01-01:c3RlYWR5LWRldmVsb3BtZW50LW5vdGljZS1zaWduaW4="  # noqa: S105
_signing_keys_text = _env(
    env.str, "NOTICE_SIGNING_KEYS", default=DEVELOPMENT_SIGNING_KEY
)
try:
    NOTICE_SIGNING_KEYS = parse_signing_keys(_signing_keys_text)
except SigningKeyError as exc:
    raise ImproperlyConfigured(
        f"Environment variable NOTICE_SIGNING_KEYS is not valid: {exc}"
    ) from exc
if not DEBUG and DEVELOPMENT_SIGNING_KEY.split(":", 1)[1] in _signing_keys_text:
    raise ImproperlyConfigured(
        "NOTICE_SIGNING_KEYS contains the development signing key while DEBUG is off; "
        "generate one with `python manage.py generate_signing_key`."
    )
# The principal in allowed_signers: `ssh-keygen -Y verify -I` takes it.
NOTICE_SIGNER_IDENTITY = _env(
    env.str, "NOTICE_SIGNER_IDENTITY", default="notices@steady.localhost"
)
try:
    check_signer_identity(NOTICE_SIGNER_IDENTITY)
except SigningKeyError as exc:
    raise ImproperlyConfigured(
        f"Environment variable NOTICE_SIGNER_IDENTITY is not valid: {exc}"
    ) from exc
NOTICE_LOG_ORIGIN = _env(
    env.str, "NOTICE_LOG_ORIGIN", default="steady.localhost/notices-log"
)
# Days a revision that adds a steward, key or release channel without the outgoing maintainer's
# recorded consent waits before it takes effect.
NOTICE_OBJECTION_DAYS = _env(env.int, "NOTICE_OBJECTION_DAYS", default=21)
# A claim older than this belongs to a worker that died mid-send (sends are killed at 300 s).
DELIVERY_STALE_CLAIM_SECONDS = _env(
    env.int, "DELIVERY_STALE_CLAIM_SECONDS", default=900
)
WEBHOOK_TIMEOUT = _env(env.float, "WEBHOOK_TIMEOUT", default=15.0)
# Tests only: let webhooks reach 127.0.0.1 and trust a test CA. Never set these in production.
WEBHOOK_ALLOW_LOOPBACK = _env(env.bool, "WEBHOOK_ALLOW_LOOPBACK", default=False)
WEBHOOK_CA_FILE = _env(env.str, "WEBHOOK_CA_FILE", default="") or None
if not DEBUG and WEBHOOK_ALLOW_LOOPBACK:
    raise ImproperlyConfigured(
        "WEBHOOK_ALLOW_LOOPBACK is on while DEBUG is off; it exists for tests only."
    )

# --- JSON API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "portal.notices.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Steady handover notices API",
    "DESCRIPTION": (
        "Public, read-only handover notices. Every revision's canonical JSON is signed by the "
        "foundation (SSH signature, namespace steady-notice) and recorded in an RFC 6962 "
        "transparency log."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The API docs page is served from our own static files: no CDN (strict CSP).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
