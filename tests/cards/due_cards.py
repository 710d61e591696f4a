"""Many due loss reports at once, inserted in bulk (the sweep tests need hundreds)."""

from __future__ import annotations

import datetime

from agencies.models import ServicePoint
from applicants.models import Applicant
from cards.choices import CardStatus, CardType, Channel
from cards.models import Card
from tests.factories import resident_id


def make_due_cards(
    n: int,
    *,
    status: str,
    first_deadline: datetime.datetime,
    step: datetime.timedelta,
    point: ServicePoint,
    offset: int = 0,
) -> list[Card]:
    """`n` medical insurance cards in `status` with deadlines first_deadline, +step, ..."""
    people = Applicant.objects.bulk_create(
        Applicant(
            name=f"测试{i}",
            id_type="resident_id",
            id_number=resident_id(50_000 + offset + i),
            sex="male",
            birth_date=datetime.date(1980, 1, 1),
            shanghai_hukou=True,
        )
        for i in range(n)
    )
    deadline_field = (
        "phone_report_expires_at"
        if status == CardStatus.PHONE_REPORTED_LOST
        else "written_report_expires_at"
    )
    return Card.objects.bulk_create(
        Card(
            applicant=person,
            card_type=CardType.MEDICAL_INSURANCE,
            status=status,
            service_point=point,
            collection_point=point,
            channel=Channel.COUNTER,
            **{deadline_field: first_deadline + i * step},
        )
        for i, person in enumerate(people)
    )
