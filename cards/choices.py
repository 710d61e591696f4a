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


class TransitionName(models.TextChoices):
    """Every transition of the lifecycle (PRODUCT.md, "The card lifecycle")."""

    SUBMIT = "submit", _("Application submitted")
    VERIFY = "verify", _("Verified against the municipal registry")
    REJECT = "reject", _("Rejected")
    WITHDRAW = "withdraw", _("Withdrawn")
    MARK_READY = "mark_ready", _("Ready for collection")
    ISSUE_ON_THE_SPOT = "issue_on_the_spot", _("Issued on the spot")
    HAND_OVER = "hand_over", _("Handed over")
    REPORT_LOST_BY_PHONE = "report_lost_by_phone", _("Reported lost by phone")
    LAPSE_PHONE_REPORT = "lapse_phone_report", _("Phone report lapsed")
    WITHDRAW_LOSS_REPORT = "withdraw_loss_report", _("Loss report withdrawn: card found")
    REPORT_LOST_IN_WRITING = "report_lost_in_writing", _("Reported lost in writing")
    EXPIRE_WRITTEN_REPORT = "expire_written_report", _("Cancelled automatically")
    REPLACE = "replace", _("Replaced")
    CANCEL = "cancel", _("Cancelled")
    CANCEL_UNCOLLECTED = "cancel_uncollected", _("Cancelled: not collected in time")


# The transitions that change whether a card may be used: each is notified to the municipal
# information service center (seed 001: the loss report is transmitted to it; cards/cardcenter.py).
CARD_CENTER_NOTICE_TRANSITIONS = frozenset(
    {
        TransitionName.ISSUE_ON_THE_SPOT,
        TransitionName.HAND_OVER,
        TransitionName.REPORT_LOST_BY_PHONE,
        TransitionName.LAPSE_PHONE_REPORT,
        TransitionName.WITHDRAW_LOSS_REPORT,
        TransitionName.REPORT_LOST_IN_WRITING,
        TransitionName.EXPIRE_WRITTEN_REPORT,
        TransitionName.REPLACE,
        TransitionName.CANCEL,
        TransitionName.CANCEL_UNCOLLECTED,
    }
)


class AgentDocument(models.TextChoices):
    """What an entrusted agent shows as their own document."""

    IDENTITY_DOCUMENT = "identity_document", _("Their own identity document")
    # Seed 001: for a written loss report an agent may show their own social security card (its
    # number is their citizen identity number, Social Insurance Law art. 58).
    SOCIAL_SECURITY_CARD = "social_security_card", _("Their own social security card")


class OnlineCheck(models.TextChoices):
    """The two identity checks an online application needs (PRODUCT.md, "Applying")."""

    REAL_NAME = "real_name", _("Real-name verification")
    REAL_PERSON = "real_person", _("Real-person (liveness) verification")


class OnlineCheckResult(models.TextChoices):
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")


class ActorKind(models.TextChoices):
    USER = "user", _("Staff member")
    BANK = "bank", _("Partner bank")
    PLATFORM = "platform", _("Online service platform")
    SYSTEM = "system", _("System")


class ReplacementReason(models.TextChoices):
    LOST = "lost", _("Lost")
    DAMAGED = "damaged", _("Damaged")
    # A change of name or ID number, through a corrected registry record (issue #17).
    CHANGED_INFORMATION = "changed_information", _("Changed personal information")
    # A renewal: the card's validity ends (cards/rules.py card_validity_years), from
    # renewal_window_days before.
    EXPIRED = "expired", _("Expired (renewal)")


# The reasons an issued (not lost) card is replaced for; a card lost in writing only as lost.
ISSUED_CARD_REPLACEMENT_REASONS = frozenset(
    {
        ReplacementReason.DAMAGED,
        ReplacementReason.CHANGED_INFORMATION,
        ReplacementReason.EXPIRED,
    }
)


class OutboxEventKind(models.TextChoices):
    CARD_STATUS_CHANGED = "card.status_changed", _("Card status changed")
    FINANCIAL_STATUS_CHANGED = (
        "card.financial_status_changed",
        _("Card's financial function changed"),
    )
    FEE_STATUS_CHANGED = "card.fee_status_changed", _("Replacement fee changed")


class FinancialStatus(models.TextChoices):
    """The third-generation card's financial (bank) function, separate from the social security
    function: activated in person at the bank, frozen and reported lost at the bank (issue #17)."""

    NOT_ACTIVATED = "not_activated", _("Not activated")
    ACTIVE = "active", _("Active")
    FROZEN = "frozen", _("Frozen")
    LOST = "lost", _("Reported lost")


class FunctionAction(models.TextChoices):
    """What a card's functions and services record besides the lifecycle (CardFunctionEvent)."""

    FINANCIAL_ACTIVATE = "financial_activate", _("Financial function activated")
    FINANCIAL_FREEZE = "financial_freeze", _("Financial function frozen")
    FINANCIAL_UNFREEZE = "financial_unfreeze", _("Financial function unfrozen")
    FINANCIAL_REPORT_LOST = "financial_report_lost", _("Financial function reported lost")
    FEE_DUE = "fee_due", _("Replacement fee due")
    FEE_PAID = "fee_paid", _("Replacement fee paid")
    FEE_WAIVED = "fee_waived", _("Replacement fee waived")
    PIN_RESET = "pin_reset", _("PIN reset")
    PIN_UNLOCK = "pin_unlock", _("PIN unlocked")


FINANCIAL_ACTIONS = frozenset(
    {
        FunctionAction.FINANCIAL_ACTIVATE,
        FunctionAction.FINANCIAL_FREEZE,
        FunctionAction.FINANCIAL_UNFREEZE,
        FunctionAction.FINANCIAL_REPORT_LOST,
    }
)
PIN_ACTIONS = frozenset({FunctionAction.PIN_RESET, FunctionAction.PIN_UNLOCK})


class FeeStatus(models.TextChoices):
    DUE = "due", _("Due")
    PAID = "paid", _("Paid")
    WAIVED = "waived", _("Waived")


class ElectronicCardStatus(models.TextChoices):
    """The electronic social security card's status, derived from its card's (issue #17)."""

    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CANCELLED = "cancelled", _("Cancelled")


class OverdueKind(models.TextChoices):
    """Overdue work flagged to supervisors every day (the expiry jobs issue)."""

    EMPLOYER_REGISTRATION = "employer_registration", _("Employer registration past 30 days")
    MEDICAL_PROMISE = "medical_promise", _("Medical insurance card past its 3-working-day promise")
    VERIFICATION_WAITING = "verification_waiting", _("Application waiting for verification")
    UNCOLLECTED = "uncollected", _("Card not collected for 6 months")
    STREET_COLLECTION = (
        "street_collection",
        _("Street medical point's card not collected in the set time"),
    )
    EXPIRING = "expiring", _("Card expiring next month")
