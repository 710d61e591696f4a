"""The browser harness itself: real Chromium reaches the live server and renders the admin login."""

import pytest

from tests.browser import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_chromium_renders_the_admin_login_in_chinese(browser_page):
    browser_page.goto("/admin/login/")
    assert browser_page.locator("input[name=username]").is_visible()
    assert "登录" in browser_page.content()  # Django's own Chinese translation of "Log in"
    screenshot(browser_page, "admin-login")
