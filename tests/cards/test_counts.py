"""The dashboard's counters (cards.counts): kept by the database as the work happens, whoever does
it (a service, the set-based sweep, a bulk insert), and proven by the reconciliation."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from cards import counts, services, sweeps
from cards.choices import CardStatus, TransitionName
from cards.models import Card, CardDailyCount, CardStateCount, PointCard, PointPerson
from tests.cards.conftest import T0, eligible_person, report_by_phone

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db


def kept(key: str) -> dict[str, int]:
    return counts.state_counts(key, Card.objects.none())


def counted(**filters) -> dict[str, int]:
    rows = {}
    for status in Card.objects.filter(**filters).values_list("status", flat=True):
        rows[status] = rows.get(status, 0) + 1
    return rows


def point_counted(point) -> dict[str, int]:
    rows = {}
    for link in PointCard.objects.filter(service_point=point).select_related("card"):
        rows[link.card.status] = rows.get(link.card.status, 0) + 1
    return rows


def test_services_and_the_sweep_keep_every_scope_counted(world, card_in):
    issued = card_in(S.ISSUED)
    applied = card_in(S.APPLIED, applicant=eligible_person())
    with time_machine.travel(T0, tick=False):
        reported = report_by_phone(world, issued)
    services.card_verify(card=applied, actor=world.clerk)
    assert kept("city") == counted()
    assert kept(f"bank:{world.bank.pk}") == counted(bank=world.bank)
    for point in (world.community, world.outlet, world.hotline):
        assert kept(f"point:{point.pk}") == point_counted(point)
    assert kept(f"point:{world.hotline.pk}") == {S.PHONE_REPORTED_LOST: 1}
    # The set-based sweep, which no service sees, is counted too.
    with time_machine.travel(T0 + datetime.timedelta(days=1), tick=False):
        assert sweeps.sweep(T.LAPSE_PHONE_REPORT).expired == 1
    reported.refresh_from_db()
    assert reported.status == S.ISSUED
    assert kept(f"point:{world.hotline.pk}") == {S.ISSUED: 1}
    assert kept("city") == counted()
    assert counts.reconcile_counts().fixed == 0  # the proof: nothing to correct


def test_applications_are_counted_per_day_and_point(world, card_in):
    card = card_in(S.APPLIED)
    day = timezone.localdate(card.applied_at)
    per_day = counts.daily_counts(f"point:{card.service_point_id}", day, day, Card.objects.none())
    assert per_day == {day: 1}
    assert counts.daily_counts("city", day, day, Card.objects.none()) == {day: 1}


def test_the_reconciliation_finds_and_corrects_drift(world, card_in):
    card_in(S.ISSUED)
    key = f"point:{world.community.pk}"
    with connection.cursor() as cursor:  # a counter gone wrong (a bug, a manual fix in SQL)
        cursor.execute(
            "INSERT INTO cards_cardstatecount (scope, status, count) VALUES (%s, %s, 5)",
            [key, S.ISSUED],
        )
        cursor.execute("DELETE FROM cards_carddailycount WHERE scope = 'city'")
    assert kept(key)[S.ISSUED] == 6
    drift = counts.reconcile_counts()
    assert (key, S.ISSUED, -5) in drift.states
    assert [(scope, delta) for scope, _day, delta in drift.days] == [("city", 1)]
    assert kept(key) == point_counted(world.community)
    assert counts.reconcile_counts().fixed == 0
    assert CardStateCount.objects.exists() and CardDailyCount.objects.exists()


def test_the_holder_of_a_point_card_is_one_of_its_people(world, card_in):
    card = card_in(S.APPLIED)
    assert PointPerson.objects.filter(
        service_point=card.service_point, applicant=card.applicant, reason="card"
    ).exists()


def test_the_reconciliation_runs_from_the_beat_schedule(world, card_in):
    from cards.schedule import SCHEDULE
    from cards.tasks import reconcile_card_counts

    assert "cards.tasks.reconcile_card_counts" in {entry.task for entry in SCHEDULE}
    card_in(S.ISSUED)
    CardStateCount.objects.filter(scope="city").delete()
    assert reconcile_card_counts.apply().get() >= 1
    assert kept("city") == counted()


@pytest.mark.django_db(transaction=True)
def rebuild_as_superuser(*, bulk: bool) -> None:
    """`reconcile_counts --rebuild [--bulk]` as an operator runs it: the database superuser's
    own connection, one committed transaction (`--bulk` turns the triggers off for its session,
    which the service role may not). The test's rows must be committed for it to see them."""
    import environ
    import psycopg

    server = environ.Env.db_url_config(environ.Env().str("DATABASE_URL"))
    superuser = psycopg.connect(
        host=server["HOST"] or "127.0.0.1",
        port=server["PORT"] or 5432,
        user=server["USER"],
        password=server["PASSWORD"] or None,
        dbname=connection.settings_dict["NAME"],
    )
    with superuser, superuser.cursor() as cursor:
        counts.rebuild(cursor, bulk=bulk)
    superuser.close()


