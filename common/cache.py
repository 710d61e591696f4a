"""The Django cache backends, timed for /metrics (common/metrics.py): the same Redis and file
caches, each call observed in `shebao_cache_duration_seconds{operation}` and each read counted as
a hit or a miss."""

from __future__ import annotations

import time

from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache

from common.metrics import observe_cache, observe_cache_get

_MISSING = object()


class _Timed:
    def get(self, key, default=None, version=None):
        started = time.perf_counter()
        value = super().get(key, _MISSING, version)
        observe_cache("get", time.perf_counter() - started)
        observe_cache_get(value is not _MISSING)
        return default if value is _MISSING else value

    def set(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().set(*args, **kwargs)
        finally:
            observe_cache("set", time.perf_counter() - started)

    def add(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().add(*args, **kwargs)
        finally:
            observe_cache("add", time.perf_counter() - started)

    def delete(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().delete(*args, **kwargs)
        finally:
            observe_cache("delete", time.perf_counter() - started)

    def get_many(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().get_many(*args, **kwargs)
        finally:
            observe_cache("get_many", time.perf_counter() - started)

    def incr(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().incr(*args, **kwargs)
        finally:
            observe_cache("incr", time.perf_counter() - started)


class TimedRedisCache(_Timed, RedisCache):
    pass


class TimedFileBasedCache(_Timed, FileBasedCache):
    pass
