"""Card types, states, channels and transitions: defined once, used by models, admin, API, tests."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CardType(models.TextChoices):
    SOCIAL_SECURITY = "social_security", _("Social security card")
    MEDICAL_INSURANCE = "medical_insurance", _("Medical insurance card")


class CardStatus(models.TextChoices):
    APPLIED = "applied", _("Applied")
    VERIFIED = "verified", _("Verified")
    READY_FOR_COLLECTION = "ready_for_collection", _("Ready for collection")
    ISSUED = "issued", _("Issued")
    PHONE_REPORTED_LOST = "phone_reported_lost", _("Reported lost by phone")
    WRITTEN_LOST = "written_lost", _("Reported lost in writing")
    CANCELLED = "cancelled", _("Cancelled")
    REPLACED = "replaced", _("Replaced")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


TERMINAL_STATES = frozenset(
    {CardStatus.CANCELLED, CardStatus.REPLACED, CardStatus.REJECTED, CardStatus.WITHDRAWN}
)
# At most one live card per person per card type (PRODUCT.md).
LIVE_STATES = frozenset(set(CardStatus) - TERMINAL_STATES)
LOSS_REPORT_STATES = frozenset({CardStatus.PHONE_REPORTED_LOST, CardStatus.WRITTEN_LOST})


class Channel(models.TextChoices):
    COUNTER = "counter", _("Service point counter")
    BANK_OUTLET = "bank_outlet", _("Bank outlet")
    BANK_APP = "bank_app", _("Bank app")
    WECHAT = "wechat", _("WeChat")
    ALIPAY = "alipay", _("Alipay mini-program")
    ONLINE_PLATFORM = "online_platform", _("Online service platform")
    HOTLINE = "hotline", _("Hotline (12333)")
    SYSTEM = "system", _("System")


# Online channels need real-person (liveness) and real-name verification (PRODUCT.md, "Applying").
ONLINE_CHANNELS = frozenset(
    {Channel.BANK_APP, Channel.WECHAT, Channel.ALIPAY, Channel.ONLINE_PLATFORM}
)
