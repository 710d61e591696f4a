"""Every change of a card's state: one service per transition.

Each service runs in one database transaction: it locks the card row, applies a loss report's
passed deadline first (the same code as the sweep, cards/expiry.py), re-checks the state, the
actor's permission (cards/permissions.py) and the transition's own rules, calls the pure
transition on the model, saves with `update_fields`, and appends one log row and one outbox event
(cards/events.py). Refusals raise `ApplicationError` with a stable code:

  transition_not_allowed (409)  the card's state does not allow it
  deadline_passed (409)         the loss report expired before this could be done
  permission_denied (403)       this actor may not do it here, or not to this card
  not_eligible (422)            the eligibility policy says no (applicants/policy.py)
  duplicate_live_card (409)     the person already has a live card of this type
  invalid (422)                 the input breaks a rule (details name the field)
  registry_unavailable (503)    the municipal registry did not answer in time: try again

Rules come from PRODUCT.md, "The card lifecycle".
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_fsm import can_proceed

from agencies.choices import ServicePointKind, StaffRole
from agencies.models import PartnerBank, ServicePoint
from applicants.choices import IdDocumentType
from applicants.identity import (
    normalise_id_number,
    person_name_refusal,
    phone_checked,
    validate_identity_document,
)
from applicants.models import Applicant, has_own_social_security_number, id_number_index
from applicants.policy import applicant_card_eligibility
from applicants.registry import (
    COMPARED_FIELDS,
    RegistryEntry,
    RegistryUnavailable,
    compare_with_registry,
    get_registry,
)
from applicants.services import applicant_assign_social_security_number
from cards import rules
from cards.actors import Actor
from cards.choices import (
    ISSUED_CARD_REPLACEMENT_REASONS,
    LIVE_STATES,
    ONLINE_CHANNELS,
    ActorKind,
    AgentDocument,
    CardStatus,
    CardType,
    Channel,
    FeeStatus,
    FinancialStatus,
    FunctionAction,
    OnlineCheck,
    OnlineCheckResult,
    OutboxEventKind,
    RejectionReason,
    ReplacementReason,
    TransitionName,
)
from cards.events import event_time, record_function_event, record_transition
from cards.expiry import EXPIRIES, expire_batch, expire_card_if_due
from cards.models import Card, CardFee, LossCertificateCounter, OnlineVerification
from cards.numbers import normalise_receipt_number
from cards.permissions import POINT_KIND_CARD_TYPES, actor_may
from common.errors import ApplicationError
from common.text import visible_text
from common.workdays import add_working_days

S = CardStatus
T = TransitionName
R = TypeVar("R")

CARD_NUMBER = re.compile(r"^[A-Z0-9]{6,20}$")
BANK_CHANNELS = frozenset({Channel.BANK_OUTLET} | ONLINE_CHANNELS)


@dataclass(frozen=True)
class Agent:
    """An entrusted agent (代办人) acting for the applicant, with their own valid document (or, for
    a written loss report, their own social security card)."""

    name: str
    id_type: str
    id_number: str
    document: str = AgentDocument.IDENTITY_DOCUMENT


@dataclass(frozen=True)
class OnlineCheckEvidence:
    """The evidence of one online identity check, as the channel's provider reported it."""

    kind: str  # cards.choices.OnlineCheck
    provider: str
    reference: str
    verified_at: datetime.datetime
    result: str  # cards.choices.OnlineCheckResult

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "provider": self.provider,
            "reference": self.reference,
            "verified_at": self.verified_at.isoformat(),
            "result": self.result,
        }


# --- Refusals --


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid", details={field: [message]}, status=422)


def _not_allowed(card: Card, name: str) -> ApplicationError:
    return ApplicationError(
        _("Not allowed for a card in the state %(status)s: %(transition)s.")
        % {"status": S(card.status).label, "transition": T(name).label},
        code="transition_not_allowed",
        details={"status": card.status, "transition": name},
        status=409,
    )


def _permission_denied(name: str) -> ApplicationError:
    return ApplicationError(
        _("You may not do this here, or not to this card."),
        code="permission_denied",
        details={"transition": name},
        status=403,
    )


def _deadline_passed(card: Card, expired: str) -> ApplicationError:
    deadline = getattr(card, EXPIRIES[expired].deadline_field)
    shown = timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")
    if expired == T.CANCEL_UNCOLLECTED:
        message = _(
            "The card was not collected by %(deadline)s and was cancelled; apply for a new one."
        ) % {"deadline": shown}
    elif expired == T.LAPSE_PHONE_REPORT:
        message = _("The phone report lapsed at %(deadline)s; the card is issued again.") % {
            "deadline": shown
        }
    else:
        message = _(
            "The written report expired at %(deadline)s and the card was cancelled "
            "automatically. A replacement is now a new application that points at the "
            "cancelled card."
        ) % {"deadline": shown}
    return ApplicationError(
        message,
        code="deadline_passed",
        details={"deadline": event_time(deadline), "status": card.status},
        status=409,
    )


# --- The frame every service runs in --


def _check(card: Card, actor: Actor, name: str) -> None:
    """The state allows the transition, and the actor may perform it on this card."""
    if not can_proceed(getattr(card, name), check_conditions=False):
        raise _not_allowed(card, name)
    if not actor_may(card, actor, name):
        raise _permission_denied(name)


def _locked(
    card: Card,
    perform: Callable[[Card, datetime.datetime], R],
    check: Callable[[Card, str | None], None] | None = None,
) -> R:
    """Lock, apply a due expiry, check, perform; one transaction. Every act on a card goes
    through here (lifecycle transitions by `_act`, the card's functions and services by
    `_function_frame`).

    A due expiry is committed even when the action is then refused: a passed deadline is in force
    whatever the clerk asked for. `perform` runs in a savepoint, so a refusal from it leaves
    nothing half-written.
    """
    refusal: ApplicationError | None = None
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        # The time is read after the lock: a clerk who waited for another transaction across a
        # deadline acts at the instant they got the card, and the model's guards judge that same
        # instant (Card.as_of), so a passed deadline is the documented refusal, never a 500.
        now = timezone.now()
        locked.as_of(now)
        expired = expire_card_if_due(locked, now=now)
        try:
            if check is not None:
                check(locked, expired)
            with transaction.atomic():
                return perform(locked, now)
        except ApplicationError as exc:
            if not expired:
                raise
            refusal = exc
    raise refusal


def _act(card: Card, actor: Actor, name: str, perform: Callable[[Card, datetime.datetime], R]) -> R:
    """A lifecycle transition: `_locked`, checked against the state machine and the actor."""

    def check(locked: Card, expired: str | None) -> None:
        if expired and not can_proceed(getattr(locked, name), check_conditions=False):
            raise _deadline_passed(locked, expired)
        _check(locked, actor, name)

    return _locked(card, perform, check)


def _save(card: Card, *fields: str) -> None:
    card.save(update_fields=["status", "updated_at", *fields])


def card_number_checked(value: str) -> str:
    """The card number as stored (spaces and dashes dropped, full-width folded, upper-case), or
    `invalid` naming the rule. The batch of the partner API checks its numbers here too."""
    if CARD_NUMBER.fullmatch(value):
        return value  # already as stored (the usual case: a bank's own system)
    number = normalise_id_number(value)
    if not CARD_NUMBER.match(number):
        raise _invalid("card_number", _("A card number has 6 to 20 letters and digits."))
    return number


