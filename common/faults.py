"""Faults that heal: a database connection lost, or a lock or statement timeout, answers 503 with
`Retry-After` in each surface's own shape (the API's JSON error, a plain page for the admin and the
status page), never a bare 500 or the server's HTML error page. Nothing was done: every request
runs in its own transaction, and a POST retried with the same Idempotency-Key acts once.

The next request gets a working connection again: CONN_HEALTH_CHECKS makes Django test a
persistent connection before its first use in a request and reconnect if it was killed.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import server_error as django_server_error

logger = logging.getLogger(__name__)

# Seconds a client is told to wait: a lost connection is replaced at once, a lock is released
# within DATABASE_LOCK_TIMEOUT; a few seconds covers both.
RETRY_AFTER_SECONDS = 5
RETRY_HEADERS = {"Retry-After": str(RETRY_AFTER_SECONDS)}
DATABASE_ERRORS = (OperationalError, InterfaceError)


def database_unavailable(exc: BaseException | None) -> bool:
    """The database could not answer this time (connection lost or refused, a lock or statement
    timeout, a server shutting down): the request can be retried as it is."""
    return isinstance(exc, DATABASE_ERRORS)


def unavailable_message() -> str:
    return _("The service is briefly unavailable. Retry in a few seconds.")


def api_unavailable_body() -> dict:
    return {
        "error": {"code": "service_unavailable", "message": unavailable_message(), "details": {}}
    }


def server_error(request, *args, **kwargs):
    """handler500: a database fault becomes a 503 (JSON under /api/, a short page elsewhere);
    anything else is Django's own 500. Renders nothing that needs the database."""
    exc = sys.exception()
    if not database_unavailable(exc):
        return django_server_error(request, *args, **kwargs)
    logger.warning("database unavailable: %s", type(exc).__name__)
    if request.path.startswith("/api/"):
        response = JsonResponse(api_unavailable_body(), status=503)
    else:
        message = unavailable_message()
        response = HttpResponse(
            "<!doctype html><html><head><meta charset=utf-8><title>503</title></head>"
            f"<body><h1>503</h1><p>{message}</p></body></html>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
