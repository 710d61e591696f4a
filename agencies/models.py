"""Partner banks, service points and the staff who work at them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.choices import CENTRAL_ROLES, District, ServicePointKind, StaffRole, kind_allows


class PartnerBank(models.Model):
    """A partner bank that produces social security cards (which are also its bank cards)."""

    code = models.CharField(_("code"), max_length=8, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=128)
    active = models.BooleanField(_("active"), default=True)
    webhook_url = models.URLField(
        _("webhook URL"),
        max_length=500,
        blank=True,
        help_text=_(
            "Where the bank receives its card events, signed with the webhook secret. Empty: no "
            "webhooks; the bank reads the event feed of the API."
        ),
    )
    webhook_secret = models.CharField(
        _("webhook secret"),
        max_length=128,
        blank=True,
        help_text=_("The key of the HMAC-SHA256 signature of each webhook; shared with the bank."),
    )
    # The partner data policy (PIPL: only what the bank's contract allows). Lists and webhooks
    # carry at most the masked ID number and the masked name, whatever this says.
    api_full_id_number = models.BooleanField(
        _("API: full ID number on the card detail"),
        default=True,
        db_default=True,
        help_text=_("Otherwise the card detail shows the holder's ID number masked, as lists do."),
    )
    api_phone = models.BooleanField(
        _("API: holder's phone number on the card detail"),
        default=False,
        db_default=False,
        help_text=_("Only if the bank's contract allows it."),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("partner bank")
        verbose_name_plural = _("partner banks")
        permissions = [
            ("change_data_policy", _("Can change a partner bank's data policy")),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"


class ServicePoint(models.Model):
    """A place where the public is served: a service station, a medical insurance center or
    point, a partner-bank outlet, or the 12333 hotline."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=32, choices=ServicePointKind.choices)
    bank = models.ForeignKey(
        PartnerBank,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outlets",
        verbose_name=_("bank"),
        help_text=_("Required for a partner-bank outlet, empty otherwise."),
    )
    district = models.CharField(_("district"), max_length=16, choices=District.choices)
    address = models.CharField(_("address"), max_length=255)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    opening_hours = models.CharField(_("opening hours"), max_length=128, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["district", "code"]
        verbose_name = _("service point")
        verbose_name_plural = _("service points")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind=ServicePointKind.BANK_OUTLET, bank__isnull=False)
                    | (~models.Q(kind=ServicePointKind.BANK_OUTLET) & models.Q(bank__isnull=True))
                ),
                name="servicepoint_bank_iff_bank_outlet",
                violation_error_message=_(
                    "A partner-bank outlet needs its bank; other kinds of service point have none."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def may(self, operation: str) -> bool:
        """Whether this point's kind allows `operation` (agencies.choices.KIND_OPERATIONS)."""
        return self.active and kind_allows(self.kind, operation)


class Staff(models.Model):
    """A user's place of work: one service point or one bank, and a role there (the municipal
    center's administrators and auditors: no workplace, agencies.choices.CENTRAL_ROLES)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff",
        verbose_name=_("user"),
    )
    service_point = models.ForeignKey(
        ServicePoint,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("service point"),
    )
    bank = models.ForeignKey(
        PartnerBank,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("bank"),
    )
    role = models.CharField(_("role"), max_length=32, choices=StaffRole.choices)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(service_point__isnull=False, bank__isnull=True)
                    | models.Q(service_point__isnull=True, bank__isnull=False)
                    | models.Q(
                        service_point__isnull=True, bank__isnull=True, role__in=CENTRAL_ROLES
                    )
                ),
                name="staff_one_workplace",
                violation_error_message=_(
                    "A staff member works at exactly one service point or one bank; the "
                    "municipal center's administrators and auditors at neither."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    @property
    def workplace(self) -> ServicePoint | PartnerBank | None:
        return self.service_point or self.bank


class BankApiKey(models.Model):
    """A partner bank's key to the REST API: stored as a hash, shown once, revoked, never deleted.

    A bank may hold several at once, to rotate them. The key is `<prefix>.<secret>`: the prefix
    finds the row, the SHA-256 of the whole key is compared in constant time. A fast hash is
    enough here: the secret is 256 random bits, not a password a person chose.
    """

    bank = models.ForeignKey(
        PartnerBank, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("bank")
    )
    name = models.CharField(
        _("name"), max_length=64, blank=True, help_text=_("What the key is for, e.g. the system.")
    )
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    sandbox = models.BooleanField(
        _("sandbox"),
        default=False,
        db_default=False,
        editable=False,
        help_text=_(
            "A sandbox key acts only on the bank's sandbox cards (/api/v1/sandbox/), never on "
            "real cards."
        ),
    )

    class Meta:
        ordering = ["bank", "-created_at"]
        verbose_name = _("bank API key")
        verbose_name_plural = _("bank API keys")

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}".strip()

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class PlatformApiKey(models.Model):
    """A key of the city's online service platform to the REST API: an API client of its own
    kind, not a bank. It may submit online applications (with the real-name and real-person
    evidence) and read the status of the cards it submitted; nothing else. Stored as a hash, like
    BankApiKey; its prefix starts with `op-`, so a key names its own table."""

    name = models.CharField(
        _("name"), max_length=64, blank=True, help_text=_("What the key is for, e.g. the system.")
    )
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("online platform API key")
        verbose_name_plural = _("online platform API keys")

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}".strip()

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
