"""The request id: one id per web request that follows it into its log lines, its response (the
`X-Request-ID` header) and every Celery task it queues (a message header), whose log lines carry
it too. A failed request can so be followed from the proxy to the service to the worker.

The id is the caller's `X-Request-ID` when it is sane (a proxy or a bank's own trace id: 1-128
letters, digits and `-_.:`), else a new UUID. It never carries personal data: it is an opaque
token, and a header that looks like anything else is replaced, not logged.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid

from celery import signals

HEADER = "X-Request-ID"
TASK_HEADER = "request_id"
SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Probes every few seconds from every load balancer and Prometheus: their lines only under DEBUG.
QUIET_PATHS = frozenset({"/health/", "/health/ready/", "/metrics"})

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
task_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task", default=None)

logger = logging.getLogger("shebao.request")


def current() -> str | None:
    return request_id_var.get()


def sane_or_new(value: str | None) -> str:
    if value and SANE.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in the chain: take or make the id, answer it, and log one line per request (method,
    path without its query string, view, status, duration: nothing personal)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = sane_or_new(request.headers.get(HEADER))
        token = request_id_var.set(request_id)
        request.request_id = request_id
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            match = getattr(request, "resolver_match", None)
            logger.log(
                logging.DEBUG if request.path in QUIET_PATHS else logging.INFO,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "http_method": request.method,
                    "path": request.path,
                    "view": match.view_name if match else "",
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts `request_id` (and in a worker `task`) on every log record, for both formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        if not hasattr(record, "task"):
            record.task = task_var.get() or ""
        return True


# --- Celery: the id travels as a message header ------------------------------------------------


@signals.before_task_publish.connect(dispatch_uid="shebao.requestid.publish")
def _add_request_id_header(headers=None, **_kwargs) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id


_task_tokens: dict[str, tuple] = {}


@signals.task_prerun.connect(dispatch_uid="shebao.requestid.prerun")
def _task_started(task_id=None, task=None, **_kwargs) -> None:
    request_id = getattr(task.request, TASK_HEADER, None) if task is not None else None
    _task_tokens[task_id] = (
        request_id_var.set(request_id if request_id and SANE.match(str(request_id)) else None),
        task_var.set(task.name if task is not None else None),
    )


@signals.task_postrun.connect(dispatch_uid="shebao.requestid.postrun")
def _task_finished(task_id=None, **_kwargs) -> None:
    tokens = _task_tokens.pop(task_id, None)
    if tokens is not None:
        request_id_var.reset(tokens[0])
        task_var.reset(tokens[1])
