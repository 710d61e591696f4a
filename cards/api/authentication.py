"""`Authorization: Api-Key <key>`: the key names its bank (agencies.models.BankApiKey).

No header, another scheme, a wrong or a revoked key: 401, with `WWW-Authenticate: Api-Key`.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from agencies.models import BankApiKey, PartnerBank
from agencies.selectors import bank_api_key_find

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


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # 401 not_authenticated
        scheme, _space, key = header.strip().partition(" ")
        if scheme.lower() != SCHEME.lower() or not key.strip():
            raise exceptions.AuthenticationFailed(
                _("Send the key as 'Authorization: Api-Key <key>'.")
            )
        api_key = bank_api_key_find(key=key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            BankApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return BankClient(api_key), api_key

    def authenticate_header(self, request) -> str:
        return SCHEME


class IsPartnerBank(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, BankApiKey)


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
