"""Statements PostgreSQL parses and plans once per database connection, for the few reads that
run on nearly every request of a hot endpoint (the partner-bank API's key and card lookups, the
public status lookup).

Compiling a joined queryset in the ORM and planning it in PostgreSQL cost more than the rest of
such a request (bench/api_load.py); a statement written out once from the models' _meta, and
PREPAREd on each connection, costs neither. Prepared statements belong to the session and survive
a rollback; a new connection prepares again; the name carries a hash of the text, so a changed
statement never meets an old one. Not for a transaction-pooling PgBouncer.
"""

from __future__ import annotations

import hashlib
import weakref

from django.db import ProgrammingError, connection

# SQLSTATE invalid_sql_statement_name: the session does not know the statement (DISCARD ALL).
_UNKNOWN_STATEMENT = "26000"


def _numbered(sql: str) -> str:
    """%s placeholders as PostgreSQL's $1, $2, ..."""
    parts = sql.split("%s")
    return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, 1))


def columns(alias: str, model, names: list[str] | None = None) -> tuple[list[str], str]:
    """(attnames, SQL column list) of a model's concrete fields (all, or `names` in model order),
    in the order `Model.from_db` takes them."""
    fields = [f for f in model._meta.concrete_fields if names is None or f.attname in names]
    return [f.attname for f in fields], ", ".join(f'{alias}."{f.column}"' for f in fields)


class PreparedStatement:
    """One statement with `%s` parameters of the given PostgreSQL `types`."""

    def __init__(self, name: str, sql: str, types: tuple[str, ...]) -> None:
        self.sql = sql
        self.name = f"{name}_{hashlib.sha256(sql.encode()).hexdigest()[:12]}"
        self._prepare = f"PREPARE {self.name} ({', '.join(types)}) AS {_numbered(sql)}"
        self._execute = f"EXECUTE {self.name} ({', '.join(['%s'] * len(types))})"
        self._prepared_on: weakref.WeakSet = weakref.WeakSet()  # raw connections that hold it

    def fetchone(self, params: list) -> tuple | None:
        with connection.cursor() as cursor:
            raw = connection.connection
            if raw not in self._prepared_on:
                cursor.execute(self._prepare)
                self._prepared_on.add(raw)
            try:
                cursor.execute(self._execute, params)
            except ProgrammingError as exc:  # deallocated behind our back: once more
                sqlstate = getattr(exc.__cause__, "sqlstate", None)
                if sqlstate != _UNKNOWN_STATEMENT or connection.in_atomic_block:
                    raise
                cursor.execute(self._prepare)
                cursor.execute(self._execute, params)
            return cursor.fetchone()
