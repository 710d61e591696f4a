"""Every write to staff (where a user works, in which role) and to partner banks' API access."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.choices import CENTRAL_ROLES, ServicePointKind, StaffRole
from agencies.models import BankApiKey, PartnerBank, PlatformApiKey, ServicePoint, Staff
from agencies.roles import group_name
from common.errors import ApplicationError


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid", details={field: [message]})


def staff_validate(
    *, role: str, service_point: ServicePoint | None = None, bank: PartnerBank | None = None
) -> None:
    """The rules of a staff assignment, without writing: a known role, exactly one workplace
    (a service point or a bank) or, for the central roles, none, and a hotline operator only at
    the 12333 hotline.

    Raises ApplicationError(code="invalid") naming the field at fault. The admin form calls this
    to show the clerk the same message the service would raise.
    """
    if role not in StaffRole.values:
        raise _invalid("role", _("Unknown role."))
    if role in CENTRAL_ROLES:
        if service_point is not None or bank is not None:
            raise _invalid(
                "service_point",
                _(
                    "System administrators, security administrators and auditors work at the "
                    "municipal center: leave the service point and the bank empty."
                ),
            )
        return
    if service_point is None and bank is None:
        raise _invalid(
            "service_point", _("Choose the service point or the bank the person works at.")
        )
    if service_point is not None and bank is not None:
        raise _invalid(
            "bank", _("A staff member works at exactly one service point or one bank, not both.")
        )
    if role == StaffRole.HOTLINE_OPERATOR and (
        service_point is None or service_point.kind != ServicePointKind.HOTLINE
    ):
        raise _invalid(
            "service_point",
            _("A hotline operator works at a service point of kind hotline (12333)."),
        )


def _set_role_group(user: AbstractUser, role: str) -> None:
    """Put the user in the group of `role` and in no other role group; other groups stay."""
    role_groups = {group_name(r) for r in StaffRole.values}
    wanted = group_name(role)
    current = set(user.groups.filter(name__in=role_groups).values_list("name", flat=True))
    stale = current - {wanted}
    if stale:
        user.groups.remove(*Group.objects.filter(name__in=stale))
    if wanted not in current:
        try:
            group = Group.objects.get(name=wanted)
        except Group.DoesNotExist:
            raise ImproperlyConfigured(
                f"The role group {wanted!r} does not exist: run `manage.py migrate` "
                "(agencies.roles.sync_role_groups creates it)."
            ) from None
        user.groups.add(group)


def staff_assign(
    *,
    user: AbstractUser,
    role: str,
    service_point: ServicePoint | None = None,
    bank: PartnerBank | None = None,
) -> Staff:
    """Make `user` a staff member with `role` at one service point or one bank.

    Creates or updates the user's one Staff row, puts the user in exactly the group of the role
    (agencies.roles: the role's model permissions) and lets them log into the admin (is_staff).
    Writes nothing that is already as asked, so assigning twice changes nothing.
    """
    staff_validate(role=role, service_point=service_point, bank=bank)
    with transaction.atomic():
        # Lock the user: two assignments of one user at once must not both create a Staff row.
        locked = get_user_model().objects.select_for_update().get(pk=user.pk)
        staff = Staff.objects.filter(user=locked).first()
        wanted = {
            "role": role,
            "service_point_id": service_point.pk if service_point else None,
            "bank_id": bank.pk if bank else None,
        }
        if staff is None:
            staff = Staff.objects.create(user=locked, **wanted)
        else:
            changed = [name for name, value in wanted.items() if getattr(staff, name) != value]
            if changed:
                for name in changed:
                    setattr(staff, name, wanted[name])
                staff.save(update_fields=changed)
        _set_role_group(locked, role)
        if not locked.is_staff:
            locked.is_staff = True
            locked.save(update_fields=["is_staff"])
        user.is_staff = True
    staff.service_point = service_point
    staff.bank = bank
    staff.user = user
    return staff


def staff_remove(*, staff: Staff) -> None:
    """End a staff assignment: delete the Staff row, take the user out of every role group and
    out of the admin (is_staff), in one transaction. Other groups stay; a superuser keeps the
    admin. The user's existing admin session stops working at its next request (the admin checks
    is_staff each time); the user account itself and everything they recorded stay.
    """
    with transaction.atomic():
        locked = get_user_model().objects.select_for_update().get(pk=staff.user_id)
        Staff.objects.filter(pk=staff.pk).delete()
        role_groups = Group.objects.filter(name__in=[group_name(r) for r in StaffRole.values])
        locked.groups.remove(*role_groups)
        if locked.is_staff and not locked.is_superuser:
            locked.is_staff = False
            locked.save(update_fields=["is_staff"])


# --- Partner banks' access to the API -------------------------------------------------------


def bank_api_key_hash(key: str) -> str:
    """SHA-256 of the whole key (agencies.models.BankApiKey says why a fast hash is enough)."""
    return hashlib.sha256(key.encode()).hexdigest()


def bank_api_key_create(
    *, bank: PartnerBank, name: str = "", sandbox: bool = False
) -> tuple[BankApiKey, str]:
    """Create a key for `bank`; return the row and the key itself, which is never stored or
    shown again. A bank may hold several keys, to rotate them without downtime. A `sandbox` key
    acts only on the bank's sandbox cards (cards/sandbox.py), never on real ones."""
    prefix = secrets.token_hex(4)
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    api_key = BankApiKey.objects.create(
        bank=bank,
        name=name.strip(),
        prefix=prefix,
        key_hash=bank_api_key_hash(key),
        sandbox=sandbox,
    )
    return api_key, key


def platform_api_key_create(*, name: str = "") -> tuple[PlatformApiKey, str]:
    """Create a key for the city's online service platform; return the row and the key, which
    is never stored or shown again. Its prefix starts with `op-` (agencies.PlatformApiKey)."""
    prefix = f"op-{secrets.token_hex(4)}"
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    api_key = PlatformApiKey.objects.create(
        name=name.strip(), prefix=prefix, key_hash=bank_api_key_hash(key)
    )
    return api_key, key


def bank_api_key_revoke(*, api_key: BankApiKey | PlatformApiKey) -> BankApiKey | PlatformApiKey:
    """Revoke a key (a bank's or the online platform's): from now on it answers 401. The row
    stays, for the record."""
    type(api_key).objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def bank_webhook_set(*, bank: PartnerBank, url: str, rotate_secret: bool = False) -> PartnerBank:
    """Register (or, with an empty `url`, remove) the bank's webhook URL. A signing secret is
    generated the first time, or again with `rotate_secret`."""
    url = url.strip()
    if url:
        try:
            URLValidator(schemes=["https", "http"])(url)
        except ValidationError as exc:
            raise _invalid("webhook_url", _("Enter a valid http(s) URL.")) from exc
    bank.webhook_url = url
    if url and (rotate_secret or not bank.webhook_secret):
        bank.webhook_secret = secrets.token_urlsafe(32)
    bank.save(update_fields=["webhook_url", "webhook_secret"])
    return bank
