"""The retention schedule (PIPL art. 47; privacy/retention.py): a card-less person quiet for
RETENTION_CARDLESS_YEARS, or a person whose every card closed RETENTION_CLOSED_CARD_YEARS ago, is
anonymised by beat; the person's row, cards and logs stay. Each rule from both sides of its
boundary, one microsecond apart (time_machine, tick=False)."""

import datetime

import pytest
import time_machine

from applicants.models import Applicant
from applicants.services import applicant_update
from cards import services
from cards.choices import CardStatus as S
from cards.models import Card, CardTransition, DeliveryCursor
from cards.schedule import SCHEDULE
from cards.services import Agent
from privacy.choices import ChangeAction, RetentionRule
from privacy.models import Anonymisation, PersonChange
from privacy.retention import anonymise_past_retention, years_before
from tests.cards.conftest import eligible_person, submit
from tests.factories import ApplicantFactory, EnrolmentFactory

pytestmark = pytest.mark.django_db
T0 = datetime.datetime(2026, 3, 2, 2, 0, tzinfo=datetime.UTC)
US = datetime.timedelta(microseconds=1)


def run_at(moment: datetime.datetime, **kwargs) -> dict[str, int]:
    with time_machine.travel(moment, tick=False):
        return anonymise_past_retention(**kwargs)


def is_anonymised(person: Applicant) -> bool:
    person.refresh_from_db()
    return Anonymisation.objects.filter(applicant=person).exists()


def test_a_cardless_person_quiet_for_n_years_is_anonymised_from_the_instant_after(world, settings):
    settings.RETENTION_CARDLESS_YEARS = 3
    with time_machine.travel(T0, tick=False):
        person = ApplicantFactory(phone="13812345678", address="上海市徐汇区漕溪北路1号")
        applicant_update(applicant=person, actor=world.clerk, phone="13900000002")
    number = person.id_number
    boundary = years_before(T0, -3)  # T0 plus three years
    assert run_at(boundary) == {RetentionRule.CARDLESS: 0, RetentionRule.CLOSED_CARDS: 0}
    assert not is_anonymised(person) and person.id_number == number
    assert run_at(boundary + US)[RetentionRule.CARDLESS] == 1
    assert is_anonymised(person)
    assert (person.name, person.phone, person.address, person.hukou_place) == ("", "", "", "")
    assert person.id_number == f"ANON{person.pk}"
    assert person.birth_date.month == 1 and person.birth_date.day == 1  # the year is kept
    # The change log keeps its skeleton, not the values.
    update = PersonChange.objects.get(applicant_id=person.pk, action=ChangeAction.UPDATE)
    assert update.changes == {} and update.sealed == {}
    assert PersonChange.objects.filter(
        applicant_id=person.pk, action=ChangeAction.ANONYMISE
    ).exists()


def test_a_rerun_changes_nothing(settings):
    settings.RETENTION_CARDLESS_YEARS = 3
    with time_machine.travel(T0, tick=False):
        people = [ApplicantFactory() for _ in range(3)]
    later = T0 + datetime.timedelta(days=4 * 366)
    assert run_at(later, batch_size=2)[RetentionRule.CARDLESS] == 3  # two batches
    assert run_at(later)[RetentionRule.CARDLESS] == 0
    assert Anonymisation.objects.count() == 3
    assert all(is_anonymised(p) for p in people)


def test_an_insured_person_is_never_anonymised(settings):
    settings.RETENTION_CARDLESS_YEARS = 3
    with time_machine.travel(T0, tick=False):
        person = ApplicantFactory()
        EnrolmentFactory(applicant=person, start_date=T0.date())  # running, no end
    run_at(T0 + datetime.timedelta(days=20 * 366))
    assert not is_anonymised(person) and person.name


def test_a_person_whose_cards_all_closed_m_years_ago_is_anonymised_cards_and_log_kept(
    world, settings
):
    settings.RETENTION_CLOSED_CARD_YEARS = 10
    with time_machine.travel(T0 - datetime.timedelta(days=30), tick=False):
        person = eligible_person()
        card = submit(world, person, agent=Agent("李代办", "resident_id", "11010519491231002X"))
    with time_machine.travel(T0, tick=False):
        services.card_withdraw(card=card, actor=world.clerk, reason="Left Shanghai.")
        person.enrolments.update(end_date=T0.date() - datetime.timedelta(days=1))
    card.refresh_from_db()
    assert card.closed_at == T0
    boundary = years_before(T0, -10)
    run_at(boundary)
    assert not is_anonymised(person)
    assert run_at(boundary + US)[RetentionRule.CLOSED_CARDS] == 1
    assert is_anonymised(person) and person.name == ""
    card.refresh_from_db()
    assert (card.status, card.agent_name, card.agent_id_number) == (S.WITHDRAWN, "", "")
    assert card.applicant_id == person.pk
    assert CardTransition.objects.filter(card=card).count() == 2  # the log's skeleton stays


def test_a_person_with_a_live_card_is_kept(world, settings):
    settings.RETENTION_CLOSED_CARD_YEARS = 10
    settings.RETENTION_CARDLESS_YEARS = 3
    with time_machine.travel(T0, tick=False):
        person = eligible_person()
        submit(world, person)
        person.enrolments.update(end_date=T0.date())
    run_at(T0 + datetime.timedelta(days=30 * 366))
    assert not is_anonymised(person)
    assert Card.objects.filter(applicant=person, status=S.APPLIED).exists()


def test_beat_runs_the_schedule_daily():
    (entry,) = [e for e in SCHEDULE if e.task == "privacy.tasks.anonymise_past_retention"]
    assert entry.crontab and entry.expire_seconds >= 3600


def test_a_walk_goes_on_where_the_last_run_stopped_and_starts_again_at_the_end(world, settings):
    """At city scale a day's budget ends mid-walk: the next run goes on from the kept position,
    not from the city's first people again."""
    settings.RETENTION_CARDLESS_YEARS = 3
    with time_machine.travel(T0, tick=False):
        first, second = ApplicantFactory(), ApplicantFactory()
    DeliveryCursor.objects.create(name=f"retention:{RetentionRule.CARDLESS}", position=first.pk)
    later = years_before(T0, -4)
    assert run_at(later)[RetentionRule.CARDLESS] == 1  # from the kept position: the second only
    assert is_anonymised(second) and not is_anonymised(first)
    # The walk reached the end: the next starts from the first person again.
    assert DeliveryCursor.objects.get(name=f"retention:{RetentionRule.CARDLESS}").position == 0
    assert run_at(later)[RetentionRule.CARDLESS] == 1
    assert is_anonymised(first)
