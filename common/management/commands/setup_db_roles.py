"""Create the database's owner and service roles and their privileges (common/db_roles.py)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from common.db_roles import create_roles, db_roles, grant_privileges, is_superuser, take_ownership


class Command(BaseCommand):
    help = (
        "Create (idempotently) the owner role that runs migrations and the service role the "
        "application connects as (SELECT/INSERT/UPDATE/DELETE; the transition log INSERT-only), "
        "with default privileges for later tables. Run it as a superuser once, and again as the "
        "owner or a superuser after each migrate. Prints the service role's name last."
    )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are a PostgreSQL feature; this database is not.")
        database = connection.settings_dict["NAME"]
        roles = db_roles(database)
        with transaction.atomic(), connection.cursor() as cursor:
            if is_superuser(cursor):
                create_roles(cursor, roles)
                take_ownership(cursor, roles, database=database)
                self.stdout.write(f"Roles {roles.owner} (owner) and {roles.service} ready.")
            else:
                cursor.execute("SELECT current_user")
                if cursor.fetchone()[0] != roles.owner:
                    raise CommandError(
                        f"Run this as a superuser or as the owner role {roles.owner!r}."
                    )
            grant_privileges(cursor, roles, database=database)
        self.stdout.write(f"Privileges of {roles.service} on {database} granted.")
        self.stdout.write(roles.service)
