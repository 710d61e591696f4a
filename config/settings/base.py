"""Settings shared by every environment, read from the environment through django-environ.

Defaults work on a laptop with no servers: SQLite, a file-system Celery broker and a file cache.
Set DATABASE_URL and REDIS_URL to use PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    # django.contrib.admin with the two-factor site as admin.site (accounts/admin_site.py).
    "accounts.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_fsm",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Before axes: its receivers log a failed login before axes counts it (accounts/receivers.py).
    "accounts.apps.AccountsConfig",
    "axes",
    "common",
    "agencies",
    "applicants",
    "cards",
    "privacy",
    "demo",
]

MIDDLEWARE = [
    "common.requestid.RequestIdMiddleware",
    "common.metrics.MetricsMiddleware",
    "common.health.DirectEndpointsMiddleware",
    # Outside the session middleware: it sees the session cookie a login sets.
    "common.routers.ReplicaRoutingMiddleware",
    "common.crypto.SubjectKeysOnceMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

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
            ],
        },
    },
    {
        # The public status page only (cards/jinja2/): see common/jinja2.py.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "APP_DIRS": True,
        "OPTIONS": {"environment": "common.jinja2.environment"},
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# A persistent connection killed meanwhile (a restart, a failover, pg_terminate_backend) is tested
# before its first use in each request and replaced, instead of failing that request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Behind a transaction-pooling PgBouncer a server-side cursor cannot outlive its transaction.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
)
# No request holds a worker or a lock longer than these (README "Operations"); a sweep batch
# takes a longer statement timeout for its own transaction (cards/tasks.py).
DATABASE_STATEMENT_TIMEOUT_MS = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=20000)
DATABASE_LOCK_TIMEOUT_MS = env.int("DATABASE_LOCK_TIMEOUT_MS", default=5000)
SWEEP_STATEMENT_TIMEOUT_MS = env.int("SWEEP_STATEMENT_TIMEOUT_MS", default=300000)


def _postgresql_options(database: dict) -> None:
    # Django turns psycopg's prepared statements off. Its own cursors bind on the client and never
    # prepare anyway; the only server-binding cursors are common/prepared.py's hot reads, which
    # are prepared at their first use on a connection.
    options = database.setdefault("OPTIONS", {})
    options.setdefault("prepare_threshold", 0)
    # Session defaults sent at connect (libpq `options`). Behind PgBouncer, which ignores this
    # startup parameter, the same values are set on the database role (docker-compose.yml).
    options.setdefault(
        "options",
        f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS} "
        f"-c lock_timeout={DATABASE_LOCK_TIMEOUT_MS}",
    )


if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _postgresql_options(DATABASES["default"])

# A streaming replica for reads that may lag a little (common/routers.py): the status page, the
# API's GETs, the admin's lists. Reads that must see the caller's own write, and every read while
# the replica lags more than DATABASE_REPLICA_MAX_LAG_SECONDS, go to the primary.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=5.0)
# After a client's write, its reads stay on the primary this long (its session or API key).
DATABASE_READ_YOUR_WRITES_SECONDS = env.float("DATABASE_READ_YOUR_WRITES_SECONDS", default=10.0)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASES["default"][
        "DISABLE_SERVER_SIDE_CURSORS"
    ]
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    _postgresql_options(DATABASES["replica"])
    # A replica that does not answer is given up quickly: the reads go to the primary.
    DATABASES["replica"]["OPTIONS"].setdefault("connect_timeout", 2)
    DATABASE_ROUTERS = ["common.routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The database's two roles (common/db_roles.py, `manage.py setup_db_roles`): the owner runs
# migrations; the service role, which the application connects as, owns nothing and may only
# SELECT and INSERT the append-only tables. Empty names: `<database>_owner`, `<database>_app`.
DB_OWNER_ROLE = env("DB_OWNER_ROLE", default="")
DB_SERVICE_ROLE = env("DB_SERVICE_ROLE", default="")
DB_OWNER_PASSWORD = env("DB_OWNER_PASSWORD", default="")
DB_SERVICE_PASSWORD = env("DB_SERVICE_PASSWORD", default="")
DB_APPEND_ONLY_TABLES = ["cards_cardtransition"]

REDIS_URL = env("REDIS_URL", default="")

# Encryption at rest of personal fields (common/crypto.py; README, "Security: keys and rotation"):
# "kid:base64key,..." with the current key first (16 bytes: SM4-GCM, 32 bytes: AES-256-GCM), and
# the blind indexes' own key (base64, 32 bytes or more). Empty here; local and test settings use
# the fixed development keys below, production refuses to start without real ones.
FIELD_ENCRYPTION_KEYS = env("FIELD_ENCRYPTION_KEYS", default="")
FIELD_BLIND_INDEX_KEY = env("FIELD_BLIND_INDEX_KEY", default="")
DEV_FIELD_ENCRYPTION_KEYS = (
    "dev1:ZGV2LW9ubHktc200LWtleQ=="  # 16 bytes, SM4-GCM: public, never for real data
)
DEV_FIELD_ENCRYPTION_KEYS_AES = (
    "dev1a:ZGV2LW9ubHktYWVzLTI1Ni1nY20ta2V5LTMyYnl0ZXM="  # 32 bytes, where OpenSSL has no SM4
)
DEV_FIELD_BLIND_INDEX_KEY = "ZGV2LW9ubHktYmxpbmQtaW5kZXgta2V5LTMyYnl0ZXM="


if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "common.cache.TimedRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "shebao",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "common.cache.TimedFileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Logins (accounts/) -------------------------------------------------------------------------
# django-axes first: it refuses a locked-out username or address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lock out a username (from any address) and, separately, an address (for any username) after
# LOGIN_FAILURE_LIMIT failed logins (a wrong password or a wrong authenticator code), for
# LOGIN_LOCKOUT_MINUTES after the last failure; a security administrator lifts a lockout earlier
# (admin: Access attempts, delete; or `manage.py axes_reset_username NAME`).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_CLIENT_IP_CALLABLE = "accounts.services.request_client_ip"
AXES_DISABLE_ACCESS_LOG = True  # the login log is accounts.LoginEvent
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_LOCKOUT_TEMPLATE = "admin/accounts/locked_out.html"
AXES_VERBOSE = False
# Idle sessions end after SESSION_IDLE_MINUTES without a request (sliding: each request
# restarts the clock; accounts.middleware.IdleTimeoutMiddleware), and when the browser closes.
# The stored session itself expires as long after the last request.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=15)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Saving the session on every request (the sliding timeout) is a Redis SET, not a database write.
if REDIS_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
# The login log (accounts.LoginEvent) is kept this long, then purged by beat. Cybersecurity Law
# art. 21 asks at least six months.
LOGIN_AUDIT_RETENTION_DAYS = env.int("LOGIN_AUDIT_RETENTION_DAYS", default=365)
if LOGIN_AUDIT_RETENTION_DAYS < 183:
    raise ImproperlyConfigured("LOGIN_AUDIT_RETENTION_DAYS must be at least 183 (six months).")
# The retention schedule of personal data (PIPL art. 47; privacy/retention.py, README "Retention"):
# a person with no card and no activity for N years, or whose every card closed M years ago, is
# anonymised by beat. Card-less: an application never made, an enquiry; closed cards: the period
# in which a dispute or an audit of a card may still come up.
RETENTION_CARDLESS_YEARS = env.int("RETENTION_CARDLESS_YEARS", default=3)
RETENTION_CLOSED_CARD_YEARS = env.int("RETENTION_CLOSED_CARD_YEARS", default=10)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
if min(RETENTION_CARDLESS_YEARS, RETENTION_CLOSED_CARD_YEARS) < 1:
    raise ImproperlyConfigured("The retention periods are at least one year.")
# The personal-data logs (privacy.PersonalDataAccess, the read log; privacy.PersonChange, the
# change audit) are kept this long, then deleted by the same daily run: PIPL art. 56 asks the
# records of processing be kept at least three years (the Cybersecurity Law art. 21, audit logs
# at least six months).
PERSONAL_DATA_LOG_RETENTION_YEARS = env.int("PERSONAL_DATA_LOG_RETENTION_YEARS", default=3)
if PERSONAL_DATA_LOG_RETENTION_YEARS < 3:
    raise ImproperlyConfigured("PERSONAL_DATA_LOG_RETENTION_YEARS is at least 3 (PIPL art. 56).")
# The issuer shown in authenticator apps next to the username.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Shebao back office")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Chinese by default, English available; every date and time is shown in Shanghai time.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Plain text on a laptop, one JSON object per line in production (common/logging.py); every line
# carries the request id, which follows a request into the tasks it queues (common/requestid.py).
LOG_FORMAT = env("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "common.requestid.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "common.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Celery -----------------------------------------------------------------------------------
# Redis when REDIS_URL is set; otherwise kombu's file-system transport, which needs no server and
# still lets a separate worker and beat process share one queue.
# kombu's Redis transport redelivers an unacknowledged message only after the visibility timeout,
# scanning for such messages every `unacked_restore_interval` seconds. Task time limits stay under
# the visibility timeout, so a running task is never redelivered to a second worker.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
if REDIS_URL:
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": 1,
    }
else:
    _broker_dir = VAR_DIR / "celery-broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        # Its exchange table, which kombu otherwise writes to ./control in the project root.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Beat saves each entry's last run after every task it sends, so /health/ready/ can tell that
# beat is alive within two intervals (django-celery-beat would otherwise save every 3 minutes).
CELERY_BEAT_SYNC_EVERY = 1
# A worker's main process serves its pool's metrics on this port (0: none; common/metrics.py).
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task modules that are not an app's tasks.py (which autodiscovery finds).
CELERY_IMPORTS = ("cards.webhooks", "cards.cardcenter", "cards.electronic")
# Acknowledge after the task ran, and requeue it if its pool process is killed: a sweep killed
# mid-way runs again (it is idempotent: it takes only what is still due).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 1500
CELERY_TASK_TIME_LIMIT = 1800  # < CELERY_VISIBILITY_TIMEOUT
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Deliveries leave by their own queues (WEBHOOK_QUEUE, CARD_CENTER_QUEUE, defined below), consumed
# by their own worker (Procfile `deliveries`), so that no sweep waits on an endpoint and back.
CELERY_TASK_ROUTES = {
    "cards.webhooks.*": {"queue": env("WEBHOOK_QUEUE", default="webhooks")},
    "cards.cardcenter.*": {"queue": env("CARD_CENTER_QUEUE", default="cardcenter")},
    "cards.electronic.*": {"queue": env("NATIONAL_PLATFORM_QUEUE", default="cardcenter")},
}

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Shanghai social security card back office: partner bank API",
    "VERSION": "1.1.0",
    "DESCRIPTION": (
        "One language per response, chosen by `Accept-Language`: Chinese (`zh-Hans`, the "
        "default) or English (`en`); `message` and `details` alike, named in `Content-Language`. "
        "Every time, in cards and events alike, is UTC in one format: "
        "`2026-03-02T01:30:00.000000Z` (microseconds, `Z`). Every POST takes an "
        "`Idempotency-Key`; only a request that acted (2xx) consumes it."
    ),
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cards.api.schema.add_links",  # OpenAPI links between operations
    ],
    "ENUM_NAME_OVERRIDES": {
        "CardStatusEnum": "cards.choices.CardStatus",
        "CardTypeEnum": "cards.choices.CardType",
        "ChannelEnum": "cards.choices.Channel",
        "BankChannelEnum": "cards.api.serializers.BANK_CHANNELS",
        "TransitionNameEnum": "cards.choices.TransitionName",
        "ActorKindEnum": "cards.choices.ActorKind",
        "IdDocumentTypeEnum": "applicants.choices.IdDocumentType",
        "SexEnum": "applicants.choices.Sex",
        "EmployerKindEnum": "applicants.choices.EmployerKind",
        # A card's functions (issue #17) and the events of them beside the transitions.
        "FinancialStatusEnum": "cards.choices.FinancialStatus",
        "FeeStatusEnum": "cards.choices.FeeStatus",
        "ElectronicCardStatusEnum": "cards.choices.ElectronicCardStatus",
        "EventTransitionEnum": "cards.api.serializers.EVENT_TRANSITIONS",
        "EventStateEnum": "cards.api.serializers.EVENT_STATES",
    },
}

# --- The partner-bank API (cards/api/) ------------------------------------------------------------
# Requests per API key per window (fixed windows in Redis, common/ratelimit.py), then 429.
API_KEY_RATE_LIMIT = env.int("API_KEY_RATE_LIMIT", default=1200)
API_KEY_RATE_WINDOW = timedelta(seconds=env.int("API_KEY_RATE_WINDOW_SECONDS", default=60))
# The city's online service platform's key (agencies.PlatformApiKey), per API_KEY_RATE_WINDOW: it
# serves the whole city's online applicants, so its own figure.
API_PLATFORM_RATE_LIMIT = env.int("API_PLATFORM_RATE_LIMIT", default=3000)
# Deeper JSON bodies answer 400 (common.api.DepthLimitedJSONParser).
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
# Failed authentications per client address per window, then 429 before any key is read.
API_AUTH_FAILURE_LIMIT = env.int("API_AUTH_FAILURE_LIMIT", default=20)
API_AUTH_FAILURE_WINDOW = timedelta(seconds=env.int("API_AUTH_FAILURE_WINDOW_SECONDS", default=600))
# How long a POST's Idempotency-Key is kept (common/idempotency.py).
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# GET /cards serves a change only once no transaction that may still commit an older stamp is
# running, and this margin for clocks that disagree (cards/api/sync.py).
API_SYNC_MARGIN = timedelta(seconds=env.float("API_SYNC_MARGIN_SECONDS", default=2.0))
# GET /events waits at most this long for transactions writing events to finish (cards/api/sync.py).
API_FEED_SETTLE_WAIT = env.float("API_FEED_SETTLE_WAIT_SECONDS", default=0.5)
# Webhooks (cards/webhooks.py): timeout of one delivery, retries doubling from the base up to the
# cap, then given up (the bank still has the event feed).
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_RETRY_BASE = timedelta(seconds=env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30))
WEBHOOK_RETRY_MAX = timedelta(seconds=env.int("WEBHOOK_RETRY_MAX_SECONDS", default=6 * 3600))
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=15)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=3.0)
# The municipal information service center (cards/cardcenter.py): the adapter, its endpoint and
# signing secret (HTTP backend), timeouts, and retries doubling from the base up to the cap,
# never given up.
CARD_CENTER_BACKEND = env("CARD_CENTER_BACKEND", default="cards.cardcenter.LocalTableCardCenter")
CARD_CENTER_URL = env("CARD_CENTER_URL", default="")
CARD_CENTER_SECRET = env("CARD_CENTER_SECRET", default="")
CARD_CENTER_CONNECT_TIMEOUT = env.float("CARD_CENTER_CONNECT_TIMEOUT_SECONDS", default=3.0)
CARD_CENTER_TIMEOUT = env.float("CARD_CENTER_TIMEOUT_SECONDS", default=10.0)
CARD_CENTER_RETRY_BASE = timedelta(seconds=env.float("CARD_CENTER_RETRY_BASE_SECONDS", default=30))
CARD_CENTER_RETRY_MAX = timedelta(seconds=env.float("CARD_CENTER_RETRY_MAX_SECONDS", default=3600))
# The national platform of electronic social security cards (cards/electronic.py): the adapter
# (a local table by default), its endpoint and secret (HTTP backend), its queue (by default the
# card center's, which the deliveries worker consumes); timeouts and retries as the card center's.
NATIONAL_PLATFORM_BACKEND = env(
    "NATIONAL_PLATFORM_BACKEND", default="cards.electronic.LocalTablePlatform"
)
NATIONAL_PLATFORM_URL = env("NATIONAL_PLATFORM_URL", default="")
NATIONAL_PLATFORM_SECRET = env("NATIONAL_PLATFORM_SECRET", default="")
NATIONAL_PLATFORM_QUEUE = env("NATIONAL_PLATFORM_QUEUE", default="cardcenter")
# Deliveries of both (cards/delivery.py): their own queues, at most this many in flight to one
# destination, and a circuit breaker per destination.
WEBHOOK_QUEUE = env("WEBHOOK_QUEUE", default="webhooks")
CARD_CENTER_QUEUE = env("CARD_CENTER_QUEUE", default="cardcenter")
DELIVERY_CONCURRENCY_PER_DESTINATION = env.int("DELIVERY_CONCURRENCY_PER_DESTINATION", default=2)
DELIVERY_BREAKER_FAILURES = env.int("DELIVERY_BREAKER_FAILURES", default=5)
DELIVERY_BREAKER_COOLDOWN = timedelta(
    seconds=env.float("DELIVERY_BREAKER_COOLDOWN_SECONDS", default=30)
)
# The re-drive (beat, every minute) queues an attempt only once it is this overdue: each attempt's
# own task comes first, the re-drive is the safety net.
DELIVERY_REDRIVE_GRACE = timedelta(seconds=env.float("DELIVERY_REDRIVE_GRACE_SECONDS", default=30))

# --- The domain ---------------------------------------------------------------------------
# The rule set in force for what is made now (cards/rules.py): seed-2019 (the seeds' rules, the
# default) or shanghai-3rd-gen. A card keeps the rule set it was made under.
RULE_SET = env.str("RULE_SET", default="seed-2019")
# How long a loss report stays valid, a card's validity, the uncollected period...: the rule set's
# values (cards/rules.py), fixed on the card and its reports when made.
# Social Insurance Law art. 58: an employer registers an employee within 30 days of employment.
EMPLOYER_REGISTRATION_DAYS = env.int("EMPLOYER_REGISTRATION_DAYS", default=30)
# A street/town medical insurance service point completes a card within 3 working days.
MEDICAL_POINT_WORKING_DAYS = env.int("MEDICAL_POINT_WORKING_DAYS", default=3)
# Seed 001: apply at the street (township) service station of the household registration. Off by
# default: today any station in the city takes the application (applicants/policy.py).
APPLY_AT_HUKOU_STREET_STATION = env.bool("APPLY_AT_HUKOU_STREET_STATION", default=False)

# The public address of the status page, as a citizen's phone reaches it: every QR code and
# printed link is built from it, never from the host the clerk's browser used. Required when
# DEBUG is off (cards.public.checks); local settings default it to the development server.
STATUS_PAGE_BASE_URL = env("STATUS_PAGE_BASE_URL", default="")
# An online application's real-name and real-person checks count if made at most this long before
# the application (cards.services.card_submit).
ONLINE_CHECK_MAX_AGE = timedelta(hours=env.int("ONLINE_CHECK_MAX_AGE_HOURS", default=24))
# The expiry sweeps (cards/sweeps.py): batch size, how long one run may work before handing over
# to a fresh run, and an optional pause between batches during a huge catch-up.
EXPIRY_SWEEP_BATCH_SIZE = env.int("EXPIRY_SWEEP_BATCH_SIZE", default=5000)
EXPIRY_SWEEP_TIME_BUDGET = env.float("EXPIRY_SWEEP_TIME_BUDGET", default=600.0)
EXPIRY_SWEEP_SOFT_TIME_LIMIT = env.int("EXPIRY_SWEEP_SOFT_TIME_LIMIT", default=900)
EXPIRY_SWEEP_PAUSE_SECONDS = env.float("EXPIRY_SWEEP_PAUSE_SECONDS", default=0.0)
# Supervisors' flags: applications waiting for verification, cards not collected.
VERIFICATION_WAITING_LIMIT = timedelta(days=env.int("VERIFICATION_WAITING_DAYS", default=5))
UNCOLLECTED_LIMIT = timedelta(days=env.int("UNCOLLECTED_DAYS", default=183))
# The municipal registry adapter (applicants/registry.py).
REGISTRY_BACKEND = env("REGISTRY_BACKEND", default="applicants.registry.LocalTableRegistry")
# applicants.registry.HttpRegistry: the exchange platform's base URL, and how long one lookup may
# take before the clerk is told to try again (asked before a card is locked, never while held).
REGISTRY_URL = env("REGISTRY_URL", default="http://127.0.0.1:8700")
REGISTRY_TIMEOUT = env.float("REGISTRY_TIMEOUT_SECONDS", default=5.0)
SEED_DEMO_DATA = env.bool("SEED_DEMO_DATA", default=False)
DEMO_PASSWORD = env("DEMO_PASSWORD", default="shebao-demo")

# --- The public status page (cards/public/) ---------------------------------------------------
# Lookups allowed per client address and per receipt number, each in fixed windows, counted in
# Redis (common/ratelimit.py). A receipt's limit also protects its holder from ID-number guessing.
STATUS_LIMIT_PER_ADDRESS = env.int("STATUS_LIMIT_PER_ADDRESS", default=30)
STATUS_LIMIT_ADDRESS_WINDOW = timedelta(
    minutes=env.int("STATUS_LIMIT_ADDRESS_WINDOW_MINUTES", default=10)
)
STATUS_LIMIT_PER_RECEIPT = env.int("STATUS_LIMIT_PER_RECEIPT", default=10)
STATUS_LIMIT_RECEIPT_WINDOW = timedelta(
    minutes=env.int("STATUS_LIMIT_RECEIPT_WINDOW_MINUTES", default=60)
)
# Behind a trusted reverse proxy: the META key holding the client's address (e.g. HTTP_X_REAL_IP).
# Empty: REMOTE_ADDR. Never set it without such a proxy, or clients choose their own address.
RATE_LIMIT_CLIENT_ADDRESS_HEADER = env("RATE_LIMIT_CLIENT_ADDRESS_HEADER", default="")

# --- Operations (common/health.py, common/metrics.py) -------------------------------------------
# /metrics answers without credentials from these networks (REMOTE_ADDR, never a forwarded
# header), and from anywhere with `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
METRICS_TOKEN = env("METRICS_TOKEN", default="")
