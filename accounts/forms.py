"""The admin's login form: password and an authenticator code, both checked before a session."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.choices import FailureReason


class StaffLoginForm(AdminAuthenticationForm):
    """Username, password and the 6-digit code of the staff member's authenticator app (TOTP,
    django-otp): MLPS 2.0 level 3 asks two factors of every administrator login, one of them
    cryptographic. The code is checked only after the password (through django-axes' lockout
    backend); a wrong or missing code counts as a failed login for the lockout and the log.
    Every failure shows the same message, so it never tells which factor was wrong."""

    otp_token = forms.CharField(
        label=_("Authenticator code"),
        max_length=16,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": _(
            "Please enter the correct username, password and authenticator code of a staff "
            "account. All three may be case-sensitive. No authenticator yet, or a new phone? "
            "Ask your security administrator."
        ),
    }

    def clean(self):
        cleaned = super().clean()  # the password, through the authentication backends
        user = self.get_user()
        if user is None:
            return cleaned
        token = (cleaned.get("otp_token") or "").strip().replace(" ", "")
        reason = None
        with transaction.atomic():
            # Locked so that two guesses at once both count (django-otp's throttling).
            device = (
                TOTPDevice.objects.select_for_update()
                .filter(user=user, confirmed=True)
                .order_by("-pk")
                .first()
            )
            if device is None:
                reason = FailureReason.NOT_ENROLLED
            elif not device.verify_is_allowed()[0] or not token or not device.verify_token(token):
                reason = FailureReason.SECOND_FACTOR
        if reason is not None:
            # Outside the transaction, so that the throttle's count of failures stays.
            self.user_cache = None
            user_login_failed.send(
                sender=type(self),
                credentials={"username": user.get_username()},
                request=self.request,
                reason=reason,
            )
            raise self.get_invalid_login_error()
        user.otp_device = device  # django_otp.login() keeps it in the session at login
        return cleaned
