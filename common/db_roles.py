"""The two PostgreSQL roles of the service (MLPS 2.0 level 3: least privilege; the append-only
transition log protected from the application's own credentials).

- The **owner** owns the database, its schema and every table: migrations run as it.
- The **service** role, which web, worker and beat connect as, owns nothing: it may SELECT,
  INSERT, UPDATE and DELETE, but on the append-only tables (settings.DB_APPEND_ONLY_TABLES:
  the card transition log) only SELECT and INSERT. Not being the owner, it cannot ALTER a
  table, so it cannot disable the log's triggers; it has TRUNCATE on no table.

Default privileges make every table a later migration (run by the owner) creates usable by the
service role at once; `setup_db_roles` runs again after `migrate` to take the append-only
tables' UPDATE and DELETE back. Everything here is idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DbRoles:
    owner: str
    service: str
    owner_password: str = ""
    service_password: str = ""


def db_roles(database_name: str) -> DbRoles:
    """The role names (DB_OWNER_ROLE, DB_SERVICE_ROLE; default `<database>_owner`,
    `<database>_app`) and passwords (DB_OWNER_PASSWORD, DB_SERVICE_PASSWORD) of a database."""
    base = re.sub(r"[^a-z0-9_]", "_", database_name.lower())
    roles = DbRoles(
        owner=settings.DB_OWNER_ROLE or f"{base}_owner",
        service=settings.DB_SERVICE_ROLE or f"{base}_app",
        owner_password=settings.DB_OWNER_PASSWORD,
        service_password=settings.DB_SERVICE_PASSWORD,
    )
    for name in (roles.owner, roles.service):
        if not _ROLE_NAME.match(name):
            raise ValueError(f"Role name {name!r}: lower-case letters, digits and _ only.")
    return roles


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_superuser(cursor) -> bool:
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    return bool(cursor.fetchone()[0])


def create_roles(cursor, roles: DbRoles, *, createdb: bool = False) -> None:
    """Create both login roles if missing and (re)set their attributes and passwords. Needs a
    superuser (or CREATEROLE). `createdb` lets the owner create databases: the test suite's."""
    wanted = (
        (roles.owner, roles.owner_password, "CREATEDB" if createdb else "NOCREATEDB"),
        (roles.service, roles.service_password, "NOCREATEDB"),
    )
    for name, password, createdb_attr in wanted:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        if cursor.fetchone() is None:
            # Two test runs at once may both get here: the second CREATE fails, and is harmless.
            cursor.execute(
                f"DO $$ BEGIN CREATE ROLE {_q(name)} LOGIN; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        attributes = f"LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS {createdb_attr}"
        cursor.execute(f"ALTER ROLE {_q(name)} WITH {attributes}")
        if password:
            cursor.execute(f"ALTER ROLE {_q(name)} WITH PASSWORD %s", [password])


def take_ownership(cursor, roles: DbRoles, *, database: str) -> None:
    """Make the owner role own the database, the public schema and every table, sequence, view
    and function in it (a database migrated before the roles existed). Needs a superuser."""
    owner = _q(roles.owner)
    cursor.execute(f"ALTER DATABASE {_q(database)} OWNER TO {owner}")
    cursor.execute(f"ALTER SCHEMA public OWNER TO {owner}")
    cursor.execute(
        """
        SELECT c.relname, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND pg_get_userbyid(c.relowner) <> %s
          AND NOT EXISTS (  -- a column's own sequence follows its table
              SELECT 1 FROM pg_depend d
              WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
          )
        """,
        [roles.owner],
    )
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    for name, kind in cursor.fetchall():
        cursor.execute(f"ALTER {kinds[kind]} public.{_q(name)} OWNER TO {owner}")
    cursor.execute(
        """
        SELECT p.oid::regprocedure::text FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> %s
        """,
        [roles.owner],
    )
    for (signature,) in cursor.fetchall():
        cursor.execute(f"ALTER FUNCTION {signature} OWNER TO {owner}")


def grant_privileges(cursor, roles: DbRoles, *, database: str) -> None:
    """The service role's privileges, now and for tables created later by the owner. Run as the
    owner or a superuser, after every migrate (idempotent)."""
    service, owner = _q(roles.service), _q(roles.owner)
    statements = [
        f"REVOKE ALL ON DATABASE {_q(database)} FROM PUBLIC",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {_q(database)} TO {service}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {service}",
        f"REVOKE CREATE ON SCHEMA public FROM {service}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {service}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {service}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {service}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {service}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {service}",
    ]
    for statement in statements:
        cursor.execute(statement)
    for table in settings.DB_APPEND_ONLY_TABLES:
        cursor.execute("SELECT to_regclass(%s)", [f"public.{table}"])
        if cursor.fetchone()[0] is None:
            continue  # not migrated yet: run setup_db_roles again after migrate
        cursor.execute(
            f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.{_q(table)} "
            f"FROM {service}, PUBLIC"
        )
