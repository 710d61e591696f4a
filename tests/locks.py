"""A second database connection holding a row lock, and a short lock timeout for the code under
test: a test that fails when a `select_for_update()` (or a SKIP LOCKED) is removed.

Which lock the other connection holds decides what it detects. `FOR KEY SHARE` conflicts with the
`FOR UPDATE` of `select_for_update()`, but not with a plain UPDATE of non-key columns nor with an
INSERT whose foreign key points at the row: code that locks the row waits, code that forgot the
lock does not. (Use with pytest.mark.django_db(transaction=True): the other connection sees only
committed rows.)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import OperationalError, connection


def _connect() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
    )


@contextlib.contextmanager
def row_held(model, pk, mode: str = "FOR KEY SHARE") -> Iterator[None]:
    """Another transaction holds `mode` on the row of `model` with primary key `pk`."""
    assert mode in ("FOR KEY SHARE", "FOR SHARE", "FOR NO KEY UPDATE", "FOR UPDATE")
    other = _connect()
    try:
        table = connection.ops.quote_name(model._meta.db_table)
        found = other.execute(f"SELECT 1 FROM {table} WHERE id = %s {mode}", [pk]).fetchone()
        assert found, f"no row {pk} in {table}"
        yield
    finally:
        other.rollback()
        other.close()


@contextlib.contextmanager
def lock_timeout(milliseconds: int) -> Iterator[None]:
    """This test's connection gives up waiting for a lock after `milliseconds`."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{int(milliseconds)}ms'")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def assert_waits_for_the_lock(call, milliseconds: int = 300) -> None:
    """`call()` waits for the held lock: it gives up with PostgreSQL's lock timeout."""
    started = time.monotonic()
    with lock_timeout(milliseconds), pytest.raises(OperationalError) as waited:
        call()
    assert isinstance(waited.value.__cause__, psycopg.errors.LockNotAvailable), waited.value
    assert time.monotonic() - started >= milliseconds / 1000 * 0.9


def assert_request_waits_for_the_lock(call, milliseconds: int = 300) -> None:
    """An API request `call()` waits for the held lock: it gives up with PostgreSQL's lock
    timeout, which the API answers as 503 `service_unavailable` with Retry-After (common/faults)."""
    started = time.monotonic()
    with lock_timeout(milliseconds):
        response = call()
    assert response.status_code == 503, response.content
    assert response["Retry-After"]
    assert time.monotonic() - started >= milliseconds / 1000 * 0.9


@contextlib.contextmanager
def other_transaction() -> Iterator[psycopg.Connection]:
    """A second connection in its own open transaction (commit it, or it is rolled back)."""
    other = _connect()
    try:
        yield other
    finally:
        other.rollback()
        other.close()


def commit_once_waited_on(other: psycopg.Connection, timeout: float = 10.0) -> threading.Thread:
    """Commit `other` (from a thread) as soon as another backend waits for one of its locks: the
    code under test has got past its checks and reached the write that waits for `other`."""
    pid = other.info.backend_pid

    def run() -> None:
        watcher = _connect()
        watcher.autocommit = True
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                row = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    [pid],
                ).fetchone()
                if row[0]:
                    break
                time.sleep(0.02)
        finally:
            watcher.close()
        other.commit()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
