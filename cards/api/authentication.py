"""`Authorization: Api-Key <key>`: the key names its bank (agencies.models.BankApiKey).

No header, another scheme, a wrong or a revoked key: 401, with `WWW-Authenticate: Api-Key`.
Failed authentications are counted per client address (common/ratelimit.py); past
API_AUTH_FAILURE_LIMIT in a window, 429 with Retry-After, before the key's row is read.
"""

from __future__ import annotations

import contextlib
import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from agencies.models import BankApiKey, PartnerBank, PlatformApiKey
from agencies.selectors import bank_api_key_find, platform_api_key_find
from common.ratelimit import Limit, Unavailable, client_address, hit, peek

SCHEME = "Api-Key"
# `last_used_at` is written at most this often per key: a hint for rotation, not an access log.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=5)


class BankClient:
    """The authenticated party of an API request: a partner bank, through one of its keys."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, api_key: BankApiKey) -> None:
        self.api_key = api_key

    @property
    def bank(self) -> PartnerBank:
        return self.api_key.bank

    def __str__(self) -> str:
        return f"bank:{self.bank.code}"


class PlatformClient:
    """The authenticated party of a request of the city's online service platform (its own kind
    of client, not a bank: agencies.PlatformApiKey)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, api_key: PlatformApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return "platform"


# The online service platform's keys start so (agencies.services.platform_api_key_create).
PLATFORM_PREFIX = "op-"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # 401 not_authenticated
        address = client_address(request)
        _refuse_if_failing(address)  # before the key's row is read
        scheme, _space, key = header.strip().partition(" ")
        if scheme.lower() != SCHEME.lower() or not key.strip():
            _count_failure(address)
            raise exceptions.AuthenticationFailed(
                _("Send the key as 'Authorization: Api-Key <key>'.")
            )
        key = key.strip()
        is_platform = key.startswith(PLATFORM_PREFIX)
        api_key = platform_api_key_find(key=key) if is_platform else bank_api_key_find(key=key)
        if api_key is None:
            _count_failure(address)
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            type(api_key).objects.filter(pk=api_key.pk).update(last_used_at=now)
        if is_platform:
            return PlatformClient(api_key), api_key
        return BankClient(api_key), api_key

    def authenticate_header(self, request) -> str:
        return SCHEME


def auth_failure_limit() -> Limit:
    """Failed authentications per client address: API_AUTH_FAILURE_LIMIT per
    API_AUTH_FAILURE_WINDOW; then 429 before any key is looked up, so guessing keys costs the
    database nothing."""
    return Limit(
        "api-auth-failure", settings.API_AUTH_FAILURE_LIMIT, settings.API_AUTH_FAILURE_WINDOW
    )


def _refuse_if_failing(address: str) -> None:
    from cards.api.throttling import LimiterUnavailable

    try:
        verdict = peek(auth_failure_limit(), address)
    except Unavailable as exc:
        raise LimiterUnavailable(exc.retry_after) from exc
    if not verdict.allowed:
        raise exceptions.Throttled(
            wait=verdict.retry_after,
            detail=str(_("Too many failed authentications from this address. Retry later.")),
        )


def _count_failure(address: str) -> None:
    # If the limiter is down the 401 stands; the next request finds it down and answers 503.
    with contextlib.suppress(Unavailable):
        hit([(auth_failure_limit(), address)])


class IsPartnerBank(BasePermission):
    """A partner bank's real key: a sandbox key acts only under /api/v1/sandbox/, the online
    platform's key only under /api/v1/platform/ (403 here)."""

    message = _(
        "This key may not use this endpoint (a sandbox key acts only on /sandbox/, the online "
        "platform's key only on /platform/)."
    )

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, BankApiKey) and not request.auth.sandbox


class IsSandboxBank(BasePermission):
    """A partner bank's sandbox key (`create_bank_key CODE --sandbox`): real keys are refused
    here, so a real key never sees a sandbox card."""

    message = _("Only a sandbox key may use the sandbox (create_bank_key CODE --sandbox).")

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, BankApiKey) and request.auth.sandbox


class IsOnlinePlatform(BasePermission):
    """The city's online service platform's key (`create_platform_key`)."""

    message = _("Only the online service platform's key may use this endpoint.")

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, PlatformApiKey)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "cards.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; a key is made by `manage.py create_bank_key <BANK>`.",
        }
