"""Every settings module puts the two-factor admin site, the lockout and the idle timeout in
front of the admin: no settings let a password alone in."""

import base64
import importlib

import pytest


@pytest.mark.parametrize("name", ["local", "test", "production"])
def test_every_settings_module_has_the_two_factor_admin_and_the_lockout(name, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 50)
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "example.org")
    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", "k1:" + base64.b64encode(b"k" * 32).decode())
    monkeypatch.setenv("FIELD_BLIND_INDEX_KEY", base64.b64encode(b"i" * 32).decode())
    module = importlib.import_module(f"config.settings.{name}")
    assert "accounts.apps.StaffAdminConfig" in module.INSTALLED_APPS
    assert "django.contrib.admin" not in module.INSTALLED_APPS
    middleware = module.MIDDLEWARE
    auth = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert middleware.index("django_otp.middleware.OTPMiddleware") > auth
    assert middleware.index("accounts.middleware.IdleTimeoutMiddleware") > auth
    assert "axes.middleware.AxesMiddleware" in middleware
    assert module.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert module.SESSION_IDLE_MINUTES == 15 and module.SESSION_SAVE_EVERY_REQUEST


def test_the_admin_site_is_the_two_factor_site():
    from django.contrib import admin

    from accounts.admin_site import StaffAdminSite

    assert isinstance(admin.site, StaffAdminSite)
