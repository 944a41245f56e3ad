"""Settings, read from the environment.

The defaults run the demo on one machine with no server of any kind: SQLite, and Celery's filesystem
transport. Production sets ``DEBUG=0``, ``SECRET_KEY``, ``DATABASE_URL`` (PostgreSQL) and
``CELERY_BROKER_URL`` (Redis); with ``DEBUG`` off the app refuses to start on the demo secret key.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

DEMO_SECRET_KEY = "demo-only-secret-key-do-not-use-in-production"  # noqa: S105 - refused when DEBUG is off


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable; anything unrecognised is an error, not a silent default."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a yes/no value (use 1 or 0).")


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def env_networks(name: str, default: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses and CIDR networks; a bad entry is an error that names it."""
    parsed = []
    for entry in env_list(name, default):
        try:
            parsed.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {entry!r} is not an address or network (e.g. 10.0.0.5 or 172.30.18.0/24)."
            ) from None
    return tuple(parsed)


def weak_secret_key(key: str) -> str:
    """Why a secret key is unfit for production (Django's own deploy rule: at least 50 characters, 5
    of them different, not a generated insecure one), or "" when it is fit."""
    if key == DEMO_SECRET_KEY:
        return "SECRET_KEY is the demo key"
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (f"SECRET_KEY is too short or too plain ({len(key)} characters, {len(set(key))} different; "
                f"at least {SECRET_KEY_MIN_LENGTH} and {SECRET_KEY_MIN_UNIQUE_CHARACTERS})")
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return "SECRET_KEY is one Django generated for development (django-insecure-)"
    return ""


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", DEMO_SECRET_KEY)
if not DEBUG and weak_secret_key(SECRET_KEY):
    raise ImproperlyConfigured(
        f"DEBUG is off but {weak_secret_key(SECRET_KEY)}: set SECRET_KEY to a long random value, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# A failed CSRF check tells a participant what to do, in their browser's language (Django's page is for
# developers).
CSRF_FAILURE_VIEW = "studyapp.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "studyapp",
    "traces",
    "analysis",
]

# The admin's messages ride in its session. The default (a signed cookie, falling back to the session)
# builds a cookie signer on every request, participants' pages included, which never show a message.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tracestudy.security_headers.CachedPolicyCSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: answers a locked-out login
]

# Password logins (the admin's and the API's) are limited by django-axes: after LOGIN_FAILURE_LIMIT
# wrong passwords from one address, for one account or many, that address is locked for
# LOGIN_LOCKOUT_MINUTES, without a password being checked meanwhile (no hashing work for a flood).
# Accounts are not locked as a whole: then anyone could lock the admin out from every address with ten
# wrong passwords. (Counting (account, address) pairs as well would change nothing at one limit: a
# pair reaches it only when its address does.)
# A researcher lifts a lockout in the admin (Axes, Access attempts: delete) or with
# `manage.py axes_reset_ip ADDRESS`. Tokens are not limited.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_COOLOFF_TIME = float(os.environ.get("LOGIN_LOCKOUT_MINUTES", "30")) / 60  # hours
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "locked_out.html"
AXES_VERBOSE = False  # no banner on every command; failures and lockouts are still logged

ROOT_URLCONF = "tracestudy.urls"
WSGI_APPLICATION = "tracestudy.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # Django's cached loader, one compiled template per language with its fixed translations
            # folded into the text (tracestudy/translated_templates.py).
            "loaders": [
                (
                    "tracestudy.translated_templates.Loader",
                    [
                        "django.template.loaders.filesystem.Loader",
                        "django.template.loaders.app_directories.Loader",
                    ],
                )
            ],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
