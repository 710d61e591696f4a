from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Logins")

    def ready(self) -> None:
        from accounts import receivers  # noqa: F401 - connects the login audit


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin with the two-factor admin site (accounts.admin_site) as admin.site."""

    default_site = "accounts.admin_site.StaffAdminSite"
