"""The daily overdue flags (cards/sweeps.py `flag_overdue_work`) at each deadline, from both sides:
an application waits for verification at most VERIFICATION_WAITING_DAYS (5), a card waits for
collection at most UNCOLLECTED_DAYS (183), a street medical point completes a card by its promised
day, an employer registers an employment within 30 days (Social Insurance Law art. 58). Work is
overdue strictly after its limit: at the limit instant (or on the promised day) it is not yet.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone

from cards import services
from cards.choices import CardStatus, CardType, OverdueKind
from cards.models import OverdueCount
from cards.sweeps import flag_overdue_work
from tests.cards.conftest import T0, bring_to, submit
from tests.factories import EmploymentFactory

S = CardStatus
TICK = datetime.timedelta(microseconds=1)
pytestmark = pytest.mark.django_db


def flags_at(moment: datetime.datetime) -> dict[str, int]:
    with time_machine.travel(moment, tick=False):
        return flag_overdue_work()


@pytest.mark.parametrize(("offset", "overdue"), [(-TICK, 0), (datetime.timedelta(0), 0), (TICK, 1)])
def test_an_application_waiting_for_verification(world, person, offset, overdue):
    with time_machine.travel(T0, tick=False):
        submit(world, person)
    flags = flags_at(T0 + datetime.timedelta(days=5) + offset)
    assert flags[OverdueKind.VERIFICATION_WAITING] == overdue
    rows = OverdueCount.objects.filter(kind=OverdueKind.VERIFICATION_WAITING, count__gt=0)
    assert [row.service_point for row in rows] == ([world.community] if overdue else [])


@pytest.mark.parametrize(("offset", "overdue"), [(-TICK, 0), (datetime.timedelta(0), 0), (TICK, 1)])
def test_a_card_waiting_for_collection(world, person, offset, overdue):
    with time_machine.travel(T0, tick=False):
        card = bring_to(world, submit(world, person), S.READY_FOR_COLLECTION)
    assert card.ready_at == T0
    flags = flags_at(T0 + datetime.timedelta(days=183) + offset)
    assert flags[OverdueKind.UNCOLLECTED] == overdue
    rows = OverdueCount.objects.filter(kind=OverdueKind.UNCOLLECTED, count__gt=0)
    assert [row.service_point for row in rows] == ([world.outlet] if overdue else [])


@pytest.mark.parametrize(("days_after", "overdue"), [(0, 0), (1, 1)])
def test_a_medical_card_past_its_promised_day(world, person, days_after, overdue):
    with time_machine.travel(T0, tick=False):
        card = submit(world, person, CardType.MEDICAL_INSURANCE)
        card = services.card_verify(card=card, actor=world.street_medical_clerk)
    promised = card.ready_promised_by
    assert promised is not None
    # The last instant of the promised day and the first of the next, in Shanghai.
    next_day = timezone.make_aware(
        datetime.datetime.combine(promised + datetime.timedelta(days=1), datetime.time())
    )
    moment = next_day - TICK if days_after == 0 else next_day
    flags = flags_at(moment)
    assert flags[OverdueKind.MEDICAL_PROMISE] == overdue


@pytest.mark.parametrize(("days_after", "overdue"), [(-1, 0), (0, 0), (1, 1)])
def test_an_employer_past_the_30_day_registration(db, days_after, overdue):
    employment = EmploymentFactory(start_date=datetime.date(2026, 3, 2), registered_on=None)
    assert employment.registration_deadline == datetime.date(2026, 4, 1)
    day = employment.registration_deadline + datetime.timedelta(days=days_after)
    assert flag_overdue_work(day=day)[OverdueKind.EMPLOYER_REGISTRATION] == overdue


@pytest.mark.parametrize("end_offset", [-30, -1, 0, None])
def test_an_employment_that_ended_unregistered_stays_overdue(db, end_offset):
    # Art. 58: the breach remains after the employment ends, even one that ended before its
    # registration deadline (issue #13).
    day = datetime.date(2026, 4, 10)
    end = None if end_offset is None else day + datetime.timedelta(days=end_offset)
    EmploymentFactory(start_date=datetime.date(2026, 3, 2), registered_on=None, end_date=end)
    assert flag_overdue_work(day=day)[OverdueKind.EMPLOYER_REGISTRATION] == 1