on_postgresql = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if on_postgresql and env_bool("DB_PREPARED_STATEMENTS", True):
    # Parameters bound by the server, and statements a connection has run twice kept prepared there:
    # the participant pages repeat the same few statements, and parsing and planning them again was
    # a third of PostgreSQL's CPU in bench/participants.py. Turn off behind a pooler in transaction
    # mode that cannot carry prepared statements (PgBouncer before 1.21).
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 2}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock up front, so concurrent writers wait for
    # each other (up to the busy timeout, in seconds) instead of failing with "database is locked"
    # half-way through a page's answers. The write-ahead log lets pages read while a participant's
    # answers are written, and a commit needs no fsync (synchronous=NORMAL; a power cut may lose the
    # last commits, never corrupt the file): in the default rollback journal every reader held up
    # every writer, and a burst of 104 arrivals on a busy machine waited out the timeout (500s).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE", "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
    VAR_DIR.mkdir(parents=True, exist_ok=True)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Participants read the study in one of LANGUAGES (studyapp.languages: the study link's lang, else the
# browser's, among those the study offers), activated per request in the participant pages only: there
# is no LocaleMiddleware, so the admin, the monitor and the report stay in English and study links keep
# no language prefix. The catalogs (locale/<code>/LC_MESSAGES/django.po, compiled .mo) are committed.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "German")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "tracestudy.staticfiles.ManifestStaticStorage"  # WhiteNoise's, URLs kept per process
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "api:root"  # after signing in to the browsable API without a ?next=

# The researchers' API: token authentication for scripts, the session for the browsable API; who may
# read a study's data is decided per view (staff or the researchers group).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "studyapp.tokens.StudyTokenAuthentication",  # scoped tokens (tss_...): studyapp.access limits them
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trace study API",
    "DESCRIPTION": "Exports of a study's participants, responses, page times and codebook.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # one name for the design wherever it appears (the participants' rows, the codebook)
    "ENUM_NAME_OVERRIDES": {"StudyDesignEnum": "studyapp.models.Study.Design"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums", "studyapp.api_schema.add_error_responses",
    ],
    # Swagger UI and Redoc served from the sidecar package: no CDN is reachable from a study server.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
RESEARCHERS_GROUP = os.environ.get("RESEARCHERS_GROUP", "researchers")

# Security headers, in every mode (the tests and the demo run under them too). Content-Security-Policy
# (django-csp): scripts only from this server, nothing framed, forms posted here only; inline style
# attributes are allowed (Django's admin and Swagger UI use them), inline scripts are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF], "script-src": [SELF], "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"], "font-src": [SELF], "connect-src": [SELF], "form-action": [SELF],
        "frame-ancestors": [NONE], "base-uri": [SELF], "object-src": [NONE],
    },
}
# Permissions-Policy (django-permissions-policy): no page here needs a device or sensor.
PERMISSIONS_POLICY = {
    feature: [] for feature in (
        "accelerometer", "camera", "display-capture", "geolocation", "gyroscope", "magnetometer",
        "microphone", "payment", "usb", "browsing-topics",
    )
}
# HSTS: browsers keep to HTTPS for a year once they have seen the site over HTTPS (Django sends the
# header on HTTPS responses only); HSTS_SECONDS=0 turns it off.
SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "0" if DEBUG else str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = False

# Cookies travel over HTTPS only in production, unless told otherwise (a benchmark over plain HTTP).
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
BEHIND_HTTPS_PROXY = env_bool("BEHIND_HTTPS_PROXY", False)
if BEHIND_HTTPS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The proxies whose X-Forwarded-For is believed (studyapp.client_address): any other peer is counted
# at its own address, whatever it writes there. gunicorn refuses to listen beyond loopback behind the
# proxy setting while only loopback is trusted (gunicorn.conf.py).
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES", "127.0.0.1,::1")

# Celery. The demo's filesystem transport needs no server; production uses Redis.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _celery_queue_dir = VAR_DIR / "celery"
    _celery_queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_queue_dir),
        "data_folder_out": str(_celery_queue_dir),
        "control_folder": str(_celery_queue_dir / "control"),  # else "control/" in the working directory
    }