@pytest.mark.django_db(transaction=True)
def test_a_bulk_rebuild_builds_the_links_people_and_counters(world, card_in):
    card = card_in(S.ISSUED)
    PointCard.objects.all().delete()
    PointPerson.objects.all().delete()
    CardStateCount.objects.all().delete()
    assert not PointCard.objects.exists() and kept("city") == {}
    rebuild_as_superuser(bulk=True)
    assert PointCard.objects.filter(service_point=card.service_point, card=card).exists()
    assert PointPerson.objects.filter(applicant=card.applicant).exists()
    assert kept("city") == counted()
    assert counts.reconcile_counts().fixed == 0


def test_the_triggers_and_the_rebuild_know_the_same_loss_reports_as_the_scope():
    """The loss reports that make a card a point's work are written into SQL twice (the
    migration's triggers and cards.counts' rebuild): both must name exactly scope's."""
    import importlib
    import re

    from cards.counter.scope import LOSS_REPORT_TRANSITIONS

    migration = importlib.import_module("cards.migrations.0009_scale_scope_and_counts")
    in_triggers = set(re.findall(r"'(\w+)'", migration.LOSS_REPORTS))
    rebuild_sql = counts.LINKS_SQL[2]
    in_rebuild = set(re.findall(r"'(\w+)'", rebuild_sql.split("t.name IN", 1)[1]))
    assert in_triggers == in_rebuild == {str(name) for name in LOSS_REPORT_TRANSITIONS}


