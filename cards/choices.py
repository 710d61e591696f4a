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


class IdSource(models.TextChoices):
    """Where the holder's document number on a transition came from (its `identity.id_source`)."""

    PRESENTED_AT_SEARCH = "presented_at_search", _("Presented at the counter search of this visit")


class RejectionReason(models.TextChoices):
    """Why an application was rejected, in words fit to show the applicant on the status page
    (a clerk's own note never is). Each has what to bring next time (REJECTION_BRING)."""

    FORM_INCOMPLETE = "form_incomplete", _("The application form was incomplete or not signed.")
    PHOTO_RECEIPT_MISSING = (
        "photo_receipt_missing",
        _("The photo receipt from an approved photo studio was missing or not valid."),
    )
    ID_DOCUMENT_INVALID = (
        "id_document_invalid",
        _("The identity document shown was expired, damaged or not the original."),
    )
    ID_COPY_MISSING = "id_copy_missing", _("The copy of the identity document's front was missing.")
    AGENT_DOCUMENTS_MISSING = (
        "agent_documents_missing",
        _("The entrusted agent did not bring both persons' valid identity documents."),
    )
    NOT_ELIGIBLE_HERE = (
        "not_eligible_here",
        _("This card is not issued to you at this service point."),
    )
    REGISTRY_MISMATCH = (
        "registry_mismatch",
        _("The details on the form differ from the municipal registry."),
    )

    @classmethod
    def english(cls, code: str) -> str:
        """The reason's English words (as the log keeps them)."""
        from django.utils import translation

        with translation.override("en"):
            return str(cls(code).label)


# What to bring next time, per rejection reason (the status page shows it with the reason).
REJECTION_BRING: dict[str, tuple] = {
    RejectionReason.FORM_INCOMPLETE: (
        _("The application registration form, filled in completely and signed"),
        _("Your original identity document"),
    ),
    RejectionReason.PHOTO_RECEIPT_MISSING: (
        _("The photo receipt from an approved photo studio (two bareheaded one-inch photos)"),
        _("Your original identity document"),
    ),
    RejectionReason.ID_DOCUMENT_INVALID: (
        _("Your original, valid identity document (renew an expired one first)"),
    ),
    RejectionReason.ID_COPY_MISSING: (
        _("A copy of the front of your identity document"),
        _("Your original identity document"),
    ),
    RejectionReason.AGENT_DOCUMENTS_MISSING: (
        _("Your original identity document and the agent's own valid identity document"),
    ),
    RejectionReason.NOT_ELIGIBLE_HERE: (
        _("Your original identity document; ask first which service point issues your card"),
    ),
    RejectionReason.REGISTRY_MISMATCH: (
        _("Your original identity document and your household register (hukou booklet)"),
    ),
}
