"""Reads of agencies that are more than a lookup."""

from __future__ import annotations

import hmac
import math
import time

from django.db import connection

from agencies.models import BankApiKey, PartnerBank, PlatformApiKey, ServicePoint
from common.prepared import PreparedStatement, columns

_KEY_FIELDS, _KEY_COLUMNS = columns("k", BankApiKey)
_BANK_FIELDS, _BANK_COLUMNS = columns("b", PartnerBank)
_K = {
    name: f'k."{BankApiKey._meta.get_field(name).column}"'
    for name in ("bank", "prefix", "revoked_at")
}
# Read on every API request: prepared once per connection (common/prepared.py).
_LIVE_KEY = PreparedStatement(
    f"""SELECT {_KEY_COLUMNS}, {_BANK_COLUMNS}
    FROM "{BankApiKey._meta.db_table}" k
    JOIN "{PartnerBank._meta.db_table}" b ON b."id" = {_K["bank"]}
    WHERE {_K["prefix"]} = %s AND {_K["revoked_at"]} IS NULL"""  # noqa: S608 - names from _meta
)


def _live_key(prefix: str) -> BankApiKey | None:
    if connection.vendor != "postgresql":
        return (
            BankApiKey.objects.select_related("bank")
            .filter(prefix=prefix, revoked_at__isnull=True)
            .first()
        )
    row = _LIVE_KEY.fetchone([prefix])
    if row is None:
        return None
    api_key = BankApiKey.from_db(connection.alias, _KEY_FIELDS, row[: len(_KEY_FIELDS)])
    api_key.bank = PartnerBank.from_db(connection.alias, _BANK_FIELDS, row[len(_KEY_FIELDS) :])
    return api_key


def bank_api_key_find(*, key: str) -> BankApiKey | None:
    """The live (not revoked) key `key`, with its bank; None for a wrong, unknown or revoked key.

    The prefix finds the row; the hash of the whole key is compared in constant time.
    """
    from agencies.services import bank_api_key_hash

    prefix, dot, secret = key.partition(".")
    if not dot or not secret or not 1 <= len(prefix) <= 16:
        return None
    api_key = _live_key(prefix)
    if api_key is None or not hmac.compare_digest(api_key.key_hash, bank_api_key_hash(key)):
        return None
    return api_key


def platform_api_key_find(*, key: str) -> PlatformApiKey | None:
    """The online service platform's live key `key`; None for a wrong, unknown or revoked key
    (found by its `op-` prefix, compared by hash in constant time, as a bank's)."""
    from agencies.services import bank_api_key_hash

    prefix, dot, secret = key.partition(".")
    if not dot or not secret or not 1 <= len(prefix) <= 16:
        return None
    api_key = PlatformApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, bank_api_key_hash(key)):
        return None
    return api_key


# Service point codes, read on every card the API renders: a small table that rarely changes,
# kept per process and read again when older than this (or when a point is not in it yet).
SERVICE_POINT_CODES_TTL = 60.0
_codes: dict[int, str] = {}
_codes_loaded_at = -math.inf


def service_point_code(point_id: int | None) -> str | None:
    """The code of a service point, from a per-process copy of the (small) table: a renamed code
    shows within SERVICE_POINT_CODES_TTL seconds."""
    global _codes, _codes_loaded_at
    if point_id is None:
        return None
    stale = time.monotonic() - _codes_loaded_at > SERVICE_POINT_CODES_TTL
    if stale or point_id not in _codes:
        _codes = dict(ServicePoint.objects.values_list("id", "code"))
        _codes_loaded_at = time.monotonic()
    return _codes.get(point_id)
