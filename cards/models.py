"""Cards, their lifecycle state machine, the append-only transition log, and the partner outbox.

Transitions here stay pure: they set fields, nothing else. Every one of them is called only by a
service in cards/services.py, which locks, checks, saves, logs and emits (STYLE.md, habit 1).
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from agencies.models import PartnerBank, ServicePoint
from applicants.choices import IdDocumentType
from applicants.models import Applicant
from cards import rules
from cards.choices import (
    LIVE_STATES,
    ActorKind,
    CardStatus,
    CardType,
    Channel,
    ElectronicCardStatus,
    FeeStatus,
    FinancialStatus,
    FunctionAction,
    OnlineCheck,
    OnlineCheckResult,
    OutboxEventKind,
    OverdueKind,
    TransitionName,
)
from cards.numbers import format_receipt_number, new_receipt_number
from cards.permissions import fsm_permission
from common.fields import BlindIndexed, BlindIndexField, EncryptedCharField, SealedJSONField

S = CardStatus

# The loss states and the column holding each one's deadline: the one mapping of them (the
# point's loss-report lists, a card's live deadline, the links' copy kept in SQL by cards.counts).
LOSS_DEADLINE_COLUMNS = {
    S.PHONE_REPORTED_LOST: "phone_report_expires_at",
    S.WRITTEN_LOST: "written_report_expires_at",
}
T = TransitionName
# A card number is the same kind of value in a card and in its card-center notices: set-based SQL
# copies the encrypted column from one to the other (cards/cardcenter.py).
CARD_NUMBER_CONTEXT = "card_number"
# The person's own values among them (a caller's phone and address, an agent's name and number,
# the application form, the registry's differing values) are sealed under the card holder's own
# data key, so that erasing the person (privacy/retention.py) erases them from the append-only log
# too (crypto-shredding, README "Retention"); the card number stays under the field key, as on the
# card, which keeps it.
LOG_DATA_PERSONAL = frozenset(
    {"contact_phone", "home_address", "name", "id_number", "form", "registry"}
)
LOG_DATA_SEALED = LOG_DATA_PERSONAL | {"card_number"}


def _written_report_has_deadline() -> Q:
    """A written_lost card has a deadline, unless the card's rule set gives its formal report
    none (cards.rules.open_ended_written_reports)."""
    q = Q(written_report_expires_at__isnull=False)
    for name, version in rules.open_ended_written_reports():
        q |= Q(rule_set=name, rule_set_version=version)
    return q


class RuleSet(models.Model):
    """A named, versioned rule set as it was put in force (cards/rules.py holds the values; a
    data migration stores each version here, never changed afterwards)."""

    name = models.CharField(_("name"), max_length=32)
    version = models.PositiveSmallIntegerField(_("version"))
    values = models.JSONField(_("values"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        ordering = ["name", "version"]
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="ruleset_name_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        try:
            rules.from_values(self.name, self.version, self.values or {})
        except ValueError as exc:
            raise ValidationError({"values": str(exc)}) from exc

    @property
    def rules(self) -> rules.Rules:
        return rules.from_values(self.name, self.version, self.values)


class Card(FSMModelMixin, BlindIndexed):
    """A social security card or medical insurance card, from application to its end."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    applicant = models.ForeignKey(
        Applicant, on_delete=models.PROTECT, related_name="cards", verbose_name=_("applicant")
    )
    card_type = models.CharField(_("card type"), max_length=32, choices=CardType.choices)
    status = FSMField(
        _("status"), max_length=32, choices=CardStatus.choices, default=S.APPLIED, protected=True
    )
    receipt_number = models.CharField(
        _("application receipt number"),
        max_length=16,
        unique=True,
        default=new_receipt_number,
        editable=False,
    )
    card_number = EncryptedCharField(
        _("card number"),
        max_length=20,
        null=True,
        blank=True,
        editable=False,
        context=CARD_NUMBER_CONTEXT,
    )
    # The card number's keyed blind index (common/crypto.py): lookups and uniqueness.
    card_number_bidx = BlindIndexField(
        source="card_number", context=CARD_NUMBER_CONTEXT, unique=True
    )
    bank = models.ForeignKey(
        PartnerBank,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cards",
        verbose_name=_("issuing partner bank"),
    )
    service_point = models.ForeignKey(
        ServicePoint,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("application point"),
    )
    collection_point = models.ForeignKey(
        ServicePoint,
        on_delete=models.PROTECT,
        related_name="cards_to_collect",
        verbose_name=_("to be collected at"),
    )
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    liveness_verified = models.BooleanField(_("real-person verification passed"), default=False)
    real_name_verified = models.BooleanField(_("real-name verification passed"), default=False)
    agent_name = models.CharField(_("entrusted agent's name"), max_length=64, blank=True)
    agent_id_type = models.CharField(
        _("agent's document type"), max_length=32, choices=IdDocumentType.choices, blank=True
    )
    agent_id_number = EncryptedCharField(
        _("agent's document number"), max_length=32, blank=True, context="id_number"
    )
    photo_receipt_number = models.CharField(_("photo receipt number"), max_length=32, blank=True)

    applied_at = models.DateTimeField(_("applied at"), default=timezone.now, editable=False)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True, editable=False)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True, editable=False)
    ready_promised_by = models.DateField(
        _("promised ready by"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("A street medical insurance point completes a card in 3 working days."),
    )
    ready_promise_kept = models.BooleanField(
        _("promise kept"), null=True, blank=True, editable=False
    )
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True, editable=False)
    phone_reported_at = models.DateTimeField(
        _("reported lost by phone at"), null=True, blank=True, editable=False
    )
    phone_report_expires_at = models.DateTimeField(
        _("phone report lapses at"), null=True, blank=True, editable=False
    )
    written_reported_at = models.DateTimeField(
        _("reported lost in writing at"), null=True, blank=True, editable=False
    )
    written_report_expires_at = models.DateTimeField(
        _("cancelled automatically at"), null=True, blank=True, editable=False
    )
    loss_certificate_number = models.CharField(
        _("loss-report certificate number"),
        max_length=40,
        unique=True,
        null=True,
        blank=True,
        editable=False,
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    replaces = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        verbose_name=_("replaces"),
        editable=False,
    )
    # The rule set the card was made under (cards/rules.py): its deadlines, validity and fees come
    # from it for the card's whole life, whatever rule set is in force later.
    rule_set = models.CharField(
        _("rule set"),
        max_length=32,
        default=rules.in_force_name,
        db_default=rules.SEED_2019,
        editable=False,
    )
    rule_set_version = models.PositiveSmallIntegerField(
        _("rule set version"), default=rules.in_force_version, db_default=1, editable=False
    )
    expires_on = models.DateField(
        _("valid until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The card is expired from this day; empty: valid without end."),
    )
    uncollected_cancels_at = models.DateTimeField(
        _("cancelled if not collected by"), null=True, blank=True, editable=False
    )
    collect_by = models.DateField(
        _("to be collected by"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("A street medical insurance point's card is collected within the set time."),
    )
    # The third-generation card's financial function (issue #17); empty where the card's rule set
    # has none (seed-2019) or the card is not a bank card. Changed only by the owning bank
    # (cards.services.card_financial_*), never by a lifecycle transition.
    financial_status = models.CharField(  # noqa: DJ001 - null: the card has no such function
        _("financial function"),
        max_length=16,
        choices=FinancialStatus.choices,
        null=True,
        blank=True,
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        ordering = ["-applied_at"]
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        permissions = [("reveal_id_number", "Can reveal a holder's full ID number")]
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "card_type"],
                condition=Q(status__in=sorted(LIVE_STATES)),
                name="card_one_live_per_person_and_type",
                violation_error_message=_("The person already has a live card of this type."),
            ),
            models.CheckConstraint(
                condition=~Q(status=S.PHONE_REPORTED_LOST)
                | Q(phone_report_expires_at__isnull=False),
                name="card_phone_report_has_deadline",
            ),
            # A written report has a deadline, unless the card's rule set gives it none
            # (shanghai-3rd-gen: a formal report never expires by itself).
            models.CheckConstraint(
                condition=~Q(status=S.WRITTEN_LOST) | _written_report_has_deadline(),
                name="card_written_report_has_deadline",
            ),
            models.CheckConstraint(
                condition=~Q(card_type=CardType.SOCIAL_SECURITY) | Q(bank__isnull=False),
                name="card_social_security_has_bank",
                violation_error_message=_(
                    "A social security card is produced by a partner bank: choose one."
                ),
            ),
        ]
        indexes = [
            # The expiry sweeps scan exactly these (cards/expiry.py).
            models.Index(
                fields=["phone_report_expires_at"],
                condition=Q(status=S.PHONE_REPORTED_LOST),
                name="card_phone_report_due_idx",
            ),
            models.Index(
                fields=["written_report_expires_at"],
                condition=Q(status=S.WRITTEN_LOST),
                name="card_written_report_due_idx",
            ),
            models.Index(
                fields=["uncollected_cancels_at"],
                condition=Q(status=S.READY_FOR_COLLECTION),
                name="card_uncollected_due_idx",
            ),
            # Cards expiring soon (the supervisors' list), a point's and the city's.
            models.Index(
                fields=["collection_point", "expires_on", "id"],
                condition=Q(status=S.ISSUED, expires_on__isnull=False),
                name="card_point_expiring_idx",
            ),
            models.Index(
                fields=["expires_on", "id"],
                condition=Q(status=S.ISSUED, expires_on__isnull=False),
                name="card_expiring_idx",
            ),
            # A street medical point's cards not collected in the set time.
            models.Index(
                fields=["collection_point", "collect_by", "id"],
                condition=Q(status=S.READY_FOR_COLLECTION, collect_by__isnull=False),
                name="card_point_collect_by_idx",
            ),
            models.Index(
                fields=["collect_by", "id"],
                condition=Q(status=S.READY_FOR_COLLECTION, collect_by__isnull=False),
                name="card_collect_by_idx",
            ),
            # A bank's incremental sync: its cards by update time.
            models.Index(fields=["bank", "updated_at", "id"], name="card_bank_updated_idx"),
            models.Index(fields=["service_point", "status"], name="card_point_status_idx"),
            models.Index(fields=["collection_point", "status"], name="card_collection_status_idx"),
            # The city-wide list (superusers) and a bank's list in their default order, newest
            # first; a bank's list sorted by bank is the same index.
            models.Index(fields=["applied_at", "id"], name="card_applied_idx"),
            models.Index(fields=["bank", "applied_at", "id"], name="card_bank_applied_idx"),
            # The overdue lists (cards.selectors.overdue_*): a point's and the city's, each a
            # small range of a transient state.
            models.Index(
                fields=["service_point", "applied_at", "id"],
                condition=Q(status=S.APPLIED),
                name="card_point_awaiting_idx",
            ),
            models.Index(
                fields=["applied_at", "id"],
                condition=Q(status=S.APPLIED),
                name="card_awaiting_idx",
            ),
            models.Index(
                fields=["collection_point", "ready_at", "id"],
                condition=Q(status=S.READY_FOR_COLLECTION),
                name="card_point_uncollected_idx",
            ),
            models.Index(
                fields=["ready_at", "id"],
                condition=Q(status=S.READY_FOR_COLLECTION),
                name="card_uncollected_idx",
            ),
            models.Index(
                fields=["collection_point", "ready_promised_by", "id"],
                condition=Q(status=S.VERIFIED, ready_promised_by__isnull=False),
                name="card_point_promised_idx",
            ),
            models.Index(
                fields=["ready_promised_by", "id"],
                condition=Q(status=S.VERIFIED, ready_promised_by__isnull=False),
                name="card_promised_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_card_type_display()} {self.receipt_number_display}"

    @property
    def receipt_number_display(self) -> str:
        return format_receipt_number(self.receipt_number)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATES

    def due_expiry(self, now: datetime.datetime) -> str | None:
        """The expiry transition whose deadline has passed at `now`, if any (a deadline left
        empty by the card's rule set never passes)."""
        if self.status == S.PHONE_REPORTED_LOST and self.phone_report_expires_at <= now:
            return T.LAPSE_PHONE_REPORT
        if (
            self.status == S.WRITTEN_LOST
            and self.written_report_expires_at is not None
            and self.written_report_expires_at <= now
        ):
            return T.EXPIRE_WRITTEN_REPORT
        if (
            self.status == S.READY_FOR_COLLECTION
            and self.uncollected_cancels_at is not None
            and self.uncollected_cancels_at <= now
        ):
            return T.CANCEL_UNCOLLECTED
        return None

    def is_expired(self, on: datetime.date | None = None) -> bool:
        """Past its validity (an issued card whose rule set gives cards an end)."""
        return self.expires_on is not None and self.expires_on <= (on or timezone.localdate())

    def status_at(self, now: datetime.datetime | None = None) -> str:
        """The state in force at `now`: a passed deadline counts even before the sweep runs."""
        expiry = self.due_expiry(now or timezone.now())
        if expiry == T.LAPSE_PHONE_REPORT:
            return S.ISSUED
        if expiry in (T.EXPIRE_WRITTEN_REPORT, T.CANCEL_UNCOLLECTED):
            return S.CANCELLED
        return self.status

    # --- Guards (pure) --
    def acting_at(self) -> datetime.datetime:
        """The instant the guards judge deadlines at: the one a service read after taking the
        card's lock (`as_of`), so that its checks and the model's agree; else the clock."""
        return getattr(self, "_as_of", None) or timezone.now()

    def as_of(self, now: datetime.datetime) -> Card:
        self._as_of = now
        return self

    def _is_medical(self) -> bool:
        return self.card_type == CardType.MEDICAL_INSURANCE

    def _phone_report_expired(self) -> bool:
        return self.phone_report_expires_at is not None and self.phone_report_expires_at <= (
            self.acting_at()
        )

    def _written_report_expired(self) -> bool:
        return self.written_report_expires_at is not None and (
            self.written_report_expires_at <= self.acting_at()
        )

    def _uncollected_expired(self) -> bool:
        return self.uncollected_cancels_at is not None and (
            self.uncollected_cancels_at <= self.acting_at()
        )

    def _loss_report_live(self) -> bool:
        return self.due_expiry(self.acting_at()) is None

    # --- Transitions (pure: they set fields; services save, log and emit) --
    @transition(
        field=status, source=S.APPLIED, target=S.VERIFIED, permission=fsm_permission(T.VERIFY)
    )
    def verify(self, *, at: datetime.datetime, promised_by: datetime.date | None) -> None:
        self.verified_at = at
        self.ready_promised_by = promised_by

    @transition(
        field=status, source=S.APPLIED, target=S.REJECTED, permission=fsm_permission(T.REJECT)
    )
    def reject(self, *, at: datetime.datetime) -> None:
        self.closed_at = at

    @transition(
        field=status,
        source=[S.APPLIED, S.VERIFIED, S.READY_FOR_COLLECTION],
        target=S.WITHDRAWN,
        permission=fsm_permission(T.WITHDRAW),
    )
    def withdraw(self, *, at: datetime.datetime) -> None:
        self.closed_at = at

    @transition(
        field=status,
        source=S.VERIFIED,
        target=S.READY_FOR_COLLECTION,
        permission=fsm_permission(T.MARK_READY),
    )
    def mark_ready(
        self,
        *,
        at: datetime.datetime,
        card_number: str,
        uncollected_cancels_at: datetime.datetime | None = None,
        collect_by: datetime.date | None = None,
    ) -> None:
        self.ready_at = at
        self.card_number = card_number
        self.uncollected_cancels_at = uncollected_cancels_at
        self.collect_by = collect_by
        if self.ready_promised_by is not None:
            self.ready_promise_kept = timezone.localdate(at) <= self.ready_promised_by

    @transition(
        field=status,
        source=S.VERIFIED,
        target=S.ISSUED,
        conditions=[_is_medical],
        permission=fsm_permission(T.ISSUE_ON_THE_SPOT),
    )
    def issue_on_the_spot(
        self, *, at: datetime.datetime, card_number: str, expires_on: datetime.date | None = None
    ) -> None:
        self.ready_at = at
        self.issued_at = at
        self.card_number = card_number
        self.expires_on = expires_on

    @transition(
        field=status,
        source=S.READY_FOR_COLLECTION,
        target=S.ISSUED,
        permission=fsm_permission(T.HAND_OVER),
    )
    def hand_over(self, *, at: datetime.datetime, expires_on: datetime.date | None = None) -> None:
        self.issued_at = at
        self.expires_on = expires_on

    @transition(
        field=status,
        source=S.ISSUED,
        target=S.PHONE_REPORTED_LOST,
        permission=fsm_permission(T.REPORT_LOST_BY_PHONE),
    )
    def report_lost_by_phone(self, *, at: datetime.datetime, expires_at: datetime.datetime) -> None:
        self.phone_reported_at = at
        self.phone_report_expires_at = expires_at

    @transition(
        field=status,
        source=S.PHONE_REPORTED_LOST,
        target=S.ISSUED,
        conditions=[_phone_report_expired],
        permission=fsm_permission(T.LAPSE_PHONE_REPORT),
    )
    def lapse_phone_report(self) -> None:
        """Applied in bulk by cards/expiry.py; declared here for the state machine's record."""

    @transition(
        field=status,
        source=[S.PHONE_REPORTED_LOST, S.WRITTEN_LOST],
        target=S.ISSUED,
        conditions=[_loss_report_live],
        permission=fsm_permission(T.WITHDRAW_LOSS_REPORT),
    )
    def withdraw_loss_report(self) -> None:
        pass  # the report's timestamps stay on the card as history; the log says it was withdrawn

    @transition(
        field=status,
        source=[S.ISSUED, S.PHONE_REPORTED_LOST],
        target=S.WRITTEN_LOST,
        conditions=[_loss_report_live],
        permission=fsm_permission(T.REPORT_LOST_IN_WRITING),
    )
    def report_lost_in_writing(
        self,
        *,
        at: datetime.datetime,
        expires_at: datetime.datetime | None,
        certificate_number: str,
    ) -> None:
        self.written_reported_at = at
        self.written_report_expires_at = expires_at
        self.loss_certificate_number = certificate_number

    @transition(
        field=status,
        source=S.WRITTEN_LOST,
        target=S.CANCELLED,
        conditions=[_written_report_expired],
        permission=fsm_permission(T.EXPIRE_WRITTEN_REPORT),
    )
    def expire_written_report(self) -> None:
        """Applied in bulk by cards/expiry.py; declared here for the state machine's record."""

    @transition(
        field=status,
        source=S.READY_FOR_COLLECTION,
        target=S.CANCELLED,
        conditions=[_uncollected_expired],
        permission=fsm_permission(T.CANCEL_UNCOLLECTED),
    )
    def cancel_uncollected(self) -> None:
        """Not collected within the rule set's period: cancelled (and the card destroyed).
        Applied in bulk by cards/expiry.py; declared here for the state machine's record."""

    @transition(
        field=status,
        source=[S.WRITTEN_LOST, S.ISSUED],
        target=S.REPLACED,
        conditions=[_loss_report_live],
        permission=fsm_permission(T.REPLACE),
    )
    def replace(self, *, at: datetime.datetime) -> None:
        self.closed_at = at

    @transition(
        field=status,
        source=sorted(LIVE_STATES),
        target=S.REPLACED,
        conditions=[_is_medical],
        permission=fsm_permission(T.REPLACE),
    )
    def replace_by_social_security_card(self, *, at: datetime.datetime) -> None:
        """One person, one card (issue #17): the holder's social security card was handed over;
        cards.services.cards_one_person_one_card calls it, logged as a replacement."""
        self.closed_at = at

    @transition(
        field=status, source=S.ISSUED, target=S.CANCELLED, permission=fsm_permission(T.CANCEL)
    )
    def cancel(self, *, at: datetime.datetime) -> None:
        self.closed_at = at


class OnlineVerification(models.Model):
    """The evidence of one online identity check of an application: who checked (the provider),
    their reference, when, and the result. Required for online channels; append-only."""

    card = models.ForeignKey(
        Card,
        on_delete=models.PROTECT,
        related_name="online_verifications",
        verbose_name=_("card"),
    )
    check_kind = models.CharField(_("check"), max_length=16, choices=OnlineCheck.choices)
    provider = models.CharField(_("provider"), max_length=64)
    reference = models.CharField(_("verification reference"), max_length=128)
    verified_at = models.DateTimeField(_("verified at"))
    result = models.CharField(_("result"), max_length=16, choices=OnlineCheckResult.choices)

    class Meta:
        ordering = ["card", "check_kind"]
        verbose_name = _("online verification")
        verbose_name_plural = _("online verifications")
        constraints = [
            models.UniqueConstraint(
                fields=["card", "check_kind"], name="onlineverification_one_per_check"
            )
        ]

    def __str__(self) -> str:
        return f"{self.check_kind} {self.provider} {self.result}"


class CardTransition(models.Model):
    """One change of a card's state: from, to, when, who, where, how, why, and its own data.

    Append-only: the model refuses updates and deletes, and on PostgreSQL a trigger does too.
    """

    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, related_name="transitions", verbose_name=_("card")
    )
    name = models.CharField(_("transition"), max_length=32, choices=TransitionName.choices)
    from_status = models.CharField(
        _("from state"), max_length=32, choices=CardStatus.choices, blank=True
    )
    to_status = models.CharField(_("to state"), max_length=32, choices=CardStatus.choices)
    at = models.DateTimeField(_("at"), db_index=True)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    actor_kind = models.CharField(_("actor"), max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    bank = models.ForeignKey(
        PartnerBank,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("bank"),
    )
    service_point = models.ForeignKey(
        ServicePoint,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service point"),
    )
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    reason = models.TextField(_("reason"), blank=True)
    # Personal values (a card number, a caller's phone and address, an agent's name and number,
    # the registry check's differing values) are stored encrypted, the person's own under their
    # data key (LOG_DATA_PERSONAL); field names, flags and dates stay readable in SQL (the status
    # page reads the differing fields' names).
    data = SealedJSONField(
        _("data"),
        default=dict,
        blank=True,
        sealed_keys=LOG_DATA_SEALED,
        subject_keys=LOG_DATA_PERSONAL,
        subject="card.applicant_id",
        context="cardtransition.data",
    )

    class Meta:
        ordering = ["card", "id"]
        verbose_name = _("card transition")
        verbose_name_plural = _("card transitions")
        indexes = [models.Index(fields=["card", "id"], name="cardtransition_card_idx")]
        # view_cardtransition shows a card's history on its own page; the whole city's log is
        # the auditor's (cards.admin.CardTransitionAdmin).
        permissions = [("audit_cardtransition", "Can review the whole transition log")]

    def __str__(self) -> str:
        return f"{self.get_name_display()}: {self.from_status or '-'} -> {self.to_status}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise RuntimeError("The transition log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("The transition log is append-only.")


class DeliveryState(models.Model):
    """Where an outbox row's delivery stands (bank webhooks, card-center notices): written with
    the row, then by cards.delivery.attempt_recorded after each attempt."""

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("delivery attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.CharField(
        _("last delivery error"), max_length=255, blank=True, default="", db_default=""
    )

    class Meta:
        abstract = True


class OutboxEvent(DeliveryState):
    """An event for partner banks, written in the same transaction as the change it reports;
    delivered later (event feed and webhooks), so a lost delivery only delays it."""

    kind = models.CharField(_("kind"), max_length=40, choices=OutboxEventKind.choices)
    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, related_name="events", verbose_name=_("card")
    )
    bank = models.ForeignKey(
        PartnerBank,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("bank"),
    )
    payload = models.JSONField(_("payload"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        indexes = [
            models.Index(fields=["bank", "id"], name="outbox_bank_feed_idx"),
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(delivered_at__isnull=True),
                name="outbox_undelivered_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class LossCertificateCounter(models.Model):
    """Numbers loss-report certificates per service point and day: LR-<point>-<yyyymmdd>-<n>."""

    service_point = models.ForeignKey(ServicePoint, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service_point", "day"], name="losscert_point_day")
        ]

    def __str__(self) -> str:
        return f"{self.service_point_id} {self.day} {self.last_number}"


class OverdueCount(models.Model):
    """The daily count of one kind of overdue work at one service point (the supervisors' flags;
    the lists behind them are cards.selectors.overdue_*)."""

    day = models.DateField(_("day"))
    kind = models.CharField(_("kind"), max_length=32, choices=OverdueKind.choices)
    service_point = models.ForeignKey(
        ServicePoint,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service point"),
        help_text=_("Empty for flags that belong to no service point (employers)."),
    )
    count = models.PositiveIntegerField(_("count"))

    class Meta:
        ordering = ["-day", "kind"]
        verbose_name = _("overdue count")
        verbose_name_plural = _("overdue counts")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "kind", "service_point"],
                name="overduecount_day_kind_point",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.count}"


class CardCenterNotice(DeliveryState):
    """A notice to the municipal information service center that a card became usable or
    unusable (seed 001: the loss report is transmitted to it), written in the same transaction as
    the transition; delivered after the commit, in order per card (cards/cardcenter.py).

    Its columns are all the body is built from, so every retry sends the same notice."""

    notice_id = models.UUIDField(_("notice id"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=TransitionName.choices)
    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, related_name="card_center_notices", verbose_name=_("card")
    )
    card_type = models.CharField(_("card type"), max_length=32, choices=CardType.choices)
    card_number = EncryptedCharField(
        _("card number"), max_length=20, blank=True, default="", context=CARD_NUMBER_CONTEXT
    )
    bank = models.ForeignKey(
        PartnerBank,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issuing partner bank"),
    )
    from_status = models.CharField(_("from state"), max_length=32, choices=CardStatus.choices)
    to_status = models.CharField(_("to state"), max_length=32, choices=CardStatus.choices)
    at = models.DateTimeField(_("at"))
    related_card = models.ForeignKey(
        Card,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("related card"),
        help_text=_("A replacement: the new card. A replacement card's issue: the old card."),
    )
    related_card_number = EncryptedCharField(
        _("related card number"),
        max_length=20,
        blank=True,
        default="",
        context=CARD_NUMBER_CONTEXT,
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("card-center notice")
        verbose_name_plural = _("card-center notices")
        indexes = [
            # The re-drive: due notices, oldest attempt first.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(delivered_at__isnull=True),
                name="ccnotice_undelivered_idx",
            ),
            # In order per card: is an older notice of this card still undelivered?
            models.Index(
                fields=["card", "id"],
                condition=Q(delivered_at__isnull=True),
                name="ccnotice_card_undelivered_idx",
            ),
            # The admin's search by card number (an exact match, newest first).
            models.Index(fields=["card_number", "id"], name="ccnotice_card_number_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.card_number or '-'} #{self.pk}"

    @property
    def usable(self) -> bool:
        return self.to_status == S.ISSUED


class CardCenterReceipt(models.Model):
    """What the local card-center backend received (`make run`, tests): one row per notice id,
    so a notice sent twice is recorded once, as the real center deduplicates."""

    notice_id = models.UUIDField(_("notice id"), unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=TransitionName.choices)
    # Encrypted like the card's own (the local center is a table of this database).
    card_number = EncryptedCharField(
        _("card number"), max_length=20, blank=True, context=CARD_NUMBER_CONTEXT
    )
    body = SealedJSONField(
        _("notice"),
        sealed_keys=frozenset({"card_number", "replaces_card_number"}),
        context="cardcenterreceipt.body",
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    times_received = models.PositiveIntegerField(_("times received"), default=1)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("card-center receipt (local)")
        verbose_name_plural = _("card-center receipts (local)")

    def __str__(self) -> str:
        return f"{self.kind} {self.card_number or '-'}"


class DeliveryCursor(models.Model):
    """Where a long scan resumes (the webhooks' triage of events written by set-based SQL, the
    retention walks of privacy/retention.py), kept in PostgreSQL with the data it points into:
    losing Redis loses no position."""

    name = models.CharField(_("name"), max_length=64, primary_key=True)
    position = models.BigIntegerField(_("position"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("delivery cursor")
        verbose_name_plural = _("delivery cursors")

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


# --- What each service point may see, and the counts behind the dashboard ------------------------
# Kept by database triggers (migration 0009): every writer is covered, the services, the set-based
# expiry sweeps and the API's batch endpoints alike, in the same transaction as the change.


class PointCard(models.Model):
    """A card that is one service point's work: applied for there, to be collected there, or a
    loss report taken there (the clerk's scope, counter/scope.py). The card's application time and
    bank are copied here so that a point's list is read in order from one index."""

    service_point = models.ForeignKey(
        ServicePoint, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="point_links")
    applied_at = models.DateTimeField()
    bank = models.ForeignKey(
        PartnerBank,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    applied_here = models.BooleanField(default=False)
    collect_here = models.BooleanField(default=False)
    loss_report_here = models.BooleanField(default=False)
    # The card's loss state (phone_reported_lost or written_lost, else NULL) and its live
    # deadline (the phone report's or the written report's), kept by the database (migration
    # 0019): a point's loss reports by deadline are ranges of its own index, whatever the city's.
    # NULL, not "": the database's CASE gives no state outside a loss report.
    loss_state = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    loss_deadline = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service_point", "card"], name="pointcard_unique")
        ]
        indexes = [
            models.Index(
                fields=["service_point", "applied_at", "card"], name="pointcard_applied_idx"
            ),
            models.Index(
                fields=["service_point", "bank", "applied_at", "card"], name="pointcard_bank_idx"
            ),
            models.Index(
                fields=["service_point", "applied_at", "card"],
                condition=Q(loss_report_here=True),
                name="pointcard_loss_idx",
            ),
            models.Index(
                fields=["service_point", "loss_state", "loss_deadline", "card"],
                condition=Q(loss_deadline__isnull=False),
                name="pointcard_loss_deadline_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_point_id}:{self.card_id}"


class PointPersonReason(models.TextChoices):
    CARD = "card", _("Has a card that is this point's work")
    REGISTERED = "registered", _("Registered at this point")
    SEARCHED = "searched", _("Exact document number searched at this point")


class PointPerson(models.Model):
    """A person one service point may see in its applicant lists: the holder of a card that is the
    point's work (a trigger), or a person registered or searched by their exact document number
    at the point (cards/counter/scope.py). Nobody else's card-less people are listed (PRODUCT.md,
    "Privacy")."""

    service_point = models.ForeignKey(
        ServicePoint, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="point_links")
    since = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=16, choices=PointPersonReason.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service_point", "applicant"], name="pointperson_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["service_point", "since", "applicant"], name="pointperson_since_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_point_id}:{self.applicant_id}"


class CardStateCount(models.Model):
    """Cards of one scope ("city", "bank:<id>", "point:<id>") in one stored state: the sum of
    this key's rows. Append-only deltas, written by statement-level triggers on cards_card and
    cards_pointcard: a change adds rows and never updates one, so no transaction ever waits on
    another's counter row. cards.counts.compact_counts folds each key's rows into one (beat,
    every minute); cards.counts.reconcile_counts proves the sums equal a full count."""

    scope = models.CharField(max_length=24)
    status = models.CharField(max_length=32, choices=CardStatus.choices)
    count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["scope", "status"], name="cardstatecount_key_idx")]

    def __str__(self) -> str:
        return f"{self.scope} {self.status} {self.count}"


class CardDailyCount(models.Model):
    """Applications one scope took on one day (Asia/Shanghai), the dashboard's 30-day chart: the
    sum of this key's rows, append-only deltas like CardStateCount."""

    scope = models.CharField(max_length=24)
    day = models.DateField()
    count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["scope", "day"], name="carddailycount_key_idx")]

    def __str__(self) -> str:
        return f"{self.scope} {self.day} {self.count}"


class SandboxCard(models.Model):
    """A partner bank's test card for integrators (cards/sandbox.py, `/api/v1/sandbox/`): a table
    of its own, so a sandbox card never reaches the real cards, their log, the bank's events and
    webhooks, the card center or the dashboard's counts; only a sandbox key sees it."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    bank = models.ForeignKey(
        PartnerBank,
        on_delete=models.PROTECT,
        related_name="sandbox_cards",
        verbose_name=_("issuing partner bank"),
    )
    card_type = models.CharField(_("card type"), max_length=32, choices=CardType.choices)
    status = models.CharField(
        _("status"), max_length=32, choices=CardStatus.choices, default=CardStatus.APPLIED
    )
    receipt_number = models.CharField(_("receipt number"), max_length=20, unique=True)
    card_number = models.CharField(_("card number"), max_length=20, blank=True, default="")
    holder_name = models.CharField(_("holder name"), max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    history = models.JSONField(_("history"), default=list, blank=True)

    class Meta:
        verbose_name = _("sandbox card")
        verbose_name_plural = _("sandbox cards")
        indexes = [models.Index(fields=["bank", "-id"], name="sandboxcard_bank_idx")]

    def __str__(self) -> str:
        return f"sandbox {self.receipt_number} {self.status}"


class CardFee(models.Model):
    """The fee of a replacement card, from the rule set it was made under (issue #17): due when
    the replacement is taken, then paid (the bank collects it, through the API) or waived (a
    supervisor, with the reason). Amounts in fen (1 yuan = 100 fen)."""

    card = models.OneToOneField(
        Card, on_delete=models.PROTECT, related_name="fee", verbose_name=_("card")
    )
    amount_fen = models.PositiveIntegerField(_("amount (fen)"))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    status = models.CharField(_("status"), max_length=8, choices=FeeStatus.choices)
    due_at = models.DateTimeField(_("due since"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=64, blank=True)
    waived_at = models.DateTimeField(_("waived at"), null=True, blank=True)
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("waived by"),
    )
    waiver_reason = models.CharField(_("reason for the waiver"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("replacement fee")
        verbose_name_plural = _("replacement fees")
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=FeeStatus.PAID) | Q(paid_at__isnull=False),
                name="cardfee_paid_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status=FeeStatus.WAIVED) | ~Q(waiver_reason=""),
                name="cardfee_waived_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_yuan} {self.currency} {self.status}"

    @property
    def amount_yuan(self) -> str:
        return f"{self.amount_fen // 100}.{self.amount_fen % 100:02d}"


class CardFunctionEvent(models.Model):
    """One act on a card's functions and services that is not a lifecycle transition: the
    financial function's changes (by the bank), the replacement fee's, the PIN's reset and unlock
    at the counter (no PIN is ever stored). Append-only, like the transition log."""

    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, related_name="function_events", verbose_name=_("card")
    )
    action = models.CharField(_("action"), max_length=32, choices=FunctionAction.choices)
    from_value = models.CharField(_("from"), max_length=16, blank=True)
    to_value = models.CharField(_("to"), max_length=16, blank=True)
    at = models.DateTimeField(_("at"))
    actor_kind = models.CharField(_("actor"), max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    bank = models.ForeignKey(
        PartnerBank,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("bank"),
    )
    service_point = models.ForeignKey(
        ServicePoint,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service point"),
    )
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["card", "id"]
        verbose_name = _("card function event")
        verbose_name_plural = _("card function events")
        indexes = [models.Index(fields=["card", "id"], name="cardfunctionevent_card_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.from_value or '-'} -> {self.to_value or '-'}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise RuntimeError("The function event log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("The function event log is append-only.")


class ElectronicCardEvent(DeliveryState):
    """A change of an electronic social security card's status (derived from its card's), for
    the national platform, written in the same transaction as the card's transition; delivered
    after the commit through cards/electronic.py (the card-center notices' machinery)."""

    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, related_name="electronic_events", verbose_name=_("card")
    )
    transition = models.CharField(_("transition"), max_length=32, choices=TransitionName.choices)
    from_status = models.CharField(
        _("from"), max_length=16, choices=ElectronicCardStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=16, choices=ElectronicCardStatus.choices)
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("electronic card event")
        verbose_name_plural = _("electronic card events")
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(delivered_at__isnull=True),
                name="ecard_undelivered_idx",
            ),
            models.Index(
                fields=["card", "id"],
                condition=Q(delivered_at__isnull=True),
                name="ecard_card_undelivered_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} #{self.pk}"


class ElectronicCardReceipt(models.Model):
    """What the local national-platform backend received (the default; `make run`, tests): one
    row per event id, as the platform deduplicates."""

    event_id = models.UUIDField(_("event id"), unique=True, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=ElectronicCardStatus.choices)
    # Encrypted like the card's own (the local platform is a table of this database).
    card_number = EncryptedCharField(
        _("card number"), max_length=20, blank=True, context=CARD_NUMBER_CONTEXT
    )
    body = SealedJSONField(
        _("event"),
        sealed_keys=frozenset({"card_number", "social_security_number"}),
        context="electroniccardreceipt.body",
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    times_received = models.PositiveIntegerField(_("times received"), default=1)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("national platform receipt (local)")
        verbose_name_plural = _("national platform receipts (local)")

    def __str__(self) -> str:
        return f"{self.status} {self.card_number or '-'}"
