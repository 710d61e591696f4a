"""A developer's laptop: debug on, a throwaway secret, demo data allowed."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-only-not-a-secret-d8a7f6e5")
SEED_DEMO_DATA = True
STATUS_PAGE_BASE_URL = env("STATUS_PAGE_BASE_URL", default="http://127.0.0.1:8000")

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise looks for it at start
