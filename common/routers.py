"""Reads that may lag a little go to the streaming replica (DATABASE_REPLICA_URL): the public status
page, the partner-bank API's GETs and the admin's list pages. Everything else, every write, and
every read inside a transaction stays on the primary.

The lag guard sends a read back to the primary when
- the client wrote in the last DATABASE_READ_YOUR_WRITES_SECONDS (its session or API key, marked
  in the cache by ReplicaRoutingMiddleware after any unsafe request): it must see its own write;
- the replica lags more than DATABASE_REPLICA_MAX_LAG_SECONDS, or cannot be reached (checked at
  most once a second per process, `now() - pg_last_xact_replay_timestamp()`, counting a replica
  that has replayed everything as not lagging; one that could not be reached, every 5 seconds).
  A replica that dies between two checks fails the reads of that second with the usual 503
  (common/faults.py); the retry reads the primary.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
# Set per request by ReplicaRoutingMiddleware: this request's reads may use the replica.
use_replica: contextvars.ContextVar[bool] = contextvars.ContextVar("use_replica", default=False)
LAG_CHECK_INTERVAL = 1.0
DOWN_CHECK_INTERVAL = 5.0  # a replica that could not be reached is tried again after this

_lag_lock = threading.Lock()
_lag_state = {"checked": 0.0, "healthy": False, "reachable": True}

_LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
END
"""


def replica_lag_seconds() -> float:
    """The replica's lag now (0 when it has replayed all it received). Raises if unreachable."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(_LAG_SQL)
        return float(cursor.fetchone()[0])


def replica_healthy(*, fresh: bool = False) -> bool:
    """Reachable and lagging at most DATABASE_REPLICA_MAX_LAG_SECONDS (cached a second)."""
    now = time.monotonic()
    interval = LAG_CHECK_INTERVAL if _lag_state["reachable"] else DOWN_CHECK_INTERVAL
    if not fresh and now - _lag_state["checked"] < interval:
        return _lag_state["healthy"]
    with _lag_lock:
        reachable = True
        try:
            healthy = replica_lag_seconds() <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        except DatabaseError:
            healthy = reachable = False
            connections[REPLICA].close()
        if healthy != _lag_state["healthy"]:
            logger.warning(
                "replica %s", "in use" if healthy else "lagging or down: reads to primary"
            )
        _lag_state.update(checked=time.monotonic(), healthy=healthy, reachable=reachable)
    return healthy


def read_alias() -> str:
    """Where a read of this request goes now: the replica, or the primary ("default")."""
    if REPLICA not in connections.settings or not use_replica.get():
        return "default"
    if connections["default"].in_atomic_block:
        return "default"  # a read inside a transaction sees that transaction's writes
    return REPLICA if replica_healthy() else "default"


# Who the client is must be read where it was last written: a login's fresh session, a user's
# changed permissions, are never looked up on a replica that may not have them yet.
PRIMARY_ONLY_APPS = frozenset({"sessions", "auth", "contenttypes"})


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return "default"
        return read_alias()

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"


# --- Which requests may read from the replica ---------------------------------------------------

SAFE_METHODS = ("GET", "HEAD")
# POSTs that only read: the status lookup posts the ID number so that it never sits in a URL.
READ_ONLY_POSTS = ("/status/",)


def _reads_only(request) -> bool:
    return request.method in SAFE_METHODS or (
        request.method == "POST" and request.path in READ_ONLY_POSTS
    )


WROTE_KEY = "shebao:wrote:"


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _client_key(request) -> str | None:
    """Who the client is, for read-your-writes: its API key, else its session."""
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if authorization:
        return _hashed(authorization)
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    return _hashed(session_key) if session_key else None


def _replica_page(request) -> bool:
    path = request.path
    if path.startswith(("/status/", "/api/")):
        return True
    match = getattr(request, "resolver_match", None)
    return bool(match and match.url_name and match.url_name.endswith("_changelist"))


class ReplicaRoutingMiddleware:
    """Marks the reads of a safe request to a replica page as replica-eligible, unless its client
    wrote recently; after an unsafe request, remembers that its client wrote."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if REPLICA not in connections.settings:
            return self.get_response(request)
        client = _client_key(request)
        if not _reads_only(request):
            response = self.get_response(request)
            fresh = response.cookies.get(settings.SESSION_COOKIE_NAME)  # e.g. after a login
            for key in {client, _hashed(fresh.value) if fresh and fresh.value else None} - {None}:
                cache.set(WROTE_KEY + key, 1, settings.DATABASE_READ_YOUR_WRITES_SECONDS)
            return response
        token = use_replica.set(False)
        request._replica_client = client
        try:
            return self.get_response(request)
        finally:
            use_replica.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if REPLICA not in connections.settings or not _reads_only(request):
            return None
        if not _replica_page(request):
            return None
        client = getattr(request, "_replica_client", None)
        if client and cache.get(WROTE_KEY + client):
            return None  # read your own writes: the primary
        use_replica.set(True)
        return None
