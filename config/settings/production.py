"""Production: every secret from the environment, HTTPS everywhere, no demo data."""

import base64

from django.core.exceptions import ImproperlyConfigured

from common.crypto import keyring_from

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")  # no default: refuse to start without one
# Encryption at rest: refuse to start without real keys (README, "Security: keys and rotation").
FIELD_ENCRYPTION_KEYS = env("FIELD_ENCRYPTION_KEYS")
FIELD_BLIND_INDEX_KEY = env("FIELD_BLIND_INDEX_KEY")
_field_keys = keyring_from(FIELD_ENCRYPTION_KEYS, FIELD_BLIND_INDEX_KEY)
_dev_secrets = {
    base64.b64decode(spec.partition(":")[2])
    for spec in (DEV_FIELD_ENCRYPTION_KEYS, DEV_FIELD_ENCRYPTION_KEYS_AES)  # noqa: F405
}
if {key.secret for key in _field_keys.keys} & _dev_secrets or (
    _field_keys.index_key == base64.b64decode(DEV_FIELD_BLIND_INDEX_KEY)  # noqa: F405
):
    raise ImproperlyConfigured("The development field keys are public: configure real ones.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
SEED_DEMO_DATA = False
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "plain"  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health checks and Prometheus speak plain HTTP to the container itself.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Not "no-referrer": with it, browsers send `Origin: null` on form posts and Django's CSRF check
# refuses every admin form (login included). Pages that need more say so themselves.
SECURE_REFERRER_POLICY = "same-origin"
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
