"""Kinds of login events and why a login failed: defined once."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LoginEventKind(models.TextChoices):
    LOGIN = "login", _("Logged in")
    LOGOUT = "logout", _("Logged out")
    IDLE_TIMEOUT = "idle_timeout", _("Logged out after being idle")
    FAILURE = "failure", _("Login failed")
    LOCKOUT = "lockout", _("Locked out")


class FailureReason(models.TextChoices):
    CREDENTIALS = "credentials", _("Wrong username or password")
    SECOND_FACTOR = "second_factor", _("Wrong or missing authenticator code")
    NOT_ENROLLED = "not_enrolled", _("No authenticator enrolled")
    LOCKED_OUT = "locked_out", _("Attempt while locked out")
