"""Responder settings: one module, configured only through the environment.

Every variable is documented in README.md and .env.example. Without any
variable set this is the embedded default: SQLite under var/, a Celery broker
on the filesystem (no server), console email, DEBUG on.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("RESPONDER_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env(
    DEBUG=(bool, True),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]", "testserver"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    ESCALATION_SWEEP_SECONDS=(float, 10.0),
    ROSTER_SWEEP_SECONDS=(float, 60.0),
    HEARTBEAT_SECONDS=(float, 10.0),
    DELIVERY_STALL_SECONDS=(float, 60.0),
    SLA_PAUSE_LIMIT_HOURS=(float, 72.0),
    WECOM_MESSAGES_PER_MINUTE=(int, 20),
    DINGTALK_MESSAGES_PER_MINUTE=(int, 20),
    FEISHU_MESSAGES_PER_MINUTE=(int, 100),
    HTTPS=(bool, False),
    SECURE_HSTS_SECONDS=(int, 31_536_000),
    HSTS_INCLUDE_SUBDOMAINS=(bool, False),
    HSTS_PRELOAD=(bool, False),
)
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def secret(name: str, default: str | None = None) -> str | None:
    """A secret from the environment: NAME, or the contents of the file NAME_FILE
    (Docker and Kubernetes secrets); never from a file in the repository."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


DEBUG = env("DEBUG")
# The default key is only good for the embedded demo; production must set SECRET_KEY.
EMBEDDED_SECRET_KEY = "insecure-embedded-default-change-me"
SECRET_KEY = secret("SECRET_KEY", default=EMBEDDED_SECRET_KEY)
if not DEBUG:
    from django.core.exceptions import ImproperlyConfigured

    if SECRET_KEY == EMBEDDED_SECRET_KEY:
        raise ImproperlyConfigured("Set SECRET_KEY (or SECRET_KEY_FILE) when DEBUG is off.")
    # Django's own bar (check --deploy, security.W009), enforced: a weak key signs
    # sessions and password-reset links that can be forged.
    if (
        len(SECRET_KEY) < 50
        or len(set(SECRET_KEY)) < 5
        or SECRET_KEY.startswith("django-insecure-")
    ):
        raise ImproperlyConfigured(
            "SECRET_KEY is too weak for DEBUG off: use at least 50 characters with at "
            "least 5 different ones, e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(64))'."
        )
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

