"""Fixed-window rate limits on an atomic counter in Redis.

A `Limit` allows `limit` hits per `window` for one identity (a client address, a receipt number).
The window is numbered from Django's clock (`timezone.now()`), and the number is part of the key:
a new window is a new key, so a frozen or travelling clock in tests behaves exactly like real time,
and Redis's own clock (the key's TTL) only collects garbage. All counters of one request are
incremented by one Lua script (INCR, and EXPIRE on a new key), which Redis runs atomically in one
round trip: concurrent requests never lose a hit, two limits are never half-counted, and a
counter never lives without its expiry. The script is sent once and then called by its SHA.

Identities are keyed by an HMAC with the secret key (`salted_hmac`): no client address or receipt
number is ever written to Redis in the clear (PIPL: no personal data in caches).

Without REDIS_URL (a laptop with no servers) the Django cache stands in; it is not atomic across
processes, which a single developer does not notice.

If Redis cannot be reached, `hit` raises `Unavailable`: the callers refuse the request with a
clear "try again shortly" (503) rather than let it through uncounted or fail with a 500.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.crypto import salted_hmac

logger = logging.getLogger(__name__)

KEY_PREFIX = "shebao:ratelimit"
# Seconds a client is asked to wait when the limiter's Redis cannot be reached.
UNAVAILABLE_RETRY_AFTER = 60


class Unavailable(Exception):
    """The counters cannot be reached: the request can be neither counted nor allowed."""

    retry_after = UNAVAILABLE_RETRY_AFTER

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


# A key outlives its window by this much on Redis's clock, in case the two clocks disagree.
TTL_SLACK_SECONDS = 60


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits per `window` for one identity in `scope`."""

    scope: str
    limit: int
    window: datetime.timedelta

    @property
    def window_seconds(self) -> int:
        return max(1, int(self.window.total_seconds()))


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until every tripped limit's window has ended

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def hit(checks: Iterable[tuple[Limit, str]]) -> Verdict:
    """Count one hit against each (limit, identity) and say whether all are within their limit.

    Every hit counts, allowed or not, so hammering a tripped limit does not shorten the wait.
    """
    checks = list(checks)
    now = timezone.now().timestamp()
    keys, ttls = [], []
    for limit, identity in checks:
        window_number = int(now // limit.window_seconds)
        digest = salted_hmac(f"{KEY_PREFIX}:{limit.scope}", identity, algorithm="sha256")
        keys.append(f"{KEY_PREFIX}:{limit.scope}:{window_number}:{digest.hexdigest()[:32]}")
        ttls.append(limit.window_seconds + TTL_SLACK_SECONDS)
    counts = _increment(keys, ttls)
    retry_after = 0
    for (limit, _identity), count in zip(checks, counts, strict=True):
        if count > limit.limit:
            window_end = (int(now // limit.window_seconds) + 1) * limit.window_seconds
            retry_after = max(retry_after, math.ceil(window_end - now))
    return Verdict(allowed=retry_after == 0, retry_after=retry_after)


def peek(limit: Limit, identity: str) -> Verdict:
    """Whether `identity` is within `limit` now, without counting a hit (one GET): for limits
    counted only on failure, checked before the work that could fail (a wrong API key)."""
    now = timezone.now().timestamp()
    window_number = int(now // limit.window_seconds)
    digest = salted_hmac(f"{KEY_PREFIX}:{limit.scope}", identity, algorithm="sha256")
    key = f"{KEY_PREFIX}:{limit.scope}:{window_number}:{digest.hexdigest()[:32]}"
    if not settings.REDIS_URL:
        count = cache.get(key) or 0
    else:
        try:
            count = int(_redis(settings.REDIS_URL).get(key) or 0)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.warning("rate limiter unavailable: %s", type(exc).__name__)
            raise Unavailable from exc
    if count < limit.limit:
        return Verdict(allowed=True)
    window_end = (window_number + 1) * limit.window_seconds
    return Verdict(allowed=False, retry_after=math.ceil(window_end - now))


def client_address(request) -> str:
    """The client's address for limiting: REMOTE_ADDR, or the header a trusted proxy sets
    (RATE_LIMIT_CLIENT_ADDRESS_HEADER). An IPv6 client is limited by its /64 network, which one
    household or phone usually holds whole."""
    header = getattr(settings, "RATE_LIMIT_CLIENT_ADDRESS_HEADER", "")
    raw = (request.META.get(header) if header else None) or request.META.get("REMOTE_ADDR", "")
    raw = raw.split(",")[0].strip()
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _increment(keys: list[str], ttls: list[int]) -> list[int]:
    if not settings.REDIS_URL:
        return [_increment_in_cache(key, ttl) for key, ttl in zip(keys, ttls, strict=True)]
    try:
        return [int(count) for count in _script(settings.REDIS_URL)(keys=keys, args=ttls)]
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        logger.warning("rate limiter unavailable: %s", type(exc).__name__)  # names no one
        raise Unavailable from exc


# KEYS: the counters; ARGV: each counter's TTL in seconds. Returns the counts after this hit.
INCREMENT = """
local counts = {}
for i, key in ipairs(KEYS) do
    counts[i] = redis.call('INCR', key)
    if redis.call('TTL', key) < 0 then
        redis.call('EXPIRE', key, ARGV[i])
    end
end
return counts
"""


def _increment_in_cache(key: str, ttl: int) -> int:
    cache.add(key, 0, ttl)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, ttl)
        return 1


@functools.cache
def _redis(url: str):
    """One client (and connection pool) per process; built on first use, after a fork."""
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


@functools.cache
def _script(url: str):
    """The increment script, registered with the process's client: EVALSHA, and EVAL once when
    Redis does not know it yet (a new or flushed server)."""
    return _redis(url).register_script(INCREMENT)


def clear_all() -> None:
    """Forget every counter (tests, and an operator who has lifted a block)."""
    if settings.REDIS_URL:
        client = _redis(settings.REDIS_URL)
        for key in client.scan_iter(match=f"{KEY_PREFIX}:*", count=1000):
            client.delete(key)
    else:
        cache.clear()  # the file cache cannot be searched by prefix; it holds nothing else of value
