"""Races between real, separate database connections (one thread each)."""

import datetime
import itertools
import threading

import pytest
import time_machine
from django.db import connection

from cards import services
from cards.choices import CardStatus, CardType, TransitionName
from cards.expiry import EXPIRIES, expire_batch
from cards.models import Card, CardTransition
from common.errors import ApplicationError
from tests.cards.conftest import T0, report_by_phone, submit

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls):
    """Run each call in its own thread (own connection), released together; return outcomes."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            outcomes[i] = ("ok", call())
        except ApplicationError as exc:
            outcomes[i] = ("refused", exc.code)
        except Exception as exc:
            outcomes[i] = ("error", repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def chain_is_consistent(card: Card) -> bool:
    rows = list(card.transitions.order_by("id").values_list("from_status", "to_status"))
    return all(a[1] == b[0] for a, b in itertools.pairwise(rows)) and (
        rows[-1][1] == Card.objects.get(pk=card.pk).status
    )


def test_two_clerks_reporting_one_card_at_once_leave_one_transition(world, card_in):
    card = card_in(S.ISSUED)
    holder_id = card.applicant.id_number
    outcomes = race(
        lambda: services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=holder_id
        ),
        lambda: services.card_report_lost_in_writing(
            card=card, actor=world.other_clerk, id_number=holder_id
        ),
    )
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"], outcomes
    assert ("refused", "transition_not_allowed") in outcomes
    assert card.transitions.filter(name=T.REPORT_LOST_IN_WRITING).count() == 1
    assert chain_is_consistent(card)


def test_two_submissions_for_one_person_at_once_leave_one_live_card(world, person):
    outcomes = race(lambda: submit(world, person), lambda: submit(world, person))
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"], outcomes
    assert ("refused", "duplicate_live_card") in outcomes
    assert Card.objects.filter(applicant=person, card_type=CardType.SOCIAL_SECURITY).count() == 1


def test_a_sweep_and_a_written_report_racing_at_the_deadline(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card)
    deadline = T0 + datetime.timedelta(hours=24)
    with time_machine.travel(deadline, tick=False):
        outcomes = race(
            lambda: expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=deadline),
            lambda: services.card_report_lost_in_writing(
                card=card, actor=world.clerk, id_number=card.applicant.id_number
            ),
        )
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    card.refresh_from_db()
    assert card.status == S.WRITTEN_LOST
    assert CardTransition.objects.filter(card=card, name=T.LAPSE_PHONE_REPORT).count() == 1
    assert chain_is_consistent(card)


def test_two_sweeps_at_once_expire_each_card_once(world, card_in):
    from tests.cards.conftest import eligible_person

    cards = [card_in(S.ISSUED, applicant=eligible_person()) for _ in range(6)]
    with time_machine.travel(T0, tick=False):
        for card in cards:
            report_by_phone(world, card)
    now = T0 + datetime.timedelta(days=2)
    sweep = EXPIRIES[T.LAPSE_PHONE_REPORT]
    outcomes = race(
        lambda: expire_batch(sweep, now=now, limit=4), lambda: expire_batch(sweep, now=now, limit=4)
    )
    swept = outcomes[0][1] + outcomes[1][1]
    assert len(set(swept)) == len(swept)  # no card claimed by both
    expire_batch(sweep, now=now)  # whatever was skipped while locked
    for card in cards:
        assert CardTransition.objects.filter(card=card, name=T.LAPSE_PHONE_REPORT).count() == 1
        assert Card.objects.get(pk=card.pk).status == S.ISSUED
