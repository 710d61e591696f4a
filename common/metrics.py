"""Prometheus metrics at `/metrics`: requests per view, database and cache timings, Celery tasks,
and the domain's own counters and gauges (cards/metrics.py).

Multi-process safe: with PROMETHEUS_MULTIPROC_DIR set (gunicorn's workers, Celery's pool, or
`make run`'s web and worker sharing one directory) every process writes its samples there and
`/metrics` adds them up (prometheus_client's multiprocess mode; config/gunicorn.py marks exited
workers dead). Gauges read from the database are not kept in processes at all: collectors
registered with `register_collector` compute them at scrape time from small indexed reads.

Access (`metrics_allowed`): from the networks in METRICS_ALLOWED_NETWORKS (default: loopback
only) with no credentials, or from anywhere with `Authorization: Bearer <METRICS_TOKEN>`.
Behind the proxy, the proxy refuses `/metrics` (deploy/nginx.conf); Prometheus scrapes each
web container directly.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db.backends.signals import connection_created
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import Metric

# --- Process metrics (counters and histograms, multi-process safe) ------------------------------

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)

HTTP_REQUESTS = Counter(
    "shebao_http_requests_total",
    "HTTP requests answered, by view name, method and status code.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "shebao_http_request_duration_seconds",
    "Time from the first middleware to the response, by view name.",
    ["view"],
    buckets=LATENCY_BUCKETS,
)
DB_QUERIES = Histogram(
    "shebao_db_query_duration_seconds",
    "Database statements and their duration, by database alias.",
    ["alias"],
    buckets=FAST_BUCKETS,
)
DB_ERRORS = Counter(
    "shebao_db_errors_total",
    "Database statements that raised, by alias and exception class.",
    ["alias", "error"],
)
CACHE_CALLS = Histogram(
    "shebao_cache_duration_seconds",
    "Django cache calls and their duration, by operation.",
    ["operation"],
    buckets=FAST_BUCKETS,
)
CACHE_RESULTS = Counter(
    "shebao_cache_gets_total", "Django cache reads, by result (hit or miss).", ["result"]
)
CELERY_TASKS = Counter(
    "shebao_celery_tasks_total",
    "Celery tasks finished in a worker, by task name and state.",
    ["task", "state"],
)
CELERY_TASK_LATENCY = Histogram(
    "shebao_celery_task_duration_seconds",
    "Run time of Celery tasks in a worker, by task name.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0),
)
CELERY_PUBLISHED = Counter(
    "shebao_celery_tasks_published_total", "Celery tasks queued, by task name.", ["task"]
)
API_REQUESTS = Counter(
    "shebao_api_requests_total",
    "Partner-bank API requests, by bank code (`-` before a key is known) and HTTP status.",
    ["bank", "code"],
)

# --- Collectors computed at scrape time -------------------------------------------------------

_collectors: list[Callable[[], Iterable[Metric]]] = []


def register_collector(collect: Callable[[], Iterable[Metric]]) -> None:
    """A function yielding metric families, called on each scrape of /metrics (in the web
    process only; it must be cheap: a few indexed reads)."""
    if collect not in _collectors:
        _collectors.append(collect)


class _Scrape:
    """Adapts the registered functions to prometheus_client's collector interface."""

    def collect(self):
        for collect in list(_collectors):
            yield from collect()


def render() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_Scrape())
        return generate_latest(registry)
    registry = CollectorRegistry()
    registry.register(_Scrape())
    return generate_latest(REGISTRY) + generate_latest(registry)


# --- Access ---------------------------------------------------------------------------------


def _networks() -> list:
    return [
        ipaddress.ip_network(n.strip(), strict=False) for n in settings.METRICS_ALLOWED_NETWORKS
    ]


def metrics_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks())


def metrics_view(request):
    if not metrics_allowed(request):
        response = HttpResponse("Forbidden\n", status=403, content_type="text/plain")
        if settings.METRICS_TOKEN:
            response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


# --- Requests -------------------------------------------------------------------------------


class MetricsMiddleware:
    """Counts and times every request by its view name (not its path: bounded labels), and the
    partner-bank API's requests by bank and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "<unresolved>"
        HTTP_REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(view).observe(time.perf_counter() - started)
        if request.path.startswith("/api/"):
            # DRF puts the authenticated key on the request; its bank was read with it.
            bank = getattr(getattr(getattr(request, "auth", None), "bank", None), "code", "-")
            API_REQUESTS.labels(bank, str(response.status_code)).inc()
        return response


# --- Database: every statement, through Django's execute wrappers ------------------------------


def _time_statement(execute, sql, params, many, context):
    alias = context["connection"].alias
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception as exc:
        DB_ERRORS.labels(alias, type(exc).__name__).inc()
        raise
    finally:
        DB_QUERIES.labels(alias).observe(time.perf_counter() - started)


def _install_db_timer(sender, connection, **_kwargs) -> None:
    if _time_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(_time_statement)


connection_created.connect(_install_db_timer, dispatch_uid="shebao.metrics.db")


# --- Cache: the default cache's calls, timed by a thin subclass (common/cache.py) --------------


def observe_cache(operation: str, seconds: float) -> None:
    CACHE_CALLS.labels(operation).observe(seconds)


def observe_cache_get(hit: bool) -> None:
    CACHE_RESULTS.labels("hit" if hit else "miss").inc()


# --- Celery: tasks run in workers (counted there), tasks queued (counted where queued) ---------

_task_started: dict[str, float] = {}


def _task_prerun(task_id=None, **_kwargs) -> None:
    _task_started[task_id] = time.perf_counter()


def _task_postrun(task_id=None, task=None, state=None, **_kwargs) -> None:
    started = _task_started.pop(task_id, None)
    name = getattr(task, "name", "?")
    CELERY_TASKS.labels(name, state or "UNKNOWN").inc()
    if started is not None:
        CELERY_TASK_LATENCY.labels(name).observe(time.perf_counter() - started)


def _task_published(sender=None, **_kwargs) -> None:
    CELERY_PUBLISHED.labels(sender or "?").inc()


def _worker_ready(**_kwargs) -> None:
    """A worker's main process serves its pool's samples on CELERY_METRICS_PORT, if set (the web
    process cannot see a worker container's files)."""
    port = settings.CELERY_METRICS_PORT
    if not port:
        return
    from prometheus_client import start_http_server

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(port, registry=registry)


def _queue_lengths():
    """Messages waiting in the default queue (Redis broker only: one LLEN)."""
    from prometheus_client.core import GaugeMetricFamily

    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return
    import redis

    family = GaugeMetricFamily(
        "shebao_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"]
    )
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        family.add_metric([queue], client.llen(queue))
    except redis.RedisError:
        return
    finally:
        client.close()
    yield family


def install() -> None:
    """Connect the signal handlers (CommonConfig.ready)."""
    from celery import signals
    from django.db import connections

    signals.task_prerun.connect(_task_prerun, dispatch_uid="shebao.metrics.prerun")
    signals.task_postrun.connect(_task_postrun, dispatch_uid="shebao.metrics.postrun")
    signals.after_task_publish.connect(_task_published, dispatch_uid="shebao.metrics.publish")
    signals.worker_ready.connect(_worker_ready, dispatch_uid="shebao.metrics.worker")
    register_collector(_queue_lengths)
    for connection in connections.all(initialized_only=True):
        _install_db_timer(None, connection)
