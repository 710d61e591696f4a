"""The service's database role (common/db_roles.py): the tests themselves connect as it, so the
whole suite proves it may do what the application does; these prove what it may not."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from cards.models import CardTransition
from common.db_roles import db_roles
from tests.cards.conftest import eligible_person, submit

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
LOG = "cards_cardtransition"


@pytest.fixture
def roles():
    # Named after the database the suite was started with (tests/conftest.py django_db_setup).
    return db_roles(connection.settings_dict["NAME"].removeprefix("test_"))


@pytest.fixture
def logged(world):
    card = submit(world, eligible_person())
    return card.transitions.get()


def refused(sql: str, params=None) -> str:
    """Run `sql` as the application; return PostgreSQL's refusal (and fail if it succeeds)."""
    with (
        pytest.raises(DatabaseError) as refusal,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
    return str(refusal.value)


def owner_connection(roles) -> psycopg.Connection:
    s = connection.settings_dict
    owner = psycopg.connect(
        host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, dbname=s["NAME"], user=roles.owner
    )
    owner.execute("SET lock_timeout = '10s'")  # fail, never hang, if a test holds a lock
    return owner


def test_the_tests_run_as_the_service_role_which_is_no_superuser_and_owns_nothing(roles):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (roles.service, False)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user"
        )
        assert cursor.fetchone()[0] == 0


def test_the_application_appends_to_the_log(logged):
    assert CardTransition.objects.filter(pk=logged.pk).exists()


def test_the_log_cannot_be_updated_deleted_or_truncated_with_the_services_credentials(logged):
    assert "permission denied" in refused(
        f"UPDATE {LOG} SET reason = 'x' WHERE id = %s", [logged.pk]
    )
    assert "permission denied" in refused(f"DELETE FROM {LOG} WHERE id = %s", [logged.pk])
    assert "permission denied" in refused(f"TRUNCATE {LOG}")
    assert "permission denied" in refused(f"TRUNCATE {LOG} CASCADE")
    assert CardTransition.objects.get(pk=logged.pk).reason == logged.reason


def test_the_logs_triggers_cannot_be_disabled_or_dropped_with_the_services_credentials(logged):
    assert "must be owner" in refused(f"ALTER TABLE {LOG} DISABLE TRIGGER ALL")
    assert "must be owner" in refused(f"ALTER TABLE {LOG} DISABLE TRIGGER USER")
    assert "must be owner" in refused(f"DROP TRIGGER cards_cardtransition_append_only ON {LOG}")
    assert "must be owner" in refused(f"DROP TABLE {LOG}")
    assert "permission denied" in refused("SET session_replication_role = replica")
    assert "permission denied" in refused("CREATE TABLE public.sneaky (id int)")


# The owner's connection must see committed rows and wait for no lock of the test's own
# transaction: these tests commit (and the tables are flushed after them).
@pytest.mark.django_db(transaction=True)
def test_even_the_owner_cannot_truncate_update_or_delete_the_log(roles, logged):
    for sql in (f"TRUNCATE {LOG} CASCADE", f"UPDATE {LOG} SET reason = 'x'", f"DELETE FROM {LOG}"):
        with owner_connection(roles) as owner, pytest.raises(psycopg.errors.RaiseException):
            owner.execute(sql)


@pytest.mark.django_db(transaction=True)
def test_tables_a_later_migration_creates_are_usable_by_the_service_at_once(roles):
    with owner_connection(roles) as owner:
        owner.execute("CREATE TABLE later_migration_table (id bigint PRIMARY KEY)")
    try:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO later_migration_table VALUES (1)")
            cursor.execute("SELECT id FROM later_migration_table")
            assert cursor.fetchone() == (1,)
    finally:
        with owner_connection(roles) as owner:
            owner.execute("DROP TABLE later_migration_table")


@pytest.mark.django_db(transaction=True)
def test_setup_db_roles_is_idempotent_and_prints_the_service_role_last(roles):
    s = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://postgres@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/"
        f"{s['NAME']}",
        "DB_OWNER_ROLE": roles.owner,
        "DB_SERVICE_ROLE": roles.service,
    }
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "manage.py", "setup_db_roles"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip().splitlines()[-1] == roles.service
    assert "permission denied" in refused(f"DELETE FROM {LOG}")


def test_setup_db_roles_refuses_the_services_own_credentials():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="superuser or as the owner"):
        call_command("setup_db_roles")


def test_the_append_only_tables_are_the_transition_log():
    assert [CardTransition._meta.db_table] == settings.DB_APPEND_ONLY_TABLES
