"""The login log's only hooks: Django's and django-axes' authentication signals (there is no
service to call at those moments: django.contrib.auth logs in and out)."""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts.choices import FailureReason, LoginEventKind
from accounts.services import login_event_record


@receiver(user_logged_in, dispatch_uid="accounts.login")
def _logged_in(sender, request, user, **kwargs):
    login_event_record(
        kind=LoginEventKind.LOGIN, username=user.get_username(), user=user, request=request
    )


@receiver(user_logged_out, dispatch_uid="accounts.logout")
def _logged_out(sender, request, user, **kwargs):
    if user is None:  # the session had already ended (idle timeout)
        return
    kind = (
        LoginEventKind.IDLE_TIMEOUT
        if getattr(request, "idle_timeout", False)
        else LoginEventKind.LOGOUT
    )
    login_event_record(kind=kind, username=user.get_username(), user=user, request=request)


@receiver(user_login_failed, dispatch_uid="accounts.failure")
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or "")
    reason = kwargs.get("reason") or (
        FailureReason.LOCKED_OUT
        if getattr(request, "axes_locked_out", False)
        else FailureReason.CREDENTIALS
    )
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    login_event_record(
        kind=LoginEventKind.FAILURE, username=username, user=user, request=request, reason=reason
    )


@receiver(user_locked_out, dispatch_uid="accounts.lockout")
def _locked_out(sender, request, username=None, ip_address=None, **kwargs):
    login_event_record(kind=LoginEventKind.LOCKOUT, username=username or "", request=request)
