"""The read log of personal data: each read of a person's full ID number (a bank's card detail, a
counter search by the exact number, a reveal in the admin) or of their whole record (the person's
copy) is one row of PersonalDataAccess: who, whose, when, why, through which channel.

One INSERT per read, no foreign-key checks (the log's references carry no constraint), so the
bank API's card detail pays one short statement for it. The callers pass ids they already hold:
nothing is looked up again.
"""

from __future__ import annotations

from typing import Any

from privacy.choices import AccessChannel, AccessPurpose
from privacy.models import PersonalDataAccess


def access_record(
    *,
    applicant_id: int,
    purpose: str,
    channel: str,
    user: Any = None,
    bank_id: int | None = None,
    service_point_id: int | None = None,
    card_id: int | None = None,
    field: str = "",
) -> None:
    """Log one read of a person's full data (PIPL art. 51: who read what, when, why)."""
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    PersonalDataAccess.objects.create(
        applicant_id=applicant_id,
        purpose=purpose,
        channel=channel,
        user_id=getattr(user, "pk", None),
        bank_id=bank_id,
        service_point_id=service_point_id,
        card_id=card_id,
        field=field,
    )


def api_card_detail_read(*, bank: Any, card: Any) -> None:
    """A bank read one of its cards in full (GET /api/v1/cards/{id}): logged when the bank's data
    policy gives it the full ID number (agencies.PartnerBank.api_full_id_number)."""
    if bank is not None and bank.api_full_id_number:
        access_record(
            applicant_id=card.applicant_id,
            purpose=AccessPurpose.API_CARD_DETAIL,
            channel=AccessChannel.API,
            bank_id=bank.pk,
            card_id=card.pk,
        )


def counter_search_read(desk: Any, person: Any) -> None:
    """A desk found a person by their exact document number (cards/counter/search.py)."""
    access_record(
        applicant_id=person.pk,
        purpose=AccessPurpose.COUNTER_SEARCH,
        channel=AccessChannel.COUNTER,
        user=desk.user,
        service_point_id=desk.point_id,
    )


def admin_reveal_read(request: Any, *, applicant: Any, field: str, card: Any = None) -> None:
    """A staff member revealed one full value of a person in the admin (masked until asked)."""
    staff = getattr(request.user, "staff", None)
    access_record(
        applicant_id=applicant.pk,
        purpose=AccessPurpose.REVEAL,
        channel=AccessChannel.ADMIN,
        user=request.user,
        service_point_id=getattr(staff, "service_point_id", None),
        card_id=getattr(card, "pk", None),
        field=field,
    )
