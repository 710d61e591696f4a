"""Every write to staff: where a user works and in which role."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils.translation import gettext as _

from agencies.choices import ServicePointKind, StaffRole
from agencies.models import PartnerBank, ServicePoint, Staff
from agencies.roles import group_name
from common.errors import ApplicationError


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid", details={field: [message]})


def staff_validate(
    *, role: str, service_point: ServicePoint | None = None, bank: PartnerBank | None = None
) -> None:
    """The rules of a staff assignment, without writing: a known role, exactly one workplace
    (a service point or a bank), and a hotline operator only at the 12333 hotline.

    Raises ApplicationError(code="invalid") naming the field at fault. The admin form calls this
    to show the clerk the same message the service would raise.
    """
    if role not in StaffRole.values:
        raise _invalid("role", _("Unknown role."))
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
