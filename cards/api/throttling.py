"""Requests per API key (DRF throttle interface, counted atomically in Redis by
common/ratelimit.py): API_KEY_RATE_LIMIT per API_KEY_RATE_WINDOW, then 429 with Retry-After."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from agencies.models import BankApiKey
from common.ratelimit import Limit, hit


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.retry_after = 0

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, BankApiKey):
            return True  # refused before this by authentication
        limit = Limit("api-key", settings.API_KEY_RATE_LIMIT, settings.API_KEY_RATE_WINDOW)
        verdict = hit([(limit, api_key.prefix)])
        self.retry_after = verdict.retry_after
        return verdict.allowed

    def wait(self) -> float:
        return self.retry_after
