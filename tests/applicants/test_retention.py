"""The retention schedule (PIPL art. 47; privacy/retention.py): a card-less person quiet for
RETENTION_CARDLESS_YEARS, or a person whose every card closed RETENTION_CLOSED_CARD_YEARS ago, is
anonymised by beat; the person's row, cards and logs stay. Each rule from both sides of its
boundary, one microsecond apart (time_machine, tick=False)."""

import datetime
import json

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applicants.models import Applicant
from applicants.services import applicant_update
from cards import services
from cards.choices import CardStatus as S
from cards.counter.admin import history_row
from cards.models import Card, CardTransition, DeliveryCursor
from cards.schedule import SCHEDULE
from cards.services import Agent
from common import crypto
from privacy.choices import AccessChannel, AccessPurpose, ChangeAction, RetentionRule
from privacy.models import Anonymisation, PersonalDataAccess, PersonChange, PersonDataKey
from privacy.retention import anonymise_past_retention, purge_expired_logs, years_before
from privacy.tasks import anonymise_past_retention_task
from tests.cards.conftest import bring_to, eligible_person, report_by_phone, submit
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


def phone_reported_card(world, closes: bool) -> Card:
    """A card reported lost by phone (the caller's phone and address in the log), closed at T0
    if `closes`."""
    with time_machine.travel(T0 - datetime.timedelta(days=30), tick=False):
        person = eligible_person()
        card = bring_to(
            world,
            submit(world, person),
            S.ISSUED,
        )
        card = report_by_phone(world, card)
    if closes:  # its end, as the written report's deadline would have it
        Card.objects.filter(pk=card.pk).update(status=S.CANCELLED, closed_at=T0)
        person.enrolments.update(end_date=T0.date() - datetime.timedelta(days=1))
    return card


def log_values(card: Card) -> list[dict]:
    return [row.data for row in CardTransition.objects.filter(card=card).order_by("id")]


def stored_log(card: Card) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name, from_status, to_status, at, reason, data::text "
            "FROM cards_cardtransition WHERE card_id = %s ORDER BY id",
            [card.pk],
        )
        return cursor.fetchall()


def test_anonymising_erases_the_persons_values_in_the_append_only_log_and_no_one_elses(
    world, settings
):
    settings.RETENTION_CLOSED_CARD_YEARS = 10
    erased, kept = phone_reported_card(world, closes=True), phone_reported_card(world, closes=False)
    phone_row = CardTransition.objects.get(card=erased, name="report_lost_by_phone")
    assert phone_row.data["contact_phone"] == "13900139000"
    assert "139****9000" in history_row(phone_row)["notes"]
    before, kept_before = stored_log(erased), log_values(kept)

    assert run_at(years_before(T0, -10) + US)[RetentionRule.CLOSED_CARDS] == 1

    assert stored_log(erased) == before  # not one byte of the log's rows changed
    key = PersonDataKey.objects.get(applicant_id=erased.applicant_id)
    assert key.erased_at is not None and key.key == ""
    phone_row = CardTransition.objects.get(card=erased, name="report_lost_by_phone")
    assert phone_row.data["contact_phone"] == crypto.ERASED
    assert phone_row.data["home_address"] == crypto.ERASED
    assert phone_row.data["expires_at"]  # what is not personal still reads
    opened = json.dumps(log_values(erased), ensure_ascii=False)
    assert "13900139000" not in opened and "漕溪北路" not in opened
    assert "(erased)" in history_row(phone_row)["notes"]
    assert log_values(kept) == kept_before  # another person's values still open
    assert "13900139000" in json.dumps(kept_before)


def test_the_personal_data_logs_are_kept_three_years_then_deleted_by_the_daily_run(settings):
    settings.PERSONAL_DATA_LOG_RETENTION_YEARS = 3
    person = ApplicantFactory()
    with time_machine.travel(T0, tick=False):
        read = PersonalDataAccess.objects.create(
            applicant_id=person.pk, purpose=AccessPurpose.REVEAL, channel=AccessChannel.ADMIN
        )
        change = PersonChange.objects.create(
            applicant_id=person.pk,
            action=ChangeAction.UPDATE,
            object_type="applicant",
            object_id=person.pk,
            actor_kind="system",
            channel="system",
        )
    with time_machine.travel(T0 + US, tick=False):
        younger = PersonalDataAccess.objects.create(
            applicant_id=person.pk, purpose=AccessPurpose.REVEAL, channel=AccessChannel.ADMIN
        )
    boundary = years_before(T0, -3)
    with time_machine.travel(boundary, tick=False):  # three years to the instant: kept
        done = anonymise_past_retention_task()
    assert done["privacy_personaldataaccess"] == 0 and done["privacy_personchange"] == 0
    with time_machine.travel(boundary + US, tick=False):
        done = anonymise_past_retention_task()
    assert done["privacy_personaldataaccess"] == 1 and done["privacy_personchange"] == 1
    assert not PersonalDataAccess.objects.filter(pk=read.pk).exists()
    assert not PersonChange.objects.filter(pk=change.pk).exists()
    assert PersonalDataAccess.objects.filter(pk=younger.pk).exists()


def test_a_purge_goes_in_bounded_batches(settings):
    person = ApplicantFactory()
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            PersonalDataAccess.objects.create(
                applicant_id=person.pk, purpose=AccessPurpose.REVEAL, channel=AccessChannel.ADMIN
            )
    later = years_before(T0, -4)
    with CaptureQueriesContext(connection) as queries:
        done = purge_expired_logs(now=later, batch_size=2)
    assert done["privacy_personaldataaccess"] == 5
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 2 + 2 + 1


def test_the_log_retention_cannot_be_set_under_three_years(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import config.settings.base as base

    monkeypatch.setenv("PERSONAL_DATA_LOG_RETENTION_YEARS", "2")
    with pytest.raises(ImproperlyConfigured, match="PERSONAL_DATA_LOG_RETENTION_YEARS"):
        importlib.reload(base)
    monkeypatch.delenv("PERSONAL_DATA_LOG_RETENTION_YEARS")
    importlib.reload(base)


def test_a_key_looked_up_earlier_in_the_same_request_is_forgotten_when_destroyed(world, settings):
    """A request opens each person's data key once (common.crypto.SubjectKeysOnceMiddleware);
    erasing the person within that request must not leave their key usable in it."""
    settings.RETENTION_CLOSED_CARD_YEARS = 10
    erased = phone_reported_card(world, closes=True)
    with crypto.subject_keys_looked_up_once():
        phone_row = CardTransition.objects.get(card=erased, name="report_lost_by_phone")
        assert phone_row.data["contact_phone"] == "13900139000"  # the key is now looked up
        assert run_at(years_before(T0, -10) + US)[RetentionRule.CLOSED_CARDS] == 1
        phone_row = CardTransition.objects.get(card=erased, name="report_lost_by_phone")
        assert phone_row.data["contact_phone"] == crypto.ERASED
