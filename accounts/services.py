"""Every write of the login log and of staff members' second factor (TOTP, django-otp)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import LoginEvent
from common.errors import ApplicationError

PURGE_BATCH_SIZE = 5000


def request_client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the header a trusted proxy sets
    (RATE_LIMIT_CLIENT_ADDRESS_HEADER, as for the status page's limits). None if not an address.
    Also django-axes' AXES_CLIENT_IP_CALLABLE, so lockouts and the log agree."""
    if request is None:
        return None
    header = settings.RATE_LIMIT_CLIENT_ADDRESS_HEADER
    raw = (request.META.get(header) if header else None) or request.META.get("REMOTE_ADDR", "")
    raw = raw.split(",")[0].strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def login_event_record(
    *,
    kind: str,
    username: str,
    user: AbstractBaseUser | None = None,
    request=None,
    reason: str = "",
) -> LoginEvent:
    """Append one row to the login log (Cybersecurity Law art. 21; MLPS 2.0 level 3 security
    audit): never a password or a code, only who, what, from where and when."""
    meta = getattr(request, "META", {}) if request is not None else {}
    return LoginEvent.objects.create(
        kind=kind,
        username=(username or "")[:150],
        user=user if user is not None and user.pk else None,
        ip_address=request_client_ip(request),
        user_agent=str(meta.get("HTTP_USER_AGENT", ""))[:255],
        reason=reason,
    )


def login_event_purge_expired(*, now=None) -> int:
    """Delete login-log rows older than LOGIN_AUDIT_RETENTION_DAYS, in batches (one short
    transaction each); return how many. Nothing younger is ever deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LOGIN_AUDIT_RETENTION_DAYS)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                LoginEvent.objects.filter(at__lt=cutoff)
                .order_by("at")
                .values_list("pk", flat=True)[:PURGE_BATCH_SIZE]
            )
            if not ids:
                return deleted
            deleted += LoginEvent.objects.filter(pk__in=ids).delete()[0]


def two_factor_device(user: AbstractBaseUser) -> TOTPDevice | None:
    """The user's one confirmed authenticator, if enrolled."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def two_factor_enrol(
    *, user: AbstractBaseUser, by: AbstractBaseUser | None = None
) -> tuple[TOTPDevice, str]:
    """Give `user` a new authenticator key (TOTP, RFC 6238), replacing any they had: enrolment
    and reset are the same act. Returns the device and its otpauth:// URI, which is shown once,
    to be scanned by the staff member's authenticator app.

    `by` is the security administrator doing it; nobody resets their own second factor (a
    stolen password must not be enough to take over the account). The management command
    passes no `by`: whoever runs it holds the server.
    """
    if by is not None and by.pk == user.pk:
        raise ApplicationError(
            _("You cannot reset your own second factor: ask another security administrator."),
            code="permission_denied",
            status=403,
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=True)
    return device, device.config_url