CELERY_TASK_IGNORE_RESULT = True
# Model jobs run for minutes to hours on a GPU worker: one at a time per process, acknowledged only
# when finished (a killed worker's job is delivered again), never prefetched by a busy worker.
CELERY_TASK_ROUTES = {
    "traces.run_job": {"queue": "gpu"}, "traces.reap_jobs": {"queue": "celery"},
    "studyapp.sync_prolific": {"queue": "celery"}, "studyapp.send_prolific_action": {"queue": "celery"},
    "studyapp.run_pilot": {"queue": "celery"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Recycle worker processes now and then so that leaked host or GPU memory is returned.
CELERY_WORKER_MAX_TASKS_PER_CHILD = int(os.environ.get("CELERY_WORKER_MAX_TASKS_PER_CHILD", "50"))
# Redis redelivers an unacknowledged job after this long: longer than the longest job, or a job
# still running would be started twice. A killed worker's job comes back after it (or re-run it).
CELERY_VISIBILITY_TIMEOUT_S = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT_S", str(24 * 3600)))
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT_S}
# How long launching a job waits for the broker before saying it is down (nothing is saved then).
CELERY_BROKER_CONNECT_TIMEOUT_S = float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT_S", "3"))
# Jobs that outlive their workers (traces.lifecycle): a running job's worker beats every
# JOB_HEARTBEAT_S; the reaper, a Celery beat task every JOB_REAP_EVERY_S on the default queue, marks a
# job silent for JOB_LOST_AFTER_S as lost, sends again a job queued for JOB_REQUEUE_AFTER_S whose
# message Redis no longer holds, and sends a job never sent JOB_REQUEUE_AFTER_S after it was made.
# Run beat once: ``celery -A tracestudy worker -B -Q celery``.
JOB_HEARTBEAT_S = float(os.environ.get("JOB_HEARTBEAT_S", "15"))
JOB_LOST_AFTER_S = float(os.environ.get("JOB_LOST_AFTER_S", "180"))
JOB_REQUEUE_AFTER_S = float(os.environ.get("JOB_REQUEUE_AFTER_S", "300"))
JOB_REAP_EVERY_S = float(os.environ.get("JOB_REAP_EVERY_S", "60"))
# Prolific sync (studyapp.prolific_sync): every PROLIFIC_SYNC_EVERY_S, each study that names its Prolific
# study is checked against its submissions there (needs PROLIFIC_API_TOKEN; the scheduler runs it).
PROLIFIC_SYNC_EVERY_S = float(os.environ.get("PROLIFIC_SYNC_EVERY_S", "60"))
# With a token, a new arrival to a study that names its Prolific study is checked at the door: its
# SESSION_ID must be an active submission of that study by that participant (studyapp.prolific_sync).
# The check is inside the participant's request, so it is short: one attempt of at most
# PROLIFIC_DOOR_TIMEOUT_S, no 429 waited out, at most PROLIFIC_DOOR_CHECKS_AT_ONCE in flight on the site
# (keep it below the web workers), and none for PROLIFIC_DOOR_PAUSE_S (or Prolific's Retry-After) after
# Prolific failed to answer. Arrivals not checked get in unverified; the sync checks them.
PROLIFIC_API_TOKEN_SET = bool(os.environ.get("PROLIFIC_API_TOKEN"))
PROLIFIC_DOOR_TIMEOUT_S = float(os.environ.get("PROLIFIC_DOOR_TIMEOUT_S", "2"))
PROLIFIC_DOOR_CHECKS_AT_ONCE = int(os.environ.get("PROLIFIC_DOOR_CHECKS_AT_ONCE", "1"))
PROLIFIC_DOOR_PAUSE_S = float(os.environ.get("PROLIFIC_DOOR_PAUSE_S", "60"))
CELERY_BEAT_SCHEDULE = {
    "reap-jobs": {"task": "traces.reap_jobs", "schedule": JOB_REAP_EVERY_S},
    "sync-prolific": {"task": "studyapp.sync_prolific", "schedule": PROLIFIC_SYNC_EVERY_S},
}

# Where fine-tuning jobs write their checkpoints (a disk the GPU workers share).
CHECKPOINT_DIR = Path(os.environ.get("CHECKPOINT_DIR", VAR_DIR / "checkpoints"))

# The cache: per-process memory for the demo; a shared Redis in production (CACHE_URL), so that limits
# counted in it (new arrivals per address) hold across every web worker.
_cache_url = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
        if _cache_url.startswith(("redis://", "rediss://"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
if _cache_url and not _cache_url.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"CACHE_URL={_cache_url!r} is not a redis:// URL.")
# New arrivals (first visits of a Prolific ID) per client address: django-ratelimit's "count/period"
# (s, m, h, d). Returning participants are never limited. Load benchmarks raise it.
ARRIVAL_RATE_LIMIT = os.environ.get("ARRIVAL_RATE_LIMIT", "10/h")
# Where the client's address is read (django-ratelimit's RATELIMIT_IP_META_KEY): REMOTE_ADDR, or
# behind the HTTPS proxy the address a trusted proxy appended to X-Forwarded-For, else every
# participant would share the proxy's address and its limit. A header name (HTTP_X_REAL_IP) or a
# dotted path to a function of the request may be set instead.
RATELIMIT_IP_META_KEY = os.environ.get(
    "RATELIMIT_IP_META_KEY",
    "studyapp.client_address.forwarded_by_proxy" if BEHIND_HTTPS_PROXY else "REMOTE_ADDR",
)
# Login lockouts count the same address (behind the proxy, the one it forwards).
AXES_CLIENT_IP_CALLABLE = "studyapp.client_address.forwarded_by_proxy" if BEHIND_HTTPS_PROXY else None

# Prolific: where participants are sent back with their completion code.
PROLIFIC_COMPLETION_URL = os.environ.get(
    "PROLIFIC_COMPLETION_URL", "https://app.prolific.com/submissions/complete"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