def card_number_taken(number: str) -> ApplicationError:
    """The refusal of a card number already on another card: 409, whether it was seen before
    the write or only by the unique index when another transaction committed it first."""
    message = _("This card number is already on another card.")
    return ApplicationError(
        message, code="card_number_taken", details={"card_number": [message]}, status=409
    )


def _card_number(value: str) -> str:
    number = card_number_checked(value)
    if Card.objects.filter(card_number_bidx=Card.blind_index("card_number", number)).exists():
        raise card_number_taken(number)
    return number


def _save_numbered(card: Card, *fields: str) -> None:
    """Save a card that takes a new number: a concurrent transaction that committed the same
    number first (the unique index) is the documented 409, not a 500. (Runs inside `_act`'s
    savepoint, so the refusal leaves nothing written.)"""
    try:
        with transaction.atomic():
            _save(card, *fields)
    except IntegrityError as exc:
        if (
            not Card.objects.filter(
                card_number_bidx=Card.blind_index("card_number", card.card_number)
            )
            .exclude(pk=card.pk)
            .exists()
        ):
            raise
        raise card_number_taken(card.card_number) from exc


def mark_ready_data(card: Card) -> dict[str, Any]:
    """What the log records of a card made ready: its number and whether the 3-working-day
    promise was kept. Shared by `card_mark_ready` and the partner batch (cards/batch.py)."""
    data: dict[str, Any] = {"card_number": card.card_number}
    if card.uncollected_cancels_at is not None:
        data["uncollected_cancels_at"] = event_time(card.uncollected_cancels_at)
    if card.collect_by is not None:
        data["collect_by"] = card.collect_by.isoformat()
    if card.ready_promised_by is not None:
        data["promised_by"] = card.ready_promised_by.isoformat()
        data["promise_kept"] = card.ready_promise_kept
    return data


def withdraw_reason_checked(reason: str) -> str:
    """A withdrawal names its reason (stored stripped). Shared by `card_withdraw` and the partner
    batch."""
    reason = visible_text(reason)
    if not reason:
        raise _invalid("reason", _("Give the reason for the withdrawal."))
    return reason


def _validated_agent(
    agent: Agent | None, applicant: Applicant, *, social_security_card_accepted: bool = False
) -> Agent | None:
    if agent is None:
        return None
    if not visible_text(agent.name):
        raise _invalid("agent_name", _("The entrusted agent's name is required."))
    refusal = person_name_refusal(agent.name.strip())
    if refusal:
        raise _invalid("agent_name", refusal)
    if agent.document not in AgentDocument.values:
        raise _invalid("agent_document", _("Unknown kind of document."))
    if agent.document == AgentDocument.SOCIAL_SECURITY_CARD:
        return _agent_by_social_security_card(agent, applicant, social_security_card_accepted)
    try:
        facts = validate_identity_document(agent.id_type, agent.id_number)
    except ValidationError as exc:
        messages = exc.message_dict.get("id_number") or exc.messages
        raise ApplicationError(
            _("The entrusted agent's document is not valid."),
            code="invalid",
            details={"agent_id_number": messages},
            status=422,
        ) from exc
    if agent.id_type == applicant.id_type and facts.number == applicant.id_number:
        raise _invalid("agent_id_number", _("The entrusted agent cannot be the applicant."))
    return Agent(agent.name.strip(), agent.id_type, facts.number)


def _agent_by_social_security_card(agent: Agent, applicant: Applicant, accepted: bool) -> Agent:
    """Seed 001: an agent's own social security card is their document for a written loss report
    only; it must be a card issued to them (its number is their citizen identity number)."""
    if not accepted:
        raise _invalid(
            "agent_document",
            _("For this act the entrusted agent shows their own identity document."),
        )
    number = normalise_id_number(agent.id_number)
    if number == applicant.id_number:
        raise _invalid("agent_id_number", _("The entrusted agent cannot be the applicant."))
    issued = Card.objects.filter(
        applicant__id_type=IdDocumentType.RESIDENT_ID,
        applicant__id_number_bidx=id_number_index(number),
        card_type=CardType.SOCIAL_SECURITY,
        status=S.ISSUED,
    ).exists()
    if not issued:
        raise _invalid(
            "agent_id_number",
            _("No issued social security card has this social security number."),
        )
    return Agent(agent.name.strip(), IdDocumentType.RESIDENT_ID, number, agent.document)


def _identity_record(
    *,
    agent: Agent | None,
    card_presented: bool | None = None,
    id_source: str = "",
    **checked: bool,
) -> dict[str, Any]:
    """What the clerk checked, for the transition log (README, "Identity rules of each act").
    The agent's number is kept for the audit; a bank never reads `identity`. `id_source`: where
    the holder's number came from when not typed for this act (IdSource, e.g. the document
    presented at the counter search of this visit)."""
    record: dict[str, Any] = {"holder_id_presented": True, **checked}
    if id_source:
        record["id_source"] = id_source
    if card_presented is not None:
        record["card_presented"] = card_presented
    record["by"] = "agent" if agent else "holder"
    if agent:
        record["agent"] = {
            "name": agent.name,
            "id_type": agent.id_type,
            "id_number": agent.id_number,
            "document": agent.document,
        }
    return record


def _proof_of_control(
    card: Card,
    *,
    id_number: str,
    card_presented: bool,
    agent: Agent | None,
    card_required: bool,
    id_source: str = "",
) -> tuple[Agent | None, dict[str, Any]]:
    """Lifting a loss report and replacement give control of a card: the holder's identity
    document as presented, checked against the holder (the card face shows only the number), and
    the card itself; or an entrusted agent carrying both persons' documents (PRODUCT.md)."""
    if not normalise_id_number(id_number):
        raise _invalid("id_number", _("The holder's identity document is required."))
    _holder_id_matches(card, id_number)
    valid_agent = _validated_agent(agent, card.applicant)
    if card_required and not card_presented and valid_agent is None:
        raise _invalid(
            "card_presented",
            _(
                "The card itself is required with the holder's identity document, or an "
                "entrusted agent with both persons' documents."
            ),
        )
    return valid_agent, _identity_record(
        agent=valid_agent, card_presented=card_presented, id_source=id_source
    )


def _registration_form(applicant: Applicant) -> dict[str, Any]:
    """The registration form as recorded on the applicant, in the registry's fields."""
    return {field: getattr(applicant, field) for field in COMPARED_FIELDS}


def _holder_id_matches(card: Card, presented: str, field: str = "id_number") -> None:
    if normalise_id_number(presented) != card.applicant.id_number:
        raise _invalid(field, _("The identity document presented is not the card holder's."))


# --- Submit --


def _submission_points(
    *,
    actor: Actor,
    card_type: str,
    bank: PartnerBank | None,
    service_point: ServicePoint | None,
    collection_point: ServicePoint | None,
) -> tuple[ServicePoint, ServicePoint]:
    point = actor.service_point if actor.kind == ActorKind.USER else service_point
    if point is None:
        raise _invalid("service_point", _("Name the service point (outlet) of the application."))
    if actor.kind == ActorKind.BANK and point.bank_id != actor.bank.pk:
        raise _invalid("service_point", _("The outlet is not one of this bank's outlets."))
    if card_type not in POINT_KIND_CARD_TYPES.get(point.kind, frozenset()):
        raise _invalid(
            "card_type",
            _("A %(kind)s does not take applications for this card type.")
            % {"kind": ServicePointKind(point.kind).label},
        )
    if card_type == CardType.SOCIAL_SECURITY:
        # The card is also a bank card: collected at an outlet of the chosen bank.
        collection_point = collection_point or (point if point.bank_id == bank.pk else None)
        if collection_point is None or collection_point.bank_id != bank.pk:
            raise _invalid(
                "collection_point",
                _("A social security card is collected at an outlet of its partner bank."),
            )
    else:
        collection_point = collection_point or point
    if not collection_point.active:
        raise _invalid("collection_point", _("The collection point is closed."))
    return point, collection_point


