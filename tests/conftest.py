import os
import sys

import pytest

# --- The test database: created and migrated by the owner role, used as the service role --------


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_keepdb):
    """Like pytest-django's, but with the database roles of production (common/db_roles.py):
    the roles are created here (the server's `postgres` user, trust auth on a developer's or
    CI's machine), the owner creates and migrates the test database, and every test connection
    is the service role's, which owns nothing and cannot change the transition log. The one
    thing tests do that the service may not is flushing the tables between transactional
    tests: that runs as the owner (flush_as_owner)."""
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    from common.db_roles import create_roles, db_roles, grant_privileges

    verbosity = request.config.option.verbose
    db = connections["default"]
    if db.vendor != "postgresql":
        with django_db_blocker.unblock():
            db_cfg = setup_databases(verbosity=verbosity, interactive=False)
        yield
        with django_db_blocker.unblock():
            teardown_databases(db_cfg, verbosity=verbosity)
        return

    roles = db_roles(db.settings_dict["NAME"])
    test_name = db.creation._get_test_db_name()
    with django_db_blocker.unblock():
        with db._nodb_cursor() as cursor:
            create_roles(cursor, roles, createdb=True)
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [test_name])
            if cursor.fetchone():  # left by an older run: the owner must be able to drop it
                cursor.execute(f'ALTER DATABASE "{test_name}" OWNER TO "{roles.owner}"')
        _connect_as(db, roles.owner, roles.owner_password)
        db_cfg = setup_databases(verbosity=verbosity, interactive=False, keepdb=django_db_keepdb)
        with db.cursor() as cursor:
            grant_privileges(cursor, roles, database=db.settings_dict["NAME"])
        _connect_as(db, roles.service, roles.service_password)
    patch = pytest.MonkeyPatch()
    patch.setattr(type(db.ops), "execute_sql_flush", _flush_as_owner(roles))
    yield
    patch.undo()
    with django_db_blocker.unblock():
        _connect_as(db, roles.owner, roles.owner_password)
        if not django_db_keepdb:
            teardown_databases(db_cfg, verbosity=verbosity)


def _connect_as(db, user: str, password: str) -> None:
    db.close()
    db.settings_dict["USER"] = user
    db.settings_dict["PASSWORD"] = password


def _flush_as_owner(roles):
    def flush(ops, sql_list):
        import psycopg
        from django.conf import settings

        s = ops.connection.settings_dict
        with (
            psycopg.connect(
                host=s["HOST"] or "127.0.0.1",
                port=s["PORT"] or 5432,
                dbname=s["NAME"],
                user=roles.owner,
                password=roles.owner_password or None,
            ) as owner,
            owner.cursor() as cursor,
        ):
            cursor.execute("SET lock_timeout = '60s'")
            for table in settings.DB_APPEND_ONLY_TABLES:
                cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
            for sql in sql_list:
                cursor.execute(sql)
            for table in settings.DB_APPEND_ONLY_TABLES:
                cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')

    return flush


@pytest.fixture(autouse=True)
def _no_pending_kick():
    """A test starts with no card-center re-drive marked as queued: a kick marks one until it
    starts (cards.cardcenter.kick), and a test without a worker leaves the mark for the next."""
    from django.core.cache import cache

    from cards import cardcenter

    cache.delete(cardcenter._KICK_KEY)
    yield


@pytest.fixture(autouse=True)
def _english(request):
    """Tests read messages in English unless a test switches language itself."""
    if "browser_page" in request.fixturenames:
        yield  # the browser chooses its own language
        return
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM_FLAGS, chromium_path

    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test itself (not by the live server) are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium, live_server, request):
    """A page in a new browser context; `@pytest.mark.viewport("phone")` for a phone screen,
    `@pytest.mark.browser_locale("en-US")` for an English browser (default zh-CN)."""
    from tests.browser import DESKTOP, PHONE, restore_reference_data

    restore_reference_data()
    viewport_marker = request.node.get_closest_marker("viewport")
    locale_marker = request.node.get_closest_marker("browser_locale")
    phone = viewport_marker and viewport_marker.args[0] == "phone"
    context = chromium.new_context(
        viewport=PHONE if phone else DESKTOP,
        locale=locale_marker.args[0] if locale_marker else "zh-CN",
        is_mobile=bool(phone),
        has_touch=bool(phone),
        base_url=live_server.url,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- Staff logins with their second factor (accounts/) -------------------------------------------


def totp_code(user) -> str:
    """The code the user's authenticator app shows now (enrolling them first if needed). The
    device forgets its last used code, so a test may log the same user in twice in 30 s."""
    from django_otp.oath import TOTP

    from accounts.services import two_factor_device, two_factor_enrol

    device = two_factor_device(user) or two_factor_enrol(user=user)[0]
    device.last_t = -1
    device.throttling_failure_count = 0
    device.save(update_fields=["last_t", "throttling_failure_count"])
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def staff_login(client, user):
    """Log `user` into the admin with both factors done, as the login form would leave the
    session (force_login plus django-otp's verified device). Returns the client."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts.services import two_factor_device, two_factor_enrol

    device = two_factor_device(user) or two_factor_enrol(user=user)[0]
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def form_login(client, username: str, password: str, code: str | None = None):
    """Log in through the admin's login form (password and authenticator code); the response."""
    from django.contrib.auth import get_user_model

    if code is None:
        code = totp_code(get_user_model().objects.get(username=username))
    return client.post(
        "/admin/login/",
        {"username": username, "password": password, "otp_token": code, "next": "/admin/"},
        REMOTE_ADDR="127.0.0.1",
    )


def browser_login(page, username: str, password: str) -> None:
    """Fill the admin's login form in a browser page, the authenticator code included."""
    from django.contrib.auth import get_user_model

    code = totp_code(get_user_model().objects.get(username=username))
    page.goto("/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.fill("input[name=otp_token]", code)
    page.click("input[type=submit]")


@pytest.fixture(scope="session", autouse=True)
def _purge_delivery_queues():
    """Deliveries queued after the commits of tests that no worker consumes: dropped at the end,
    so the test Redis does not fill up run after run."""
    yield
    import contextlib

    from django.conf import settings

    from config.celery import app

    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        for queue in (settings.WEBHOOK_QUEUE, settings.CARD_CENTER_QUEUE):
            conn.default_channel.queue_purge(queue)


@pytest.fixture(scope="session", autouse=True)
def _role_groups(django_db_setup, django_db_blocker):
    """The role groups again after the database is set up: a data migration makes them, and a
    transactional test's flush removes them, so a later run with `--reuse-db` (`make mutation`)
    would otherwise start without them."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    from agencies.roles import ROLE_PERMISSIONS, group_name, sync_role_groups

    names = [group_name(role) for role in ROLE_PERMISSIONS]
    with django_db_blocker.unblock():
        if Group.objects.filter(name__in=names).count() < len(names):
            sync_role_groups(apps)


def pytest_sessionfinish(session, exitstatus):
    """The safety net under the `celery_processes` fixture (tests/cards/processes.py): whatever
    real Celery process is still running when the session ends is killed with its group."""
    processes = sys.modules.get("tests.cards.processes")
    if processes is not None:
        processes.kill_all()
