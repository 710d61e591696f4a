"""The login log: every login, logout, failed login and lockout of the back office."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.choices import FailureReason, LoginEventKind


class LoginEvent(models.Model):
    """One login, logout, failed login or lockout: who (the username typed, and the user if
    known), from where, when. Kept LOGIN_AUDIT_RETENTION_DAYS (at least 6 months, Cybersecurity
    Law art. 21), then purged by beat; never changed."""

    at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("event"), max_length=16, choices=LoginEventKind.choices)
    username = models.CharField(_("username"), max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=255, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=FailureReason.choices, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("login event")
        verbose_name_plural = _("login log")
        indexes = [
            models.Index(fields=["at"], name="loginevent_at_idx"),
            models.Index(fields=["username", "at"], name="loginevent_username_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.get_kind_display()} {self.username}"
