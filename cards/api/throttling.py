"""Requests per API key (DRF throttle interface, counted atomically in Redis by
common/ratelimit.py): API_KEY_RATE_LIMIT per API_KEY_RATE_WINDOW, then 429 with Retry-After."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.throttling import BaseThrottle

from agencies.models import BankApiKey, PlatformApiKey
from common.ratelimit import Limit, Unavailable, hit


class LimiterUnavailable(exceptions.APIException):
    """The per-key counters (Redis) cannot be reached: 503 with Retry-After, in the one error
    shape. Nothing was done; the bank's client retries (a POST safely, with its Idempotency-Key)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = _("The service is briefly unavailable. Retry in a minute.")

    def __init__(self, wait: int) -> None:
        super().__init__()
        self.wait = wait


def api_key_limit() -> Limit:
    """Requests per API key: API_KEY_RATE_LIMIT per API_KEY_RATE_WINDOW."""
    return Limit("api-key", settings.API_KEY_RATE_LIMIT, settings.API_KEY_RATE_WINDOW)


def platform_key_limit() -> Limit:
    """Requests per key of the online service platform: API_PLATFORM_RATE_LIMIT per
    API_KEY_RATE_WINDOW."""
    return Limit("api-platform", settings.API_PLATFORM_RATE_LIMIT, settings.API_KEY_RATE_WINDOW)


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.retry_after = 0

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if isinstance(api_key, BankApiKey):
            limit = api_key_limit()
        elif isinstance(api_key, PlatformApiKey):
            limit = platform_key_limit()
        else:
            return True  # refused before this by authentication
        try:
            verdict = hit([(limit, api_key.prefix)])
        except Unavailable as exc:
            raise LimiterUnavailable(exc.retry_after) from exc
        self.retry_after = verdict.retry_after
        return verdict.allowed

    def wait(self) -> float:
        return self.retry_after
