"""Settings shared by every environment, read from the environment through django-environ.

Defaults work on a laptop with no servers: SQLite, a file-system Celery broker and a file cache.
Set DATABASE_URL and REDIS_URL to use PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
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
    "common",
    "agencies",
    "applicants",
    "cards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django turns psycopg's prepared statements off. Its own cursors bind on the client and never
    # prepare anyway; the only server-binding cursors are common/prepared.py's hot reads, which
    # are prepared at their first use on a connection.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "shebao",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
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
        "store_processed": False,
    }
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task modules that are not an app's tasks.py (which autodiscovery finds).
CELERY_IMPORTS = ("cards.webhooks",)
# Acknowledge after the task ran, and requeue it if its pool process is killed: a sweep killed
# mid-way runs again (it is idempotent: it takes only what is still due).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 1500
CELERY_TASK_TIME_LIMIT = 1800  # < CELERY_VISIBILITY_TIMEOUT
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Shanghai social security card back office: partner bank API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
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
    },
}

# --- The partner-bank API (cards/api/) ------------------------------------------------------------
# Requests per API key per window (fixed windows in Redis, common/ratelimit.py), then 429.
API_KEY_RATE_LIMIT = env.int("API_KEY_RATE_LIMIT", default=1200)
API_KEY_RATE_WINDOW = timedelta(seconds=env.int("API_KEY_RATE_WINDOW_SECONDS", default=60))
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
WEBHOOK_RETRY_BASE = timedelta(seconds=env.int("WEBHOOK_RETRY_BASE_SECONDS", default=30))
WEBHOOK_RETRY_MAX = timedelta(hours=6)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=15)

# --- The domain ---------------------------------------------------------------------------
# How long a loss report stays valid (PRODUCT.md, "The card lifecycle"). Fixed on the card when the
# report is made: changing these later changes no existing report.
PHONE_REPORT_VALIDITY = timedelta(hours=env.int("PHONE_REPORT_VALIDITY_HOURS", default=24))
WRITTEN_REPORT_VALIDITY = timedelta(days=env.int("WRITTEN_REPORT_VALIDITY_DAYS", default=30))
# Social Insurance Law art. 58: an employer registers an employee within 30 days of employment.
EMPLOYER_REGISTRATION_DAYS = env.int("EMPLOYER_REGISTRATION_DAYS", default=30)
# A street/town medical insurance service point completes a card within 3 working days.
MEDICAL_POINT_WORKING_DAYS = env.int("MEDICAL_POINT_WORKING_DAYS", default=3)
# Seed 001: apply at the street (township) service station of the household registration. Off by
# default: today any station in the city takes the application (applicants/policy.py).
APPLY_AT_HUKOU_STREET_STATION = env.bool("APPLY_AT_HUKOU_STREET_STATION", default=False)
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
