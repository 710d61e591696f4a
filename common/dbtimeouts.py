"""A longer statement timeout for one piece of work (a sweep's batches), set per transaction.

`SET LOCAL` lasts until its transaction ends, so it is safe behind a transaction-pooling
PgBouncer, where a session-level `SET` would leak to whoever gets the server connection next.
The wrapper issues it before each statement run inside a transaction (a sweep batch is one or two
statements, so the cost is one more round trip each); statements in autocommit keep the
connection's default (DATABASE_STATEMENT_TIMEOUT_MS).
"""

from __future__ import annotations

import contextlib

from django.db import connection


@contextlib.contextmanager
def statement_timeout(milliseconds: int):
    def wrapper(execute, sql, params, many, context):
        conn = context["connection"]
        if conn.vendor == "postgresql" and conn.in_atomic_block:
            execute(f"SET LOCAL statement_timeout = {int(milliseconds)}", None, False, context)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield
