import os
import sys

import pytest


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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
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