def card_submit(
    *,
    applicant: Applicant,
    card_type: str,
    actor: Actor,
    channel: str | None = None,
    bank: PartnerBank | None = None,
    service_point: ServicePoint | None = None,
    collection_point: ServicePoint | None = None,
    online_checks: Sequence[OnlineCheckEvidence] = (),
    agent: Agent | None = None,
    photo_receipt_number: str = "",
    replaces: Card | None = None,
) -> Card:
    """Take an application (creates the card in `applied`).

    Refused when the eligibility policy says no (with every reason), when an online channel lacks
    real-person or real-name verification, or when the person already has a live card of this
    type (at most one, PRODUCT.md). After an automatic cancellation a replacement is a new
    application that `replaces` the cancelled card.
    """
    if card_type not in CardType.values:
        raise _invalid("card_type", _("Unknown card type."))
    channel = channel or actor.channel
    if actor.kind == ActorKind.BANK:
        bank = actor.bank
        if channel not in BANK_CHANNELS:
            raise _invalid("channel", _("A bank submits applications from its outlets or online."))
    elif actor.kind == ActorKind.PLATFORM:
        # The city's online service platform: its own channel, the bank the applicant chose.
        if channel != Channel.ONLINE_PLATFORM:
            raise _invalid("channel", _("The online service platform submits on its own channel."))
    elif actor.kind == ActorKind.USER:
        if channel not in (Channel.COUNTER, Channel.BANK_OUTLET):
            raise _invalid("channel", _("At a service point the channel is the counter."))
        if actor.service_point and actor.service_point.bank_id:
            bank = bank or actor.service_point.bank
    else:
        raise _permission_denied(T.SUBMIT)
    if card_type == CardType.SOCIAL_SECURITY and bank is None:
        raise _invalid(
            "bank", _("A social security card is produced by a partner bank: choose one.")
        )
    if card_type == CardType.MEDICAL_INSURANCE:
        bank = None
    if bank is not None and not bank.active:
        raise _invalid("bank", _("This partner bank does not take applications now."))
    checks = _online_checks(online_checks) if channel in ONLINE_CHANNELS else {}
    point, collection_point = _submission_points(
        actor=actor,
        card_type=card_type,
        bank=bank,
        service_point=service_point,
        collection_point=collection_point,
    )
    draft = Card(applicant=applicant, card_type=card_type, bank=bank, service_point=point)
    if actor.kind == ActorKind.USER and not actor_may(draft, actor, T.SUBMIT):
        raise _permission_denied(T.SUBMIT)
    agent = _validated_agent(agent, applicant)

    with transaction.atomic():
        # One submission per person at a time: the second waits here, then sees the first.
        applicant = Applicant.objects.select_for_update().get(pk=applicant.pk)
        now = timezone.now()  # after the lock: the deadlines in force when this one goes ahead
        for live in applicant.cards.filter(card_type=card_type, status__in=LIVE_STATES):
            live = Card.objects.select_for_update().get(pk=live.pk)
            expire_card_if_due(live, now=now)
        if replaces is not None:
            replaces = Card.objects.select_for_update().get(pk=replaces.pk)
            if (
                replaces.applicant_id != applicant.pk
                or replaces.card_type != card_type
                or replaces.status != S.CANCELLED
            ):
                raise _invalid(
                    "replaces", _("Only the person's own cancelled card of this type is replaced.")
                )
            if Card.objects.filter(replaces=replaces).exists():
                raise _invalid("replaces", _("That card has been replaced already."))
        current = rules.in_force()
        answer = applicant_card_eligibility(applicant, card_type, point=point, rules=current)
        if not answer:
            raise ApplicationError(
                " ".join(reason.message for reason in answer.reasons),
                code="not_eligible",
                details=answer.as_details(),
                status=422,
            )
        existing = applicant.cards.filter(card_type=card_type, status__in=LIVE_STATES).first()
        if existing is not None:
            raise _duplicate_live_card(existing)
        if rules.in_force().assign_social_security_numbers and not (
            has_own_social_security_number(applicant.id_type, applicant.id_number)
        ):
            applicant_assign_social_security_number(applicant=applicant)
        card = Card(
            applicant=applicant,
            card_type=card_type,
            bank=bank,
            service_point=point,
            collection_point=collection_point,
            channel=channel,
            liveness_verified=OnlineCheck.REAL_PERSON in checks,
            real_name_verified=OnlineCheck.REAL_NAME in checks,
            agent_name=agent.name if agent else "",
            agent_id_type=agent.id_type if agent else "",
            agent_id_number=agent.id_number if agent else "",
            photo_receipt_number=photo_receipt_number.strip(),
            applied_at=now,
            replaces=replaces,
            rule_set=current.name,
            rule_set_version=current.version,
        )
        card.financial_status = _initial_financial_status(card)
        try:
            with transaction.atomic():
                card.save()
        except IntegrityError as exc:  # the partial unique index, if a twin slipped past
            raise _duplicate_live_card(None) from exc
        OnlineVerification.objects.bulk_create(
            OnlineVerification(
                card=card,
                check_kind=check.kind,
                provider=check.provider,
                reference=check.reference,
                verified_at=check.verified_at,
                result=check.result,
            )
            for check in checks.values()
        )
        actor = Actor(
            kind=actor.kind,
            user=actor.user,
            staff=actor.staff,
            bank=actor.bank,
            service_point=actor.service_point or point,
            channel=channel,
        )
        data: dict[str, Any] = {}
        if agent:
            data["agent"] = True
        if replaces is not None:
            data["replaces"] = str(replaces.public_id)
        if checks:
            data["online_checks"] = [check.as_dict() for check in checks.values()]
        record_transition(card=card, name=T.SUBMIT, from_status="", actor=actor, now=now, data=data)
        if replaces is not None:
            _fee_due(card, actor, now)
    return card


