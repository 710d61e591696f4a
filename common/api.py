"""The one JSON error shape of the API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import ApplicationError


def _error(code: str, message: str, details: Any, http_status: int, headers=None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return Response(body, status=http_status, headers=headers)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Translate every error into the one shape; validation errors carry field-level details."""
    if isinstance(exc, ApplicationError):
        return _error(exc.code, exc.message, exc.details, exc.status)
    if isinstance(exc, DjangoValidationError):
        details = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return _error("invalid", _("Invalid input."), details, status.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return _error("invalid", _("Invalid input."), details, status.HTTP_422_UNPROCESSABLE_ENTITY)
    code = getattr(exc, "default_code", "error")
    if isinstance(exc.detail, dict | list):
        message, details = str(getattr(exc, "default_detail", "")), exc.detail
    else:
        message, details = str(exc.detail), {}
    headers = {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate")}
    return _error(code, message, details, response.status_code, headers=headers)