# HTTPS=true when Responder is served over TLS (directly or behind a proxy that
# sets X-Forwarded-Proto, with BEHIND_PROXY=true): redirects to https, secure
# cookies and HSTS. `make check-deploy` checks a production configuration.
HTTPS = env("HTTPS")
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = HTTPS
# Django's database sessions, their read written out (common/sessions.py).
SESSION_ENGINE = "common.sessions"
SECURE_HSTS_SECONDS = env("SECURE_HSTS_SECONDS") if HTTPS else 0
# Both commit a whole domain (every subdomain; browsers' built-in lists) for years,
# so each is the operator's decision: off unless asked for. Django's deployment
# check warns when they are off; that warning is silenced only while they are.
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS and env("HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = HTTPS and env("HSTS_PRELOAD")
SILENCED_SYSTEM_CHECKS = [
    check
    for check, chosen in (
        ("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS),
        ("security.W021", SECURE_HSTS_PRELOAD),
    )
    if not chosen
]
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Every page loads scripts, styles and images from this server only, and runs
# no inline script (tests/e2e fail on any violation the browser reports).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI (/api/docs/) sets inline styles while it renders; its scripts stay 'self'.
CONTENT_SECURITY_POLICY_DOCS = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)

INSTALLED_APPS = [
    "config.apps.ResponderAdminConfig",  # django.contrib.admin, administrators only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "common",
    "incidents",
    "escalation",
    "knowledge",
]

MIDDLEWARE = [
    # Compresses pages and API answers for clients that offer gzip (a 100-row
    # dashboard: 117 KB → about 12 KB); Django's includes a BREACH mitigation
    # (random padding). Static files come precompressed from WhiteNoise.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "axes.middleware.AxesMiddleware",
    "incidents.middleware.UserPreferencesMiddleware",
    "common.middleware.RequestSizeLimitMiddleware",
    "common.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The largest request body accepted (413 above it): the longest post-mortem or a
# grouped Alertmanager batch fits many times over.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "escalation.context_processors.unread_notices",
                "incidents.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL is set.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'responder.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers run beside the
    # writer, IMMEDIATE makes each transaction take the write lock up front so
    # two writers queue instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login protection (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for
# one username from one client address, that pair is refused for
# LOGIN_LOCKOUT_MINUTES (429 page). Username and address together: locking a
# username alone would let anyone lock the on-call engineer out mid-incident.
# Admins see and clear lockouts under Axes in /admin/.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's, with the profile, the unread count and the roles in the user's query.
    "config.auth.RequestUserBackend",
    # Only for sessions signed in before the line above; drop it two weeks after.
    "common.auth.ModelBackendWithProfile",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "common.security.client_ip"
AXES_VERBOSE = False

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing folder
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Email: console unless EMAIL_URL is set (e.g. smtp://user:pass@host:587).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Responder <responder@localhost>")

CSRF_FAILURE_VIEW = "common.views.csrf_failure"
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    # Token first: an anonymous request then gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.JSONParser"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Responder API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SeverityEnum": "incidents.models.Severity",
        "StateEnum": "incidents.models.State",
        "SourceEnum": "incidents.models.Source",
        "CategoryEnum": "incidents.models.Category",
        "LogKindEnum": "incidents.models.LogEntry.Kind",
        "AlertStatusEnum": "incidents.models.Alert.Status",
        "ClockEnum": "escalation.models.Clock",
        "DeliveryStatusEnum": "escalation.models.Delivery.Status",
        "PublicStatusEnum": "escalation.status.models.PublicStatus",
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # Session login also works (for the browser); the schema documents the token.
    "AUTHENTICATION_WHITELIST": ["rest_framework.authentication.TokenAuthentication"],
    "DESCRIPTION": (
        "Responder's HTTP API: intake, the process actions of each incident, its "
        "timeline and notices, and monitoring alert intake. Authenticate with a "
        "session or `Authorization: Token <key>` (`manage.py drf_create_token USER`)."
    ),
}

# Celery: Redis when REDIS_URL is set, else kombu's filesystem transport, a
# real broker that needs no server (messages are files under var/celery/).
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_QUEUE_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest countdown (a delivery retry waits up to 600 s) plus
        # the task time limit, so Redis never redelivers a task that is only waiting.
        "visibility_timeout": 3600,
        # A Redis that is down, unreachable or hung must not hold a web request:
        # without these a publish to a dropped or silent host waits minutes.
        "socket_connect_timeout": 0.3,
        "socket_timeout": 2.0,
    }
else:
    for sub in ("out", "processed", "control"):
        (CELERY_QUEUE_DIR / sub).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport, writing each message whole before a worker can
    # see it (config.broker; config.celery_app names it "files").
    CELERY_BROKER_URL = "files://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "out"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "out"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        # The exchange tables (broadcasts such as `celery inspect`), else kombu
        # writes them to control/ in whatever folder the process started in.
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.25,  # the worker looks for new messages 4 times a second
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# Escalation work has its own queues, so a backlog of other jobs never delays
# it, and a backlog of deliveries (a slow mail server) never delays a sweep.
CELERY_TASK_ROUTES = {
    "escalation.tasks.deliver": {"queue": "deliveries"},
    "escalation.tasks.*": {"queue": "escalation"},
}
CELERY_TASK_DEFAULT_QUEUE = "celery"
# acks_late is set per task, only on idempotent ones (deliver); a task lost with
# its worker is redelivered, and the sweep re-queues stalled deliveries anyway.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# With the broker down a publish fails fast (one immediate retry, never a sleep)
# and common.queue.enqueue logs it: the work is in the database, and the beat
# sweep finds it again once the broker is back. The worker and beat keep trying
# to reconnect for as long as it takes, from the first start on.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0  # all connection attempts of one publish together
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # forever (the default, 100, gives up)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
HEARTBEAT_SECONDS = env("HEARTBEAT_SECONDS")
ESCALATION_SWEEP_SECONDS = env("ESCALATION_SWEEP_SECONDS")
ROSTER_SWEEP_SECONDS = env("ROSTER_SWEEP_SECONDS")
# A pending delivery untouched this long (its task lost with a killed worker or
# a flushed broker) is handed to the worker again by the sweep.
DELIVERY_STALL_SECONDS = env("DELIVERY_STALL_SECONDS")
# An incident paused longer than this (wall time) tells its tech leads, once.
SLA_PAUSE_LIMIT_HOURS = env("SLA_PAUSE_LIMIT_HOURS")
# Chat robots refuse more than this many messages a minute (WeCom and DingTalk: 20,
# Feishu's custom bot: 100); the rest wait and go out as one digest next minute.
WECOM_MESSAGES_PER_MINUTE = env("WECOM_MESSAGES_PER_MINUTE")
DINGTALK_MESSAGES_PER_MINUTE = env("DINGTALK_MESSAGES_PER_MINUTE")
FEISHU_MESSAGES_PER_MINUTE = env("FEISHU_MESSAGES_PER_MINUTE")
# Status page subscriptions (escalation.status.subscriptions): a confirmation link
# works this long; subscribing is throttled per address and per client address
# (an hour each), counted in the "status-throttle" cache below. The status sweep
# (escalation.tasks.sweep_status) runs this often.
STATUS_CONFIRM_HOURS = env.float("STATUS_CONFIRM_HOURS", default=48.0)
STATUS_SUBSCRIBE_PER_ADDRESS = env.int("STATUS_SUBSCRIBE_PER_ADDRESS", default=3)
STATUS_SUBSCRIBE_PER_IP = env.int("STATUS_SUBSCRIBE_PER_IP", default=10)
STATUS_SWEEP_SECONDS = env.float("STATUS_SWEEP_SECONDS", default=30.0)
STATUS_THROTTLE_CACHE = "status-throttle"
# The default cache stays per process (the public page keys it by the page's
# version, so that is enough); the subscribe throttle must be one count for every
# web process, so it lives in the database (`manage.py createcachetable`).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Rendered list rows (incidents/fragments.py), in each process's memory: keys
    # carry the incident's version, so nothing is ever stale, only unused. Room for
    # every open incident's row in both languages and several viewers' permissions.
    "fragments": {
        # Not pickled, so only for values nobody changes once stored.
        "BACKEND": "common.memory_cache.MemoryCache",
        "OPTIONS": {"MAX_ENTRIES": 50_000},
    },
    STATUS_THROTTLE_CACHE: {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "status_throttle",
        "KEY_PREFIX": "status",
        # Expired slots are deleted as new ones come; live ones are never culled
        # below this many (Django's default, 300, would forget counts in a flood).
        "OPTIONS": {"MAX_ENTRIES": 200_000},
    },
}
# One publication can mean thousands of mails: they go on the default queue, so
# neither the escalation sweeps nor the notices' deliveries wait behind them.
CELERY_TASK_ROUTES |= {
    "escalation.tasks.status_fan_out": {"queue": "celery"},
    "escalation.tasks.status_send": {"queue": "celery"},
}
# Maintenance windows mirrored as silences in this Alertmanager (empty: off),
# re-checked this often (which also retries failures).
ALERTMANAGER_URL = env.str("ALERTMANAGER_URL", default="").rstrip("/")
ALERTMANAGER_SYNC_SECONDS = env.float("ALERTMANAGER_SYNC_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {
    "record-heartbeat": {
        "task": "escalation.tasks.record_heartbeat",
        "schedule": HEARTBEAT_SECONDS,
    },
    "sweep-due-deadlines": {
        "task": "escalation.tasks.sweep",
        "schedule": ESCALATION_SWEEP_SECONDS,
        # Sweeps queued while the worker was down are dropped once stale (one
        # sweep catches up on everything); the margin covers broker latency.
        "options": {"expires": max(30.0, 3 * ESCALATION_SWEEP_SECONDS)},
    },
    # Duty rosters: a handover notice at each handoff, a coverage-gap notice once.
    "sweep-rosters": {
        "task": "escalation.tasks.sweep_rosters",
        "schedule": ROSTER_SWEEP_SECONDS,
        "options": {"expires": max(30.0, 3 * ROSTER_SWEEP_SECONDS)},
    },
    # Maintenance windows start, end (releasing what they held) and remind; flapping
    # alerts settle.
    "sweep-maintenance": {
        "task": "escalation.tasks.sweep_maintenance",
        "schedule": ESCALATION_SWEEP_SECONDS,
        "options": {"expires": max(30.0, 3 * ESCALATION_SWEEP_SECONDS)},
    },
    # Status page: public updates never handed to the worker, and messages to
    # subscribers whose task was lost, are queued again.
    "sweep-status": {
        "task": "escalation.tasks.sweep_status",
        "schedule": STATUS_SWEEP_SECONDS,
        "options": {"expires": max(30.0, 3 * STATUS_SWEEP_SECONDS)},
    },
    # Alertmanager silences follow the maintenance windows (no-op without ALERTMANAGER_URL).
    "sync-alertmanager-silences": {
        "task": "incidents.tasks.sync_silences",
        "schedule": ALERTMANAGER_SYNC_SECONDS,
        "options": {"expires": max(30.0, 3 * ALERTMANAGER_SYNC_SECONDS)},
    },
}

DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="responder-demo")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
