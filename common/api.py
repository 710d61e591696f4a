"""The one JSON error shape of the API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common import faults
from common.errors import ApplicationError


def _error(code: str, message: str, details: Any, http_status: int, headers=None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return Response(body, status=http_status, headers=headers)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Translate every error into the one shape; validation errors carry field-level details."""
    if isinstance(exc, ApplicationError):
        return _error(exc.code, exc.message, exc.details, exc.status)
    if faults.database_unavailable(exc):  # lost connection, lock or statement timeout: retry
        return Response(faults.api_unavailable_body(), 503, headers=faults.RETRY_HEADERS)
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


class DepthLimitedJSONParser(JSONParser):
    """JSON with at most settings.API_JSON_MAX_DEPTH levels of arrays and objects, and Unicode
    text only, each object naming a member once.

    Without a limit a body nested a thousand deep makes the decoder (or any later recursive walk
    of the data) raise RecursionError: a 500 for bad input. JSON's `\\ud800` escape decodes to a
    lone surrogate, which no response can encode back (a 500 as soon as an error message quotes
    it). Such bodies, and bodies the decoder cannot take, answer 400 `parse_error` in the one
    error shape, in the response's language.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = stream.read().decode(encoding)
            data = json.loads(
                text, parse_constant=_not_a_json_number, object_pairs_hook=_one_value_per_name
            )
        except DuplicateName as exc:
            raise exceptions.ParseError(
                _("The body gives “%(name)s” more than once in one object: give it once.")
                % {"name": exc.name[:64]}
            ) from None
        except RecursionError:
            raise exceptions.ParseError(self._too_deep()) from None
        except UnicodeDecodeError as exc:
            message = _("The body is not %(encoding)s text (byte %(position)d).")
            raise exceptions.ParseError(
                message % {"encoding": encoding, "position": exc.start + 1}
            ) from None
        except json.JSONDecodeError as exc:
            message = _("The body is not valid JSON (line %(line)d, column %(column)d).")
            raise exceptions.ParseError(
                message % {"line": exc.lineno, "column": exc.colno}
            ) from None
        except ValueError:  # NaN or Infinity, a number of more than 4300 digits
            raise exceptions.ParseError(
                _("The body is not valid JSON: a number it holds is not a JSON number.")
            ) from None
        if json_depth(data) > settings.API_JSON_MAX_DEPTH:
            raise exceptions.ParseError(self._too_deep())
        if holds_lone_surrogate(data):
            raise exceptions.ParseError(
                _(
                    "The body holds a lone surrogate (an escape between \\ud800 and \\udfff "
                    "not in a pair): not a Unicode character."
                )
            )
        return data

    @staticmethod
    def _too_deep() -> str:
        return _("JSON nested more than %(depth)d levels deep.") % {
            "depth": settings.API_JSON_MAX_DEPTH
        }


class DuplicateName(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _one_value_per_name(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object naming a member twice (`{"card_type": "a", "card_type": "b"}`): which one was
    meant would be a guess (the decoder keeps the last), so it is refused like a query parameter
    given twice."""
    data: dict[str, Any] = {}
    for name, value in pairs:
        if name in data:
            raise DuplicateName(name)
        data[name] = value
    return data


def _not_a_json_number(constant: str):
    raise ValueError(constant)


def holds_lone_surrogate(data: Any) -> bool:
    """Whether a string of parsed JSON, a value or a key, is not encodable Unicode."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def json_depth(data: Any) -> int:
    """Levels of arrays and objects in parsed JSON (a scalar is 0), walked without recursion."""
    deepest = 0
    stack = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest
