"""Statements PostgreSQL parses and plans once per database connection, for the few reads that
run on nearly every request of a hot endpoint (the partner-bank API's key and card lookups, the
public status lookup).

Compiling a joined queryset in the ORM and planning it in PostgreSQL cost more than the rest of
such a request (bench/api_load.py); a statement written out once from the models' _meta and
prepared on each connection costs neither. The preparing is psycopg's own (protocol-level
Parse/Bind/Execute, on a server-side-binding cursor of Django's connection): a connection
prepares the statement at its first use (`prepare_threshold` 0 in config/settings/base.py; Django
turns psycopg's preparing off unless told) and keeps it, and psycopg forgets it again on
`DISCARD ALL`/`DEALLOCATE ALL`. Against SQL-level `PREPARE`/`EXECUTE` this
saves the database parsing an `EXECUTE` per call and Python quoting the parameters into it, and
PgBouncer 1.21+ supports it in transaction pooling (`max_prepared_statements`).

The query runs through Django's cursor wrapper, so it is counted, logged under DEBUG and
translated into Django's database errors like any other.
"""

from __future__ import annotations

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

from common.routers import read_alias


def columns(alias: str, model, names: list[str] | None = None) -> tuple[list[str], str]:
    """(attnames, SQL column list) of a model's concrete fields (all, or `names` in model order),
    in the order `Model.from_db` takes them."""
    fields = [f for f in model._meta.concrete_fields if names is None or f.attname in names]
    return [f.attname for f in fields], ", ".join(f'{alias}."{f.column}"' for f in fields)


def instance_from_row(model, alias: str, attnames: list[str], values: list):
    """`Model.from_db` for a row read by raw SQL, with the fields' own conversions from the
    database applied as the ORM would (an encrypted column opened: common/fields.py)."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    converted = [
        fields[name].from_db_value(value, None, None)
        if value is not None and hasattr(fields[name], "from_db_value")
        else value
        for name, value in zip(attnames, values, strict=True)
    ]
    return model.from_db(alias, attnames, converted)


class PreparedStatement:
    """One statement with `%s` parameters, prepared by psycopg on each connection that runs it
    often. PostgreSQL only."""

    def __init__(self, sql: str, *, replica_ok: bool = False) -> None:
        self.sql = sql
        self.replica_ok = replica_ok  # may read from the replica (common/routers.py)

    def fetchone(self, params: list) -> tuple | None:
        connection = connections[read_alias() if self.replica_ok else DEFAULT_DB_ALIAS]
        connection.ensure_connection()
        with connection.wrap_database_errors:
            # Django's own cursors bind on the client (psycopg.ClientCursor), which never
            # prepares; this one binds on the server.
            raw = psycopg.Cursor(connection.connection)
        logged = connection.queries_logged
        cursor = connection.make_debug_cursor(raw) if logged else connection.make_cursor(raw)
        with cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchone()