def _online_checks(given: Sequence[OnlineCheckEvidence]) -> dict[str, OnlineCheckEvidence]:
    """An online application needs a passed real-name check and a passed real-person check, each
    with its evidence: provider, reference, time (not in the future, at most ONLINE_CHECK_MAX_AGE
    old) and result (PRODUCT.md, "Applying"). Refused naming each check that falls short."""
    now = timezone.now()
    by_kind: dict[str, OnlineCheckEvidence] = {}
    problems: dict[str, list[str]] = {}
    for check in given:
        if check.kind not in OnlineCheck.values:
            problems.setdefault("online_checks", []).append(_("Unknown check."))
        elif check.kind in by_kind:
            problems[check.kind] = [_("Give each check once.")]
        else:
            by_kind[check.kind] = check
    for kind in OnlineCheck.values:
        check = by_kind.get(kind)
        if check is None:
            problems.setdefault(kind, []).append(_("Required for an online application."))
            continue
        if not check.provider.strip() or not check.reference.strip():
            problems.setdefault(kind, []).append(_("Name the provider and its reference."))
        if check.result != OnlineCheckResult.PASSED:
            problems.setdefault(kind, []).append(_("The check did not pass."))
        if check.verified_at > now or check.verified_at < now - settings.ONLINE_CHECK_MAX_AGE:
            problems.setdefault(kind, []).append(
                _("The check must be made within %(hours)d hours before the application.")
                % {"hours": settings.ONLINE_CHECK_MAX_AGE.total_seconds() // 3600}
            )
    if problems:
        raise ApplicationError(
            _("An online application needs passed real-person and real-name verification."),
            code="online_verification_required",
            details=problems,
            status=422,
        )
    return {
        kind: OnlineCheckEvidence(
            kind, c.provider.strip(), c.reference.strip(), c.verified_at, c.result
        )
        for kind, c in by_kind.items()
    }


def _duplicate_live_card(existing: Card | None) -> ApplicationError:
    details = {"card": str(existing.public_id), "status": existing.status} if existing else {}
    return ApplicationError(
        _("The person already has a live card of this type; withdraw, cancel or replace it first."),
        code="duplicate_live_card",
        details=details,
        status=409,
    )


# --- Verification --


def _registry_unavailable() -> ApplicationError:
    return ApplicationError(
        _("The municipal registry did not answer in time. Nothing was changed; try again shortly."),
        code="registry_unavailable",
        details={"retryable": True},
        status=503,
    )


def _registry_lookup(applicant: Applicant) -> RegistryEntry | None:
    """The person's registry record, or the retryable refusal when the registry is out."""
    try:
        registry = get_registry()
        if applicant.id_issuing_country:  # a passport: its issuing country tells two apart
            return registry.lookup(
                applicant.id_type, applicant.id_number, applicant.id_issuing_country
            )
        return registry.lookup(applicant.id_type, applicant.id_number)
    except (RegistryUnavailable, OSError) as exc:
        raise _registry_unavailable() from exc


def _registry_entry_for_replacement(card: Card) -> RegistryEntry | bool | None:
    """Before the lock: the holder's record for a replacement's automatic verification; False
    when the registry is out (the replacement is taken and waits for a clerk's verification)."""
    try:
        return _registry_lookup(Card.objects.select_related("applicant").get(pk=card.pk).applicant)
    except ApplicationError:
        return False


def card_verify(*, card: Card, actor: Actor) -> Card:
    """Check the registration form against the municipal registry (PRODUCT.md, "Applying").

    If the record matches, the card is verified; otherwise it is rejected with the fields that
    differ, side by side. At a street medical insurance point, verification starts the promise
    to complete the card within 3 working days.
    """

    # Asked before the card is locked: a slow or absent registry never holds the card's row.
    asked = Card.objects.select_related("applicant").get(pk=card.pk).applicant
    entry = _registry_lookup(asked)

    def perform(card: Card, now: datetime.datetime) -> Card:
        applicant = card.applicant
        if (applicant.id_type, applicant.id_number) != (asked.id_type, asked.id_number):
            raise _registry_unavailable()  # the person's document changed meanwhile: ask again
        if entry is None:
            return _reject(
                card,
                actor,
                now,
                reason=gettext_noop("No record in the municipal registry."),
                differences=[],
            )
        differences = compare_with_registry(_registration_form(applicant), entry)
        if differences:
            return _reject(
                card,
                actor,
                now,
                reason=gettext_noop("The form differs from the municipal registry."),
                differences=[d.as_dict() for d in differences],
            )
        card.verify(at=now, promised_by=_ready_promise(card, now))
        _save(card, "verified_at", "ready_promised_by")
        record_transition(card=card, name=T.VERIFY, from_status=S.APPLIED, actor=actor, now=now)
        return card

    return _act(card, actor, T.VERIFY, perform)


def _ready_promise(card: Card, now: datetime.datetime) -> datetime.date | None:
    if (
        card.card_type == CardType.MEDICAL_INSURANCE
        and card.collection_point.kind == ServicePointKind.STREET_MEDICAL_POINT
    ):
        return add_working_days(timezone.localdate(now), settings.MEDICAL_POINT_WORKING_DAYS)
    return None


def _reject(
    card, actor, now, *, reason: str, differences: list[dict[str, str]], reason_code: str = ""
) -> Card:
    if not actor_may(card, actor, T.REJECT):
        raise _permission_denied(T.REJECT)
    card.reject(at=now)
    _save(card, "closed_at")
    data: dict[str, Any] = {"differences": differences} if differences else {}
    if reason_code:
        data["reason_code"] = reason_code
    record_transition(
        card=card,
        name=T.REJECT,
        from_status=S.APPLIED,
        actor=actor,
        now=now,
        reason=reason,
        data=data,
    )
    return card


def card_reject(
    *,
    card: Card,
    actor: Actor,
    reason: str = "",
    differences: list[dict[str, str]] | None = None,
    reason_code: str = "",
) -> Card:
    """Reject an application, with the fields that differ or the reason. `reason_code`: one of
    cards.choices.RejectionReason, the reason the applicant reads on the status page (with what
    to bring next time); `reason` is then the clerk's own note, never shown to the applicant."""
    if reason_code and reason_code not in RejectionReason.values:
        raise _invalid("reason_code", _("Choose a reason from the list."))
    reason = visible_text(reason)
    if not reason and not differences and not reason_code:
        raise _invalid("reason", _("Give the reason or the fields that differ."))

    def perform(card: Card, now: datetime.datetime) -> Card:
        return _reject(
            card,
            actor,
            now,
            # The log keeps the list's English words (the admin's history translates them).
            # Differences alone need no reason: the code's words only when there is a code.
            reason=reason.strip() or (RejectionReason.english(reason_code) if reason_code else ""),
            differences=differences or [],
            reason_code=reason_code,
        )

    return _act(card, actor, T.REJECT, perform)


def card_withdraw(*, card: Card, actor: Actor, reason: str) -> Card:
    """The applicant withdrew before the card was issued."""
    reason = withdraw_reason_checked(reason)

    def perform(card: Card, now: datetime.datetime) -> Card:
        from_status = card.status
        card.withdraw(at=now)
        _save(card, "closed_at")
        record_transition(
            card=card,
            name=T.WITHDRAW,
            from_status=from_status,
            actor=actor,
            now=now,
            reason=reason,
        )
        return card

    return _act(card, actor, T.WITHDRAW, perform)


# --- Production and issue --


def _uncollected_deadline(card: Card, now: datetime.datetime) -> datetime.datetime | None:
    """When a card waiting for collection is cancelled (the card's rule set; None: never)."""
    days = rules.for_card(card).uncollected_period_days
    return None if days is None else now + datetime.timedelta(days=days)


def _collect_by(card: Card, now: datetime.datetime) -> datetime.date | None:
    """Seed 001: a street medical insurance point's card is collected "within the specified
    time": street_collection_days of the card's rule set from the day it is ready."""
    days = rules.for_card(card).street_collection_days
    if (
        days is None
        or card.card_type != CardType.MEDICAL_INSURANCE
        or card.collection_point.kind != ServicePointKind.STREET_MEDICAL_POINT
    ):
        return None
    return timezone.localdate(now) + datetime.timedelta(days=days)


def _expires_on(card: Card, now: datetime.datetime) -> datetime.date | None:
    """A card's validity from its hand-over (card_validity_years of its rule set)."""
    return rules.card_expires_on(rules.for_card(card), timezone.localdate(now))


def card_mark_ready(*, card: Card, actor: Actor, card_number: str) -> Card:
    """The card is produced (by the bank, or completed by the street medical insurance point) and
    waits for collection. Records whether the 3-working-day promise was kept."""

    def perform(card: Card, now: datetime.datetime) -> Card:
        card.mark_ready(
            at=now,
            card_number=_card_number(card_number),
            uncollected_cancels_at=_uncollected_deadline(card, now),
            collect_by=_collect_by(card, now),
        )
        _save_numbered(
            card,
            "ready_at",
            "card_number",
            "ready_promise_kept",
            "uncollected_cancels_at",
            "collect_by",
        )
        record_transition(
            card=card,
            name=T.MARK_READY,
            from_status=S.VERIFIED,
            actor=actor,
            now=now,
            data=mark_ready_data(card),
        )
        return card

    return _act(card, actor, T.MARK_READY, perform)


def card_issue_on_the_spot(*, card: Card, actor: Actor, card_number: str) -> Card:
    """A county medical insurance center settles a medical insurance card on the spot."""

    def perform(card: Card, now: datetime.datetime) -> Card:
        if card.card_type != CardType.MEDICAL_INSURANCE:
            raise _invalid("card_type", _("Only a medical insurance card is issued on the spot."))
        card.issue_on_the_spot(
            at=now, card_number=_card_number(card_number), expires_on=_expires_on(card, now)
        )
        _save_numbered(card, "ready_at", "issued_at", "card_number", "expires_on")
        record_transition(
            card=card,
            name=T.ISSUE_ON_THE_SPOT,
            from_status=S.VERIFIED,
            actor=actor,
            now=now,
            data={"card_number": card.card_number},
        )
        return card

    return _act(card, actor, T.ISSUE_ON_THE_SPOT, perform)


def hand_over_checked(
    card: Card, *, id_number: str, receipt_number: str, agent: Agent | None, id_source: str = ""
) -> dict[str, Any]:
    """The checks of a hand-over (the holder's ID and the receipt, or an agent with both IDs) and
    what the log records of them; shared by `card_hand_over` and the partner batch
    (cards/batch.py), so the two are indistinguishable in the log."""
    if not normalise_id_number(id_number):
        raise _invalid("id_number", _("The holder's identity document is required."))
    _holder_id_matches(card, id_number)
    if normalise_receipt_number(receipt_number) != card.receipt_number:
        raise _invalid("receipt_number", _("The receipt number is not this card's."))
    valid_agent = _validated_agent(agent, card.applicant)
    data: dict[str, Any] = {
        "identity": _identity_record(agent=valid_agent, receipt_presented=True, id_source=id_source)
    }
    if valid_agent:
        data["agent"] = True
    return data


def card_hand_over(
    *,
    card: Card,
    actor: Actor,
    id_number: str,
    receipt_number: str,
    agent: Agent | None = None,
    id_source: str = "",
) -> Card:
    """The holder collects the card with the original ID and the application receipt; or an
    entrusted agent with the holder's ID and their own (seeds 000, 001), recorded on the log."""

    def perform(card: Card, now: datetime.datetime) -> Card:
        data = hand_over_checked(
            card,
            id_number=id_number,
            receipt_number=receipt_number,
            agent=agent,
            id_source=id_source,
        )
        card.hand_over(at=now, expires_on=_expires_on(card, now))
        _save(card, "issued_at", "expires_on")
        record_transition(
            card=card,
            name=T.HAND_OVER,
            from_status=S.READY_FOR_COLLECTION,
            actor=actor,
            now=now,
            data=data,
        )
        cards_one_person_one_card(issued=[card], actor=actor, now=now)
        return card

    return _act(card, actor, T.HAND_OVER, perform)


# --- Loss, recovery, replacement, cancellation --


def card_report_lost_by_phone(
    *,
    card: Card,
    actor: Actor,
    caller_name: str,
    caller_id_number: str,
    contact_phone: str,
    home_address: str,
    id_source: str = "",
) -> Card:
    """A hotline pre-report of loss: the caller's name and ID number must be the holder's; valid
    for the card's rule set's phone_report_validity (seed-2019: 24 hours; shanghai-3rd-gen: 5
    days), fixed on the card when it is made."""
    for field, value in (
        ("caller_name", caller_name),
        ("contact_phone", contact_phone),
        ("home_address", home_address),
    ):
        if not visible_text(value):
            raise _invalid(field, _("This is required for a phone report."))
    try:
        contact_phone = phone_checked(contact_phone)
    except ValidationError as exc:
        raise _invalid("contact_phone", exc.messages[0]) from None

    def perform(card: Card, now: datetime.datetime) -> Card:
        applicant = card.applicant
        if " ".join(caller_name.split()) != " ".join(applicant.name.split()):
            raise _invalid("caller_name", _("The name is not the card holder's."))
        _holder_id_matches(card, caller_id_number, "caller_id_number")
        card_rules = rules.for_card(card)
        card.report_lost_by_phone(at=now, expires_at=now + card_rules.phone_report_validity)
        _save(card, "phone_reported_at", "phone_report_expires_at")
        record_transition(
            card=card,
            name=T.REPORT_LOST_BY_PHONE,
            from_status=S.ISSUED,
            actor=actor,
            now=now,
            data={
                "contact_phone": contact_phone.strip(),
                "home_address": visible_text(home_address),
                "expires_at": card.phone_report_expires_at.isoformat(),
                "rule_set": card_rules.label,
                **({"caller_id_source": id_source} if id_source else {}),
            },
        )
        return card

    return _act(card, actor, T.REPORT_LOST_BY_PHONE, perform)


def card_withdraw_loss_report(
    *,
    card: Card,
    actor: Actor,
    id_number: str,
    card_presented: bool = False,
    agent: Agent | None = None,
    reason: str = "",
    id_source: str = "",
) -> Card:
    """The card was found: a phone or written report is withdrawn before it expires. The holder
    shows their identity document and the card, or an agent brings both persons' documents."""

    def perform(card: Card, now: datetime.datetime) -> Card:
        valid_agent, identity = _proof_of_control(
            card,
            id_number=id_number,
            card_presented=card_presented,
            agent=agent,
            card_required=True,
            id_source=id_source,
        )
        from_status = card.status
        card.withdraw_loss_report()
        _save(card)
        data: dict[str, Any] = {"identity": identity}
        if valid_agent:
            data["agent"] = True
        record_transition(
            card=card,
            name=T.WITHDRAW_LOSS_REPORT,
            from_status=from_status,
            actor=actor,
            now=now,
            reason=reason.strip() or gettext_noop("Card found."),
            data=data,
        )
        return card

    return _act(card, actor, T.WITHDRAW_LOSS_REPORT, perform)


def _next_certificate_number(point: ServicePoint, now: datetime.datetime) -> str:
    day = timezone.localdate(now)
    counter, _created = LossCertificateCounter.objects.select_for_update().get_or_create(
        service_point=point, day=day
    )
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return f"LR-{point.code}-{day:%Y%m%d}-{counter.last_number:04d}"


def card_report_lost_in_writing(
    *,
    card: Card,
    actor: Actor,
    id_number: str,
    agent: Agent | None = None,
    request_replacement: bool = False,
    id_source: str = "",
) -> Card:
    """The formal loss report at a service center (PRODUCT.md): the holder's resident ID seen, or an
    agent carrying both persons' documents. Issues a numbered certificate; valid for the card's
    rule set's written_report_validity (seed-2019: 30 days), after which the card is cancelled
    automatically; under a rule set without one (shanghai-3rd-gen) it never expires. With
    `request_replacement` the replacement is taken in the same step (the card becomes `replaced`
    and the new card is linked to it); the card returned is then the new one."""

    def perform(card: Card, now: datetime.datetime) -> Card:
        if not normalise_id_number(id_number):
            raise _invalid("id_number", _("The holder's identity document is required."))
        _holder_id_matches(card, id_number)
        valid_agent = _validated_agent(agent, card.applicant, social_security_card_accepted=True)
        from_status = card.status
        card_rules = rules.for_card(card)
        validity = card_rules.written_report_validity
        card.report_lost_in_writing(
            at=now,
            expires_at=None if validity is None else now + validity,
            certificate_number=_next_certificate_number(actor.service_point, now),
        )
        _save(card, "written_reported_at", "written_report_expires_at", "loss_certificate_number")
        data: dict[str, Any] = {
            "certificate_number": card.loss_certificate_number,
            "expires_at": (
                card.written_report_expires_at.isoformat()
                if card.written_report_expires_at
                else None
            ),
            "rule_set": card_rules.label,
            "identity": _identity_record(agent=valid_agent, id_source=id_source),
        }
        if valid_agent:
            data["agent"] = True
        record_transition(
            card=card,
            name=T.REPORT_LOST_IN_WRITING,
            from_status=from_status,
            actor=actor,
            now=now,
            data=data,
        )
        if request_replacement:
            if not actor_may(card, actor, T.REPLACE):
                raise _permission_denied(T.REPLACE)
            return _replace(card, actor, now, reason=ReplacementReason.LOST, note="", entry=entry)
        return card

    entry = _registry_entry_for_replacement(card) if request_replacement else False
    return _act(card, actor, T.REPORT_LOST_IN_WRITING, perform)


def _replace(
    card: Card,
    actor: Actor,
    now: datetime.datetime,
    *,
    reason: str,
    note: str,
    entry: RegistryEntry | bool | None,
    identity: dict[str, Any] | None = None,
) -> Card:
    _replacement_reason_checked(card, reason, entry, now)
    from_status = card.status
    card.replace(at=now)
    _save(card, "closed_at")  # first, so the new card can be the one live card
    record_transition(
        card=card,
        name=T.REPLACE,
        from_status=from_status,
        actor=actor,
        now=now,
        reason=note or ReplacementReason(reason).label,
        data={"replacement_reason": reason, **({"identity": identity} if identity else {})},
    )
    point = actor.service_point
    new = Card(
        applicant=card.applicant,
        card_type=card.card_type,
        bank=card.bank,
        service_point=point,
        # Made and collected where the old card was: its bank's outlet, or its medical point.
        collection_point=card.collection_point,
        channel=Channel.COUNTER,
        replaces=card,
        applied_at=now,
        rule_set=rules.in_force().name,
        rule_set_version=rules.in_force().version,
    )
    new.financial_status = _initial_financial_status(new)
    new.save()
    record_transition(
        card=new,
        name=T.SUBMIT,
        from_status="",
        actor=actor,
        now=now,
        data={"replaces": str(card.public_id)},
    )
    # The holder's record unchanged in the registry: the new card needs no second verification.
    # (`entry` was asked before the lock; False: the registry was out, a clerk verifies later.)
    applicant = card.applicant
    if (
        entry
        and (entry.id_type, entry.id_number) == (applicant.id_type, applicant.id_number)
        and not compare_with_registry(_registration_form(applicant), entry)
    ):
        new.verify(at=now, promised_by=_ready_promise(new, now))
        _save(new, "verified_at", "ready_promised_by")
        record_transition(
            card=new,
            name=T.VERIFY,
            from_status=S.APPLIED,
            actor=actor,
            now=now,
            data={"automatic": True, "replaces": str(card.public_id)},
        )
    _fee_due(new, actor, now)
    return new


def replacement_reasons_for(card: Card) -> list[str]:
    """The reasons a card in its state in force may be replaced for (the counter's form)."""
    status = card.status_at()
    if status == S.WRITTEN_LOST:
        return [ReplacementReason.LOST]
    if status == S.ISSUED:
        reasons = [r for r in ReplacementReason.values if r in ISSUED_CARD_REPLACEMENT_REASONS]
        # A renewal only inside the window the card's rule set opens before its expiry.
        opens = rules.renewal_opens_on(rules.for_card(card), card_expires_on(card))
        if opens is None or timezone.localdate() < opens:
            reasons.remove(ReplacementReason.EXPIRED)
        return reasons
    return []


def card_expires_on(card: Card) -> datetime.date | None:
    """The card's expiry date: as fixed on the card by its rule set, or its hand-over day plus the
    rule set's validity; None for a card that does not expire."""
    fixed = getattr(card, "expires_on", None)
    if fixed is not None:
        return fixed
    years = rules.for_card(card).card_validity_years
    if years is None or card.issued_at is None:
        return None
    issued = timezone.localdate(card.issued_at)
    try:
        return issued.replace(year=issued.year + years)
    except ValueError:  # 29 February
        return issued.replace(year=issued.year + years, day=28)


def _replacement_reason_checked(
    card: Card, reason: str, entry: RegistryEntry | bool | None, now: datetime.datetime
) -> None:
    """Issue #17: a card lost in writing is replaced as lost; an issued card as damaged, for a
    change of name or ID number (once the registry record is corrected and the person's record
    matches it), or as expired (from the rule set's renewal window on)."""
    if reason not in ReplacementReason.values:
        raise _invalid("reason", _("Unknown replacement reason."))
    if card.status == S.WRITTEN_LOST:
        if reason != ReplacementReason.LOST:
            raise _invalid("reason", _("A card reported lost in writing is replaced as lost."))
        return
    if reason not in ISSUED_CARD_REPLACEMENT_REASONS:
        raise _invalid(
            "reason",
            _(
                "An issued card is replaced as damaged, for changed personal information or as "
                "expired; a lost card is first reported lost in writing."
            ),
        )
    if reason == ReplacementReason.CHANGED_INFORMATION:
        if entry is False:
            raise _registry_unavailable()
        applicant = card.applicant
        if (
            not entry
            or (entry.id_type, entry.id_number) != (applicant.id_type, applicant.id_number)
            or compare_with_registry(_registration_form(applicant), entry)
        ):
            raise _invalid(
                "reason",
                _(
                    "A replacement for changed personal information needs the corrected registry "
                    "record: correct the person's name or ID number to match it first."
                ),
            )
    if reason == ReplacementReason.EXPIRED:
        expires_on = card_expires_on(card)
        if expires_on is None:
            raise _invalid("reason", _("Cards under this card's rule set do not expire."))
        window = rules.for_card(card).renewal_window_days
        opens = expires_on - datetime.timedelta(days=window)
        if timezone.localdate(now) < opens:
            raise _invalid(
                "reason",
                _("Renewal opens on %(day)s, %(days)d days before the card expires on %(expiry)s.")
                % {"day": opens.isoformat(), "days": window, "expiry": expires_on.isoformat()},
            )


def card_replace(
    *,
    card: Card,
    actor: Actor,
    reason: str,
    id_number: str,
    card_presented: bool = False,
    agent: Agent | None = None,
    note: str = "",
    id_source: str = "",
) -> Card:
    """Replace a card lost (reported in writing) or damaged (issued); returns the new card, which
    starts its own lifecycle linked both ways to the old one, in the same transaction. The same
    proof as lifting a loss report: the holder's identity document, and a damaged card handed in;
    or an agent with both persons' documents."""

    def perform(card: Card, now: datetime.datetime) -> Card:
        _valid_agent, identity = _proof_of_control(
            card,
            id_number=id_number,
            card_presented=card_presented,
            agent=agent,
            # Only a lost card is not handed in.
            card_required=reason != ReplacementReason.LOST,
            id_source=id_source,
        )
        return _replace(
            card, actor, now, reason=reason, note=note.strip(), entry=entry, identity=identity
        )

    entry = _registry_entry_for_replacement(card)
    return _act(card, actor, T.REPLACE, perform)


def card_cancel(*, card: Card, actor: Actor, reason: str) -> Card:
    """A supervisor cancels an issued card (holder deceased, left Shanghai, ...)."""
    reason = visible_text(reason)
    if not reason:
        raise _invalid("reason", _("Give the reason for the cancellation."))

    def perform(card: Card, now: datetime.datetime) -> Card:
        card.cancel(at=now)
        _save(card, "closed_at")
        record_transition(
            card=card,
            name=T.CANCEL,
            from_status=S.ISSUED,
            actor=actor,
            now=now,
            reason=reason.strip(),
        )
        return card

    return _act(card, actor, T.CANCEL, perform)


# --- Expiry (the scheduler's own transitions) --


def _isoformat(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None  # None: the rule set sets no end


def _card_expire(card: Card, actor: Actor, name: str) -> Card:
    if actor.kind != ActorKind.SYSTEM:
        raise _permission_denied(name)
    expiry = EXPIRIES[name]
    with transaction.atomic():
        locked = Card.objects.select_for_update().get(pk=card.pk)
        now = timezone.now()
        if locked.status != expiry.source:
            raise _not_allowed(locked, name)
        if locked.due_expiry(now) != name:
            raise ApplicationError(
                _("The report has not expired yet."),
                code="deadline_not_reached",
                details={"deadline": _isoformat(getattr(locked, expiry.deadline_field))},
                status=409,
            )
        expire_batch(expiry, now=now, limit=1, card_ids=[locked.pk])
        locked.refresh_from_db()
    return locked


def card_lapse_phone_report(*, card: Card, actor: Actor) -> Card:
    """The 24-hour phone report passed with no written report: the card is issued again."""
    return _card_expire(card, actor, T.LAPSE_PHONE_REPORT)


def card_expire_written_report(*, card: Card, actor: Actor) -> Card:
    """The 30-day written report passed: the card is cancelled automatically."""
    return _card_expire(card, actor, T.EXPIRE_WRITTEN_REPORT)


def card_cancel_uncollected(*, card: Card, actor: Actor) -> Card:
    """Not collected within the card's rule set's uncollected_period_days: cancelled."""
    return _card_expire(card, actor, T.CANCEL_UNCOLLECTED)


# --- The card's functions and services (issue #17) --
# Not lifecycle transitions: the financial function, the replacement fee and the PIN each have
# their own log rows (CardFunctionEvent), written, like a transition's, in the transaction that
# locks the card; the bank hears of the financial function's and the fee's changes (outbox).


def _initial_financial_status(card: Card) -> str | None:
    """A bank card made under a rule set with the financial function starts with it sealed: it
    is activated in person at the bank (issue #17)."""
    if card.card_type == CardType.SOCIAL_SECURITY and rules.for_card(card).financial_function:
        return FinancialStatus.NOT_ACTIVATED
    return None


def _function_frame(card: Card, act: Callable[[Card, datetime.datetime], R]) -> R:
    """Lock the card, apply a due loss-report expiry (in force even if the act is refused), act."""
    return _locked(card, act)


def _function_refused(message: str, *, code: str, status: int, **details: Any) -> ApplicationError:
    return ApplicationError(message, code=code, details=details, status=status)


# The financial function's changes: action -> (the states it is taken from, the state it sets).
# `lost` is final: a replacement card brings a new financial function, sealed again.
FINANCIAL_CHANGES: dict[str, tuple[frozenset[str], str]] = {
    FunctionAction.FINANCIAL_ACTIVATE: (
        frozenset({FinancialStatus.NOT_ACTIVATED}),
        FinancialStatus.ACTIVE,
    ),
    FunctionAction.FINANCIAL_FREEZE: (frozenset({FinancialStatus.ACTIVE}), FinancialStatus.FROZEN),
    FunctionAction.FINANCIAL_UNFREEZE: (
        frozenset({FinancialStatus.FROZEN}),
        FinancialStatus.ACTIVE,
    ),
    FunctionAction.FINANCIAL_REPORT_LOST: (
        frozenset({FinancialStatus.NOT_ACTIVATED, FinancialStatus.ACTIVE, FinancialStatus.FROZEN}),
        FinancialStatus.LOST,
    ),
}
# The card states in which the bank may act on the financial function. The two functions are
# reported lost separately (issue #17): a social security loss report leaves the financial
# function as it is, and the bank may still freeze it or record its loss; activating and
# unfreezing need a card in use.
_FINANCIAL_CARD_STATES: dict[str, frozenset[str]] = {
    FunctionAction.FINANCIAL_ACTIVATE: frozenset({S.ISSUED}),
    FunctionAction.FINANCIAL_UNFREEZE: frozenset({S.ISSUED}),
    FunctionAction.FINANCIAL_FREEZE: frozenset({S.ISSUED, S.PHONE_REPORTED_LOST, S.WRITTEN_LOST}),
    FunctionAction.FINANCIAL_REPORT_LOST: frozenset(
        {S.ISSUED, S.PHONE_REPORTED_LOST, S.WRITTEN_LOST}
    ),
}


def card_financial_change(*, card: Card, actor: Actor, action: str, reference: str = "") -> Card:
    """Change the financial function of a third-generation card (issue #17): only the owning
    bank, through its API, activates it (in person at the bank, on an issued card), freezes,
    unfreezes, or records its loss. Refused (409 `not_applicable`) for a card whose rule set has
    no financial function, or that is not a bank card; (409 `financial_change_not_allowed`) when
    the function's or the card's state does not allow it."""
    if action not in FINANCIAL_CHANGES:
        raise _invalid("action", _("Unknown financial function action."))
    sources, target = FINANCIAL_CHANGES[action]

    def act(card: Card, now: datetime.datetime) -> Card:
        if actor.kind != ActorKind.BANK or actor.bank is None or card.bank_id != actor.bank.pk:
            raise _function_refused(
                _("Only the card's own bank changes its financial function."),
                code="permission_denied",
                status=403,
                action=action,
            )
        if card.financial_status is None:
            raise _function_refused(
                _("This card has no financial function under its rule set."),
                code="not_applicable",
                status=409,
                rule_set=rules.for_card(card).name,
            )
        if (
            card.financial_status not in sources
            or card.status not in _FINANCIAL_CARD_STATES[action]
        ):
            raise _function_refused(
                _(
                    "Not allowed for a financial function %(function)s on a card in the state "
                    "%(status)s: %(action)s."
                )
                % {
                    "function": FinancialStatus(card.financial_status).label,
                    "status": S(card.status).label,
                    "action": FunctionAction(action).label,
                },
                code="financial_change_not_allowed",
                status=409,
                financial_status=card.financial_status,
                status_in_force=card.status,
                action=action,
            )
        before = card.financial_status
        card.financial_status = target
        card.save(update_fields=["financial_status", "updated_at"])
        record_function_event(
            card=card,
            action=action,
            from_value=before,
            to_value=target,
            actor=actor,
            now=now,
            data={"reference": reference.strip()} if reference.strip() else None,
            emit=OutboxEventKind.FINANCIAL_STATUS_CHANGED,
        )
        return card

    return _function_frame(card, act)


def _fee_due(card: Card, actor: Actor, now: datetime.datetime) -> CardFee | None:
    """A replacement card's fee, from its rule set, recorded as due (first issue is free: the
    rule set's first_issue_fee_fen is for cards that replace none). None when it is free."""
    amount = rules.for_card(card).replacement_fee_fen
    if amount <= 0:
        return None
    fee = CardFee.objects.create(card=card, amount_fen=amount, status=FeeStatus.DUE, due_at=now)
    record_function_event(
        card=card,
        action=FunctionAction.FEE_DUE,
        from_value="",
        to_value=FeeStatus.DUE,
        actor=actor,
        now=now,
        data={"amount_fen": amount, "currency": fee.currency},
        emit=OutboxEventKind.FEE_STATUS_CHANGED,
    )
    return fee


def _fee_locked(card: Card) -> CardFee:
    fee = CardFee.objects.select_for_update().filter(card=card).first()
    if fee is None:
        raise _function_refused(_("No fee is recorded for this card."), code="no_fee", status=409)
    if fee.status != FeeStatus.DUE:
        raise _function_refused(
            _("The fee is not due: it is %(status)s.") % {"status": FeeStatus(fee.status).label},
            code="fee_not_due",
            status=409,
            fee_status=fee.status,
        )
    return fee


def card_fee_pay(*, card: Card, actor: Actor, payment_reference: str) -> Card:
    """The bank collected a replacement card's fee (issue #17: collected by the bank), with its
    payment reference; only the card's own bank."""
    reference = payment_reference.strip()
    if not reference:
        raise _invalid("payment_reference", _("Give the payment reference."))

    def act(card: Card, now: datetime.datetime) -> Card:
        if actor.kind != ActorKind.BANK or actor.bank is None or card.bank_id != actor.bank.pk:
            raise _permission_denied("fee_paid")
        fee = _fee_locked(card)
        fee.status, fee.paid_at, fee.payment_reference = FeeStatus.PAID, now, reference
        fee.save(update_fields=["status", "paid_at", "payment_reference"])
        card.save(update_fields=["updated_at"])
        record_function_event(
            card=card,
            action=FunctionAction.FEE_PAID,
            from_value=FeeStatus.DUE,
            to_value=FeeStatus.PAID,
            actor=actor,
            now=now,
            data={"payment_reference": reference, "amount_fen": fee.amount_fen},
            emit=OutboxEventKind.FEE_STATUS_CHANGED,
        )
        return card

    return _function_frame(card, act)


def card_fee_waive(*, card: Card, actor: Actor, reason: str) -> Card:
    """A supervisor waives a replacement card's fee at the counter, giving the reason (issue #17:
    with waivers); a card of their own point's work."""
    reason = visible_text(reason)
    if not reason:
        raise _invalid("reason", _("Give the reason for the waiver."))

    def act(card: Card, now: datetime.datetime) -> Card:
        point = actor.service_point
        if (
            actor.kind != ActorKind.USER
            or actor.role != StaffRole.SUPERVISOR
            or point is None
            or point.pk not in (card.service_point_id, card.collection_point_id)
        ):
            raise _permission_denied("fee_waived")
        fee = _fee_locked(card)
        fee.status, fee.waived_at, fee.waived_by, fee.waiver_reason = (
            FeeStatus.WAIVED,
            now,
            actor.user,
            reason,
        )
        fee.save(update_fields=["status", "waived_at", "waived_by", "waiver_reason"])
        card.save(update_fields=["updated_at"])
        record_function_event(
            card=card,
            action=FunctionAction.FEE_WAIVED,
            from_value=FeeStatus.DUE,
            to_value=FeeStatus.WAIVED,
            actor=actor,
            now=now,
            reason=reason,
            data={"amount_fen": fee.amount_fen},
            emit=OutboxEventKind.FEE_STATUS_CHANGED,
        )
        return card

    return _function_frame(card, act)


def card_pin_service(
    *,
    card: Card,
    actor: Actor,
    action: str,
    id_number: str,
    card_presented: bool = False,
    agent: Agent | None = None,
) -> Card:
    """Reset or unlock the social security PIN at the counter (issue #17: it locks after the rule
    set's number of wrong tries and is reset with ID and card at a window). The holder's identity
    document and the card itself, or an agent with both persons' documents; recorded on the
    card's history. No PIN is taken, stored or shown here: the holder sets it on the terminal."""
    if action not in (FunctionAction.PIN_RESET, FunctionAction.PIN_UNLOCK):
        raise _invalid("action", _("Unknown PIN service."))

    def act(card: Card, now: datetime.datetime) -> Card:
        point = actor.service_point
        if (
            actor.kind != ActorKind.USER
            or actor.role not in (StaffRole.CLERK, StaffRole.SUPERVISOR)
            or point is None
            or point.kind == "hotline"
        ):
            raise _permission_denied(action)
        if card.card_type != CardType.SOCIAL_SECURITY or card.status != S.ISSUED:
            raise _function_refused(
                _("The PIN is reset or unlocked only on an issued social security card."),
                code="transition_not_allowed",
                status=409,
                status_in_force=card.status,
                action=action,
            )
        valid_agent, identity = _proof_of_control(
            card,
            id_number=id_number,
            card_presented=card_presented,
            agent=agent,
            card_required=True,
        )
        data: dict[str, Any] = {"identity": identity, "pin_tries": rules.for_card(card).pin_tries}
        if valid_agent:
            data["agent"] = True
        record_function_event(
            card=card, action=action, from_value="", to_value="", actor=actor, now=now, data=data
        )
        return card

    return _function_frame(card, act)


def cards_one_person_one_card(
    *, issued: Sequence[Card], actor: Actor, now: datetime.datetime
) -> list[Card]:
    """One person, one card (issue #17): under a rule set with one_person_one_card, handing a
    social security card over replaces the holder's live medical insurance card, in the same
    transaction, logged as its replacement and notified like one. The caller holds the social
    security cards' locks. Returns the medical cards replaced."""
    holders = {
        card.applicant_id: card
        for card in issued
        if card.card_type == CardType.SOCIAL_SECURITY and rules.for_card(card).one_person_one_card
    }
    if not holders:
        return []
    replaced = []
    medical = Card.objects.select_for_update().filter(
        applicant_id__in=holders, card_type=CardType.MEDICAL_INSURANCE, status__in=LIVE_STATES
    )
    for old in medical.order_by("pk"):
        old.as_of(now)
        expire_card_if_due(old, now=now)
        if old.status not in LIVE_STATES:
            continue
        social = holders[old.applicant_id]
        from_status = old.status
        old.replace_by_social_security_card(at=now)
        _save(old, "closed_at")
        record_transition(
            card=old,
            name=T.REPLACE,
            from_status=from_status,
            actor=actor,
            now=now,
            reason=gettext_noop("One person, one card: replaced by the social security card."),
            data={"one_person_one_card": True, "social_security_card": str(social.public_id)},
        )
        replaced.append(old)
    return replaced
