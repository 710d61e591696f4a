"""Health endpoints for load balancers, docker-compose and on-call engineers.

- `/health/`: liveness. The process answers; no I/O at all, so a slow database never gets a
  healthy web process restarted.
- `/health/ready/`: readiness. PostgreSQL, Redis, the Celery broker, a worker answering a ping,
  and beat's last run within two of its intervals. 200 when all pass, else 503 with `failing`
  naming each failed component. The answer holds component names, timings and exception class
  names only: no personal data, no addresses, no credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

# Seconds each remote check may take: the whole answer stays well under a load balancer's timeout.
CHECK_TIMEOUT = 1.0


class CheckFailed(Exception):
    """A check's own verdict (as opposed to an exception from the component it checks)."""


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    if not settings.REDIS_URL:
        return  # file cache and file-system broker (make run): nothing to reach
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


def check_broker() -> None:
    from kombu import Connection

    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=CHECK_TIMEOUT,
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT)


def check_worker() -> None:
    from kombu import Connection

    from config.celery import app

    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=CHECK_TIMEOUT,
    ) as conn:
        replies = app.control.ping(timeout=CHECK_TIMEOUT, limit=1, connection=conn)
    if not replies:
        raise CheckFailed("no worker answered a ping")


def check_beat() -> None:
    """The interval entries of beat's schedule (the every-minute sweeps): the latest run is no
    older than two of the shortest interval. Beat saves `last_run_at` after every task it sends
    (CELERY_BEAT_SYNC_EVERY = 1)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    tasks = PeriodicTask.objects.filter(enabled=True, interval__isnull=False)
    seconds = {
        IntervalSchedule.DAYS: 86400,
        IntervalSchedule.HOURS: 3600,
        IntervalSchedule.MINUTES: 60,
        IntervalSchedule.SECONDS: 1,
        IntervalSchedule.MICROSECONDS: 1e-6,
    }
    rows = list(tasks.values_list("interval__every", "interval__period", "last_run_at"))
    if not rows:
        return  # nothing scheduled at intervals: nothing to be late
    shortest = min(every * seconds[period] for every, period, _ in rows)
    runs = [last for _, _, last in rows if last is not None]
    latest = max(runs) if runs else None
    if latest is None or timezone.now() - latest > timedelta(seconds=2 * shortest):
        raise CheckFailed("beat has not run an interval task within two intervals")


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "worker": check_worker,
    "beat": check_beat,
}
# A worker cannot answer a ping through a broker that is down: not asked, reported failing.
DEPENDS_ON = {"worker": "broker", "beat": "database"}


def run_checks() -> dict[str, dict]:
    results: dict[str, dict] = {}
    for name, check in READINESS_CHECKS.items():
        needed = DEPENDS_ON.get(name)
        if needed and not results[needed]["ok"]:
            results[name] = {"ok": False, "error": f"{needed} unavailable"}
            continue
        started = time.perf_counter()
        try:
            check()
        except CheckFailed as exc:
            results[name] = {"ok": False, "error": str(exc)}
        except Exception as exc:
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return results


class DirectEndpointsMiddleware:
    """Answers /health/, /health/ready/ and /metrics before the host check and the HTTPS
    redirect: load balancers, docker healthchecks and Prometheus call a container by its address
    over plain HTTP, and none of these answers depends on the host or carries a session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path in ("/health/", "/health/ready/", "/metrics"):
            from django.urls import resolve

            request.resolver_match = match = resolve(request.path)
            return match.func(request)
        return self.get_response(request)


@never_cache
def liveness(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readiness(request):
    checks = run_checks()
    failing = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "fail" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)
