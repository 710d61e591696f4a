"""Who acts on a card: a staff member (at a service point or a bank), a partner bank through the
API, or the system (the scheduler). Every transition log row names its actor and where."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from agencies.models import PartnerBank, ServicePoint, Staff
from cards.choices import ActorKind, Channel
from common.errors import ApplicationError


@dataclass(frozen=True)
class Actor:
    kind: str
    user: object | None = None
    staff: Staff | None = None
    bank: PartnerBank | None = None
    service_point: ServicePoint | None = None
    channel: str = Channel.COUNTER

    @classmethod
    def for_user(cls, user, *, channel: str | None = None) -> Actor:
        """A staff member acting at their own workplace (agencies.Staff)."""
        staff = getattr(user, "staff", None) if user is not None else None
        if staff is None:
            raise ApplicationError(
                _("Only staff of a service point or a bank can act on cards."),
                code="permission_denied",
                status=403,
            )
        point = staff.service_point
        if channel is None:
            channel = Channel.HOTLINE if point and point.kind == "hotline" else Channel.COUNTER
            if point and point.kind == "bank_outlet":
                channel = Channel.BANK_OUTLET
        return cls(
            kind=ActorKind.USER,
            user=user,
            staff=staff,
            bank=staff.bank or (point.bank if point else None),
            service_point=point,
            channel=channel,
        )

    @classmethod
    def for_bank(cls, bank: PartnerBank, *, channel: str = Channel.BANK_OUTLET) -> Actor:
        """A partner bank acting through the API."""
        return cls(kind=ActorKind.BANK, bank=bank, channel=channel)

    @classmethod
    def for_platform(cls) -> Actor:
        """The city's online service platform acting through the API (its own kind, no bank)."""
        return cls(kind=ActorKind.PLATFORM, channel=Channel.ONLINE_PLATFORM)

    @classmethod
    def system(cls) -> Actor:
        return cls(kind=ActorKind.SYSTEM, channel=Channel.SYSTEM)

    @property
    def role(self) -> str | None:
        return self.staff.role if self.staff else None

    def describe(self) -> str:
        """For logs: never a person's name or number, only the kind and workplace code."""
        if self.kind == ActorKind.USER:
            where = (
                self.service_point.code if self.service_point else getattr(self.bank, "code", "")
            )
            return f"user:{getattr(self.user, 'pk', '')}@{where}"
        if self.kind == ActorKind.BANK:
            return f"bank:{self.bank.code}"
        if self.kind == ActorKind.PLATFORM:
            return "platform"
        return "system"
