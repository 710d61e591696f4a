"""A developer's laptop: debug on, a throwaway secret, demo data allowed."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-only-not-a-secret-d8a7f6e5")
SEED_DEMO_DATA = True
STATUS_PAGE_BASE_URL = env("STATUS_PAGE_BASE_URL", default="http://127.0.0.1:8000")

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise looks for it at start

from common.crypto import sm4_gcm_available  # noqa: E402

# The fixed development keys unless the environment gives others (config/settings/base.py).
FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or (  # noqa: F405
    DEV_FIELD_ENCRYPTION_KEYS if sm4_gcm_available() else DEV_FIELD_ENCRYPTION_KEYS_AES  # noqa: F405
)
FIELD_BLIND_INDEX_KEY = FIELD_BLIND_INDEX_KEY or DEV_FIELD_BLIND_INDEX_KEY  # noqa: F405
