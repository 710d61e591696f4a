"""The person's copy of their data (PIPL art. 45): everything held about one person, for the
counter to print for the person in front of the clerk. Each print is a logged read
(privacy.PersonalDataAccess, purpose `person_copy`).

Bounded: a person has a handful of cards, employments and enrolments in a lifetime; each list is
read by its foreign-key index and capped.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from applicants.models import Applicant
from cards.models import Card, CardTransition
from privacy.access import access_record
from privacy.choices import AccessChannel, AccessPurpose
from privacy.models import PersonChange

SHOWN = 200  # rows of each list (cards, history, changes) at most

IDENTITY_FIELDS = (
    "name",
    "id_type",
    "id_number",
    "id_issuing_country",
    "sex",
    "birth_date",
    "nationality",
    "shanghai_hukou",
    "hukou_place",
    "phone",
    "address",
    "created_at",
    "updated_at",
)


def _display(obj, field: str) -> Any:
    getter = getattr(obj, f"get_{field}_display", None)
    return getter() if getter else getattr(obj, field)


def person_copy_context(request: Any, applicant: Applicant) -> dict[str, Any]:
    """What the printed copy shows, after logging the read."""
    staff = getattr(request.user, "staff", None)
    access_record(
        applicant_id=applicant.pk,
        purpose=AccessPurpose.PERSON_COPY,
        channel=AccessChannel.COUNTER,
        user=request.user,
        service_point_id=getattr(staff, "service_point_id", None),
    )
    cards = list(
        Card.objects.filter(applicant=applicant)
        .select_related("bank", "service_point", "collection_point")
        .order_by("-pk")[:SHOWN]
    )
    history: dict[int, list[CardTransition]] = {card.pk: [] for card in cards}
    for row in (
        CardTransition.objects.filter(card__in=cards)
        .select_related("service_point", "bank")
        .order_by("card_id", "at", "id")[:SHOWN]
    ):
        history[row.card_id].append(row)
    identity = [
        (Applicant._meta.get_field(field).verbose_name, _display(applicant, field))
        for field in IDENTITY_FIELDS
    ]
    return {
        "applicant": applicant,
        "identity": identity,
        "cards": [(card, history[card.pk]) for card in cards],
        "employments": list(
            applicant.employments.select_related("employer").order_by("-start_date")[:SHOWN]
        ),
        "enrolments": list(
            applicant.enrolments.select_related("employment__employer").order_by("insurance")[
                :SHOWN
            ]
        ),
        "changes": list(PersonChange.objects.filter(applicant_id=applicant.pk)[:SHOWN]),
        "printed_at": timezone.localtime(),
    }
