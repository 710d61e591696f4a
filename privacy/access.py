"""The read log of personal data: each read of a person's full ID number (a bank's card detail, a
counter search by the exact number, a reveal in the admin) or of their whole record (the person's
copy) is one row of PersonalDataAccess: who, whose, when, why, through which channel.

One INSERT per read, written out once from the model (the ORM's building of an INSERT cost several
times the statement: about 2 ms against 0.1-0.3 ms measured on the loaded test machine), with no
foreign-key checks (the log's references carry no constraint), so the bank API's card detail pays
one short statement for it. The callers pass ids they already hold: nothing is looked up again.
Not batched: a row that waited in a buffer could be lost with its process, and an audit row that
may be lost is not one.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, router
from django.utils import timezone

from privacy.choices import AccessChannel, AccessPurpose
from privacy.models import PersonalDataAccess


def _insert_sql() -> str:
    names = [
        "at",
        "applicant",
        "purpose",
        "channel",
        "user",
        "bank",
        "service_point",
        "card",
        "field",
    ]
    columns = ", ".join(f'"{PersonalDataAccess._meta.get_field(n).column}"' for n in names)
    table = PersonalDataAccess._meta.db_table
    marks = ", ".join(["%s"] * len(names))
    return f'INSERT INTO "{table}" ({columns}) VALUES ({marks})'  # noqa: S608 - names from _meta


# Written out once from the model (the ORM's compiling of an INSERT cost as much as running it).
_INSERT = _insert_sql()


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
    values = [
        timezone.now(),
        applicant_id,
        purpose,
        channel,
        getattr(user, "pk", None),
        bank_id,
        service_point_id,
        card_id,
        field,
    ]
    with connections[router.db_for_write(PersonalDataAccess)].cursor() as cursor:
        cursor.execute(_INSERT, values)


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
