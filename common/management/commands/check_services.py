"""Stop at once, with a clear message, if PostgreSQL or Redis is not reachable (make test)."""

import sys

import redis
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections
from django.db.utils import OperationalError

HOW_TO_START = {
    "PostgreSQL": (
        "Start it (Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
        "start; or: docker compose up -d db) or point DATABASE_URL at a running server."
    ),
    "Redis": (
        "Start it (redis-server --daemonize yes; or: docker compose up -d redis) or point "
        "REDIS_URL at a running server."
    ),
}


class Command(BaseCommand):
    help = "Check that the PostgreSQL and Redis the settings name are reachable."

    def handle(self, *args, **options):
        failures = []
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql":
            failures.append(("PostgreSQL", f"DATABASE_URL names {db['ENGINE']}, not PostgreSQL"))
        else:
            try:
                # Connect to the maintenance database: the test database need not exist yet.
                with connections["default"]._nodb_cursor() as cursor:
                    cursor.execute("SELECT 1")
            except OperationalError as exc:
                where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
                failures.append(("PostgreSQL", f"not reachable at {where}: {exc}".strip()))
        if not settings.REDIS_URL:
            failures.append(("Redis", "REDIS_URL is empty"))
        else:
            try:
                redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
            except redis.RedisError as exc:
                failures.append(("Redis", f"not reachable at {settings.REDIS_URL}: {exc}"))
        for service, problem in failures:
            self.stderr.write(f"{service} {problem}.\n  {HOW_TO_START[service]}")
        if failures:
            sys.exit(1)
        self.stdout.write("PostgreSQL and Redis are reachable.")
