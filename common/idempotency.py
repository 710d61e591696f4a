"""Idempotent POSTs: the same `Idempotency-Key` with the same request answers the first response
again, without acting twice; the same key with another request is refused (422).

Keys are kept per client (`scope`, e.g. one partner bank whatever API key it uses) for
IDEMPOTENCY_KEY_TTL (24 hours). The key's row is inserted at the start of the request's
transaction and completed with the response in that same transaction, so the action and its key
commit together or not at all:

- a duplicate arriving while the first is still running waits on the unique index until the first
  commits, then replays its response (never both act);
- if the first fails with a server error it rolls back, key included, and a retry acts afresh.

What is kept, as Stripe does it: only a response of a request that acted (2xx). A request refused
before acting does not consume its key: authentication (401), the limiter (429, 503), a malformed
request or a validation error (400, 413, 415, 422), an unknown card (404), a permission (403) or a
state conflict (409). The same key may then be sent again, with the request corrected or not, and
is decided afresh. (A refusal changes nothing the request asked for; a loss report's passed
deadline, applied on the way, is in force either way.) A batch (`POST /cards/ready`, ...) answers
200 with each item's result: it acted, and is kept whole, items refused included.

A key is kept for IDEMPOTENCY_KEY_TTL from the first request: until `created_at + TTL`
exclusive. At that instant and after, the key is free and a request with it acts afresh.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from common import crypto
from common.api import exception_handler
from common.errors import ApplicationError
from common.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII, like most clients' UUIDs or job ids; nothing a header cannot carry.
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


def _key_error(message: str, code: str = "invalid") -> ApplicationError:
    return ApplicationError(message, code=code, details={HEADER: [message]}, status=422)


def _fingerprint(request) -> str:
    """HMAC-SHA256 of the method, the path and the body; JSON bodies in a canonical form, so the
    same document sent with its keys in another order is the same request."""
    try:
        body = request._request.body
    except RequestDataTooBig as exc:
        raise ApplicationError(
            _("The request body is too large."), code="too_large", status=413
        ) from exc
    # Not JSON: the bytes as sent (the view answers the parse error).
    with contextlib.suppress(ValueError, RecursionError):
        body = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    # Keyed (HMAC): the body holds ID numbers, and a plain hash of it could be tested against
    # guessed numbers by whoever reads the table.
    return crypto.keyed_digest(f"{request.method} {request.get_full_path()}\n".encode() + body)


def _claim(
    *, scope: str, key: str, fingerprint: str, now
) -> tuple[IdempotencyKey, Response | None]:
    """Insert the key's row, or find the first request's: (row to complete, None) or (row, replay).

    Runs in the caller's transaction. A concurrent first request holds the unique index entry
    until it commits; the INSERT here waits for it.
    """
    expires_at = now + settings.IDEMPOTENCY_KEY_TTL
    for _attempt in range(3):
        row = IdempotencyKey(
            scope=scope,
            key=key,
            request_fingerprint=fingerprint,
            response_status=0,  # completed before this transaction commits
            response_body="",
            created_at=now,
            expires_at=expires_at,
        )
        try:
            with transaction.atomic():
                row.save(force_insert=True)
            return row, None
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.select_for_update().filter(scope=scope, key=key).first()
        if existing is None:
            continue  # purged meanwhile: insert again
        if existing.expires_at <= now:
            existing.request_fingerprint = fingerprint
            existing.created_at, existing.expires_at = now, expires_at
            return existing, None
        if existing.request_fingerprint != fingerprint:
            raise _key_error(
                _(
                    "This Idempotency-Key was used with another request in the last 24 hours; "
                    "use a new key for a new request."
                ),
                code="idempotency_key_reused",
            )
        return existing, Response(
            json.loads(existing.response_body),
            status=existing.response_status,
            headers={REPLAYED_HEADER: "true"},
        )
    raise RuntimeError("Idempotency key row kept vanishing.")  # pragma: no cover


def idempotent(*, request, view, scope: str, act: Callable[[], Response]) -> Response:
    """Run `act` once per (scope, Idempotency-Key); answer a repeat with the first response.

    `act` performs the request (validation, one service call, rendering) and returns a Response;
    an exception it raises becomes the error response of common/api.py, kept like any other.
    """
    key = request.headers.get(HEADER)
    if key is None:
        raise _key_error(_("The Idempotency-Key header is required on every POST."))
    if not KEY_PATTERN.match(key):
        raise _key_error(_("An Idempotency-Key has 1 to 255 visible ASCII characters."))
    fingerprint = _fingerprint(request)
    with transaction.atomic():
        row, replay = _claim(scope=scope, key=key, fingerprint=fingerprint, now=timezone.now())
        if replay is not None:
            return replay
        try:
            response = act()
        except Exception as exc:
            response = exception_handler(exc, {"view": view, "request": request})
            if response is None:
                raise
        if response.status_code >= 500:
            transaction.set_rollback(True)  # nothing kept: a retry acts afresh
            return response
        if response.status_code >= 400:
            row.delete()  # refused before acting: the key is not consumed
            return response
        row.response_status = response.status_code
        row.response_body = JSONRenderer().render(response.data).decode() or "null"
        row.save()
    return response


def idempotency_keys_purge(*, now=None, batch_size: int = 5000) -> int:
    """Delete expired keys in batches; return how many."""
    now = now or timezone.now()
    deleted = 0
    while True:
        ids = list(
            IdempotencyKey.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return deleted
        deleted += IdempotencyKey.objects.filter(pk__in=ids).delete()[0]
