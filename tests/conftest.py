import os

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
