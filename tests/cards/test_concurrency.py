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


# --- A clerk who waits for the card's lock across a loss report's deadline --


class HeldRowLock:
    """Another connection holds the card's row (`SELECT … FOR UPDATE`) until `release()`."""

    def __init__(self, card: Card):
        self.card_pk = card.pk
        self.locked = threading.Event()
        self.released = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self):
        from django.db import transaction

        try:
            with transaction.atomic():
                Card.objects.select_for_update().get(pk=self.card_pk)
                self.locked.set()
                self.released.wait(timeout=30)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(timeout=10)
        return self

    def release(self):
        self.released.set()
        self.thread.join(timeout=30)

    def __exit__(self, *exc):
        self.release()


def wait_until_blocked_on_a_lock(timeout: float = 10) -> None:
    """Until some other backend of this database waits for a row lock."""
    import time

    from django.db import connections

    with connections["default"].cursor() as cursor:
        for _ in range(int(timeout / 0.02)):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("nobody waited for the lock")


def act_while_the_lock_is_held_across(deadline, call):
    """`call` starts one second before `deadline`, waits for the held row lock, and gets it at
    `deadline`; return its outcome as race() does."""
    with time_machine.travel(deadline - datetime.timedelta(seconds=1), tick=False) as clock:
        card_holder = HeldRowLock(card=call.card)
        with card_holder:
            outcome: list = []

            def run():
                outcome.extend(race(call))

            clerk = threading.Thread(target=run)
            clerk.start()
            wait_until_blocked_on_a_lock()
            clock.move_to(deadline)
        clerk.join(timeout=30)
    return outcome[0]


class Call:
    def __init__(self, card, fn):
        self.card, self.fn = card, fn

    def __call__(self):
        return self.fn()


@pytest.fixture
def phone_reported(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        return report_by_phone(world, card)


def test_withdrawing_a_phone_report_after_waiting_for_the_lock_across_its_deadline(
    world, phone_reported
):
    card = phone_reported
    outcome = act_while_the_lock_is_held_across(
        card.phone_report_expires_at,
        Call(
            card,
            lambda: services.card_withdraw_loss_report(
                card=card,
                actor=world.clerk,
                id_number=card.applicant.id_number,
                card_presented=True,
            ),
        ),
    )
    assert outcome == ("refused", "deadline_passed")
    card.refresh_from_db()
    assert card.status == S.ISSUED  # lapsed at the deadline, as the sweep would have
    names = list(card.transitions.order_by("id").values_list("name", flat=True))
    assert names[-2:] == [T.REPORT_LOST_BY_PHONE, T.LAPSE_PHONE_REPORT]
    assert chain_is_consistent(card)


def test_a_written_report_after_waiting_across_the_phone_deadline_starts_from_issued(
    world, phone_reported
):
    card = phone_reported
    outcome = act_while_the_lock_is_held_across(
        card.phone_report_expires_at,
        Call(
            card,
            lambda: services.card_report_lost_in_writing(
                card=card, actor=world.clerk, id_number=card.applicant.id_number
            ),
        ),
    )
    assert outcome[0] == "ok", outcome
    card.refresh_from_db()
    assert card.status == S.WRITTEN_LOST
    names = list(card.transitions.order_by("id").values_list("name", flat=True))
    assert names[-3:] == [T.REPORT_LOST_BY_PHONE, T.LAPSE_PHONE_REPORT, T.REPORT_LOST_IN_WRITING]
    assert chain_is_consistent(card)


def test_withdrawing_a_written_report_after_waiting_across_its_30_days(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=card.applicant.id_number
        )
    outcome = act_while_the_lock_is_held_across(
        card.written_report_expires_at,
        Call(
            card,
            lambda: services.card_withdraw_loss_report(
                card=card,
                actor=world.clerk,
                id_number=card.applicant.id_number,
                card_presented=True,
            ),
        ),
    )
    assert outcome == ("refused", "deadline_passed")
    card.refresh_from_db()
    assert card.status == S.CANCELLED


def test_the_clerks_admin_form_waiting_across_the_deadline_shows_the_refusal(world, phone_reported):
    """The same through the clerk admin: the page says the report lapsed, never a 500."""
    import re

    from django.apps import apps

    from agencies.roles import sync_role_groups
    from tests.admin.conftest import login

    sync_role_groups(apps)  # a transactional test's flush took the migration's role groups away
    client = login(world.clerk)
    card = phone_reported
    url = f"/admin/cards/card/{card.pk}/do/withdraw_loss_report/"
    form = {"id_number": card.applicant.id_number, "card_presented": "on"}
    outcome = act_while_the_lock_is_held_across(
        card.phone_report_expires_at, Call(card, lambda: client.post(url, form))
    )
    assert outcome[0] == "ok", outcome
    response = outcome[1]
    assert response.status_code == 200
    page = re.sub(r"\s+", " ", response.content.decode())
    assert "The phone report lapsed at" in page
    card.refresh_from_db()
    assert card.status == S.ISSUED
