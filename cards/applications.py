"""An application arriving with its applicant's form (a partner bank's outlet, app, WeChat or
Alipay, through the API): one transaction finds or records the person, records the employment the
form declares, and submits the card (cards.services.card_submit). A refusal leaves nothing behind:
no person is recorded for an application that was refused (PIPL: no data without a purpose).

A bank learns nothing about a person who is not its customer (no card of this bank): whether an ID
number is insured or on record, whether a guessed name or hukou place is right, or whether the
person holds a live card at another bank all answer one refusal, `apply_at_counter` (422), which
tells the applicant to go to a service point counter; the counter shows the detailed reasons.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from agencies.models import PartnerBank, ServicePoint
from applicants.identity import normalise_id_number
from applicants.models import same_document
from applicants.services import applicant_find_or_create, employment_find_or_create
from cards.actors import Actor
from cards.choices import ActorKind
from cards.models import Card
from cards.services import Agent, OnlineCheckEvidence, card_submit
from common.errors import ApplicationError

R = TypeVar("R")

# The refusals that would tell a bank something about a person on record (or not on record).
_ABOUT_THE_PERSON = frozenset({"not_eligible", "applicant_differs", "duplicate_live_card"})


def _apply_at_counter() -> ApplicationError:
    return ApplicationError(
        _(
            "This application cannot be taken here. The applicant should apply at a service point "
            "counter with their identity document, where the reasons are explained."
        ),
        code="apply_at_counter",
        status=422,
    )


def _is_customer(bank: PartnerBank, form: ApplicantForm) -> bool:
    document = same_document(
        form.id_type,
        normalise_id_number(form.id_number),
        form.id_issuing_country or form.nationality,
    )
    return Card.objects.filter(
        bank=bank, **{f"applicant__{field}": value for field, value in document.items()}
    ).exists()


@dataclass(frozen=True)
class ApplicantForm:
    """The applicant's part of the application registration form."""

    name: str
    id_type: str
    id_number: str
    shanghai_hukou: bool
    id_issuing_country: str = ""
    sex: str = ""
    birth_date: datetime.date | None = None
    nationality: str = "CHN"
    hukou_place: str = ""
    phone: str = ""
    address: str = ""


@dataclass(frozen=True)
class EmployerForm:
    """The employer the applicant declares, by unified social credit code."""

    uscc: str
    name: str = ""
    kind: str = ""
    start_date: datetime.date | None = None


def _under(part: str, call: Callable[..., R], **kwargs: Any) -> R:
    """Call a service of one part of the form; its errors name their fields under `part`."""
    try:
        return call(**kwargs)
    except ApplicationError as exc:
        raise ApplicationError(
            exc.message, code=exc.code, details={part: exc.details}, status=exc.status
        ) from exc
    except ValidationError as exc:
        details = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        raise ApplicationError(
            exc.messages[0], code="invalid", details={part: details}, status=422
        ) from exc


def application_submit(
    *,
    actor: Actor,
    applicant: ApplicantForm,
    card_type: str,
    channel: str,
    service_point: ServicePoint,
    collection_point: ServicePoint | None = None,
    employer: EmployerForm | None = None,
    online_checks: tuple[OnlineCheckEvidence, ...] = (),
    agent: Agent | None = None,
    photo_receipt_number: str = "",
    replaces: Card | None = None,
    bank: PartnerBank | None = None,
) -> Card:
    """Take an application with its form (`bank`: the partner bank an applicant chose on the
    online service platform; a bank's own application is its own). The person on record must
    match the form's identity (applicants.services.applicant_find_or_create); the card is
    refused for the same reasons as at a counter (cards.services.card_submit). A partner bank is
    never told about another bank's card: a refusal naming a live card of another bank names no
    card."""
    try:
        with transaction.atomic():
            person, _created = _under(
                "applicant", applicant_find_or_create, **dataclasses.asdict(applicant), actor=actor
            )
            if employer is not None:
                _under(
                    "employer",
                    employment_find_or_create,
                    applicant=person,
                    uscc=employer.uscc,
                    employer_name=employer.name,
                    employer_kind=employer.kind,
                    start_date=employer.start_date,
                    actor=actor,
                )
            return card_submit(
                applicant=person,
                card_type=card_type,
                actor=actor,
                channel=channel,
                bank=bank,
                service_point=service_point,
                collection_point=collection_point,
                online_checks=online_checks,
                agent=agent,
                photo_receipt_number=photo_receipt_number,
                replaces=replaces,
            )
    except ApplicationError as exc:
        if (
            actor.kind == ActorKind.BANK
            and exc.code in _ABOUT_THE_PERSON
            and not _is_customer(actor.bank, applicant)
        ):
            raise _apply_at_counter() from None
        other = exc.details.get("card") if exc.code == "duplicate_live_card" else None
        if (
            other
            and actor.kind == ActorKind.BANK
            and not Card.objects.filter(public_id=other, bank=actor.bank).exists()
        ):
            raise _apply_at_counter() from None
        raise
