"""The test suite: PostgreSQL and Redis for real (defaults: the local servers on standard ports)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shebao")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-not-a-secret"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SEED_DEMO_DATA = True
STATUS_PAGE_BASE_URL = "https://status.shebao.example"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise looks for it at start

from common.crypto import sm4_gcm_available  # noqa: E402

# The fixed development keys unless the environment gives others (config/settings/base.py).
FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or (  # noqa: F405
    DEV_FIELD_ENCRYPTION_KEYS if sm4_gcm_available() else DEV_FIELD_ENCRYPTION_KEYS_AES  # noqa: F405
)
FIELD_BLIND_INDEX_KEY = FIELD_BLIND_INDEX_KEY or DEV_FIELD_BLIND_INDEX_KEY  # noqa: F405