def test_compaction_folds_each_key_into_one_row_and_keeps_the_sums(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        report_by_phone(world, card)
    keys = CardStateCount.objects.values_list("scope", "status")
    assert len(keys) > len(set(keys))  # a row per change...
    before = {key: kept(key) for key in ("city", f"point:{world.community.pk}")}
    assert counts.compact_counts() > 0
    keys = list(CardStateCount.objects.values_list("scope", "status"))
    assert len(keys) == len(set(keys))  # ...folded into one per key
    assert {key: kept(key) for key in before} == before
    assert counts.compact_counts() == 0


def test_the_reconciliation_sees_no_drift_on_its_first_day_whatever_the_hour(world, card_in):
    """The daily check starts `days` ago at the current hour, but the kept rows are whole days: a
    card applied that first day before this hour is counted on both sides (it was written off as
    drift on every run, a false negative delta each night)."""
    first_day_morning = T0.replace(hour=1)  # 09:00 in Shanghai
    with time_machine.travel(first_day_morning, tick=False):
        card_in(S.APPLIED)
    with time_machine.travel(first_day_morning + datetime.timedelta(days=40, hours=5), tick=False):
        drift = counts.reconcile_counts(days=40)
    assert drift.days == [] and drift.fixed == 0


def links_of(card) -> dict[int, tuple[bool, bool, bool]]:
    return {
        link.service_point_id: (link.applied_here, link.collect_here, link.loss_report_here)
        for link in PointCard.objects.filter(card=card)
    }


def test_the_links_and_counters_follow_a_changed_collection_point(world, card_in):
    """Whoever changes a card's collection point (a service, an SQL fix), the new point sees the
    card to collect and the old one no longer does, unless it is still that point's work."""
    card = card_in(S.READY_FOR_COLLECTION)
    applied_at = card.service_point_id
    assert links_of(card)[card.collection_point_id][1]  # to be collected there
    Card.objects.filter(pk=card.pk).update(collection_point=world.other_community)
    links = links_of(card)
    assert links[world.other_community.pk] == (False, True, False)
    assert links[applied_at] == (True, False, False)  # still the application taken there
    # Moved on again: the point that was only the collection point loses the card.
    Card.objects.filter(pk=card.pk).update(collection_point=world.outlet)
    links = links_of(card)
    assert world.other_community.pk not in links
    assert links[world.outlet.pk] == (False, True, False)
    for point in (world.community, world.other_community, world.outlet):
        assert kept(f"point:{point.pk}") == point_counted(point)
    assert counts.reconcile_counts().fixed == 0


def test_one_statement_changing_some_cards_and_not_others_keeps_every_counter(world, card_in):
    """A set-based statement (a sweep's batch, an API batch, an SQL fix) updates cards whose
    status or bank change beside cards whose do not: every counter takes each row's old value
    off and its new value on, and the rows that did not change cancel out (migration 0017)."""
    cancelled = card_in(S.ISSUED)
    moved = card_in(S.ISSUED, applicant=eligible_person())
    untouched = card_in(S.READY_FOR_COLLECTION, applicant=eligible_person())
    ids = [cancelled.pk, moved.pk, untouched.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cards_card SET "
            "status = CASE WHEN id = %s THEN 'cancelled' ELSE status END, "
            "bank_id = CASE WHEN id = %s THEN %s ELSE bank_id END, updated_at = now() "
            "WHERE id = ANY(%s)",
            [cancelled.pk, moved.pk, world.other_bank.pk, ids],
        )
    assert kept("city") == counted()
    assert kept(f"bank:{world.bank.pk}") == counted(bank=world.bank)
    assert kept(f"bank:{world.other_bank.pk}") == counted(bank=world.other_bank) == {S.ISSUED: 1}
    for point in (world.community, world.other_community, world.outlet):
        assert kept(f"point:{point.pk}") == point_counted(point)
    assert counts.reconcile_counts().fixed == 0


def deadlines_of(card) -> dict[int, datetime.datetime | None]:
    return dict(PointCard.objects.filter(card=card).values_list("service_point", "loss_deadline"))


def test_every_link_of_a_card_carries_its_live_loss_deadline(world, card_in):
    """The point's loss reports by deadline (migration 0019): each link of the card, including
    the one the report itself makes at the hotline, follows the report in force."""
    card = card_in(S.ISSUED)
    assert set(deadlines_of(card).values()) == {None}
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card)
        links = deadlines_of(card)
        assert set(links) == {world.community.pk, world.outlet.pk, world.hotline.pk}
        assert set(links.values()) == {card.phone_report_expires_at}
        card = services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=card.applicant.id_number
        )
        assert card.written_report_expires_at != card.phone_report_expires_at
        assert set(deadlines_of(card).values()) == {card.written_report_expires_at}
        card = services.card_withdraw_loss_report(
            card=card,
            actor=world.clerk,
            id_number=card.applicant.id_number,
            card_presented=True,
        )
    assert card.status == S.ISSUED
    assert set(deadlines_of(card).values()) == {None}


def test_the_set_based_sweep_clears_the_deadline_of_every_link(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card)
    with time_machine.travel(T0 + datetime.timedelta(days=1), tick=False):
        assert sweeps.sweep(T.LAPSE_PHONE_REPORT).expired == 1
    assert set(deadlines_of(card).values()) == {None}


def test_a_link_made_after_the_report_starts_with_its_deadline(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card)
    Card.objects.filter(pk=card.pk).update(collection_point=world.other_community)
    assert deadlines_of(card)[world.other_community.pk] == card.phone_report_expires_at


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bulk", [False, True], ids=["rebuild", "bulk rebuild"])
def test_a_rebuild_gives_every_link_the_cards_deadline(world, card_in, bulk):
    """A bulk load's links come with the deadline (its triggers are off), and a link whose
    deadline went wrong (an SQL fix) is put right."""
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card)
    other = card_in(S.ISSUED, applicant=eligible_person())
    PointCard.objects.filter(card=card, service_point=world.outlet).delete()
    PointCard.objects.filter(card=other).update(loss_deadline=T0)
    rebuild_as_superuser(bulk=bulk)
    assert deadlines_of(card)[world.outlet.pk] == card.phone_report_expires_at
    assert set(deadlines_of(card).values()) == {card.phone_report_expires_at}
    assert set(deadlines_of(other).values()) == {None}
