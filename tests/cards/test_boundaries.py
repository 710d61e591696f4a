"""Every deadline instant of the core rules, from both sides, and the rules a planted bug once broke
unnoticed (issue #18): each test here fails when its comparison or rule is changed by one token.

A deadline is a half-open interval: a report is live strictly before its deadline and in force as
lapsed or cancelled from the deadline instant on (`<=` in cards/models.py and cards/expiry.py,
`__gt` for the live states in cards/counter/scope.py). "Just before" is one microsecond before: the
columns are `timestamptz`, microsecond precision.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine

from cards import services
from cards.choices import CardStatus, CardType, ReplacementReason, TransitionName
from cards.counter import scope
from cards.expiry import EXPIRIES, expire_batch
from cards.models import Card, CardTransition, OutboxEvent
from cards.sweeps import due_counts, sweep
from common.errors import ApplicationError
from tests.cards.conftest import T0, bring_to, eligible_person, report_by_phone, submit

S = CardStatus
T = TransitionName
TICK = datetime.timedelta(microseconds=1)
PHONE = datetime.timedelta(hours=24)
WRITTEN = datetime.timedelta(days=30)
pytestmark = pytest.mark.django_db


def at(moment: datetime.datetime):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def phone_reported(world, card_in) -> Card:
    card = card_in(S.ISSUED)
    with at(T0):
        return report_by_phone(world, card)


@pytest.fixture
def written_lost(world, card_in) -> Card:
    card = card_in(S.ISSUED, applicant=eligible_person())
    with at(T0):
        return services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=card.applicant.id_number
        )


def the_report(kind: str, request) -> tuple[Card, datetime.datetime]:
    card = request.getfixturevalue(kind)
    return card, T0 + (PHONE if kind == "phone_reported" else WRITTEN)


LIVE = {"phone_reported": S.PHONE_REPORTED_LOST, "written_lost": S.WRITTEN_LOST}
AFTER = {"phone_reported": S.ISSUED, "written_lost": S.CANCELLED}
EXPIRY = {"phone_reported": T.LAPSE_PHONE_REPORT, "written_lost": T.EXPIRE_WRITTEN_REPORT}
SIDES = [(-TICK, "live"), (datetime.timedelta(0), "expired"), (TICK, "expired")]


# --- The deadlines are fixed on the card when the report is made -------------------------------


def test_a_phone_report_is_valid_exactly_24_hours_and_a_written_one_exactly_30_days(
    phone_reported, written_lost
):
    assert phone_reported.phone_report_expires_at == T0 + PHONE
    assert written_lost.written_report_expires_at == T0 + WRITTEN


# --- The state in force: model, list filter (cards/counter/scope.py), admin list -------------


@pytest.mark.parametrize("kind", ["phone_reported", "written_lost"])
@pytest.mark.parametrize(("offset", "side"), SIDES)
def test_the_state_in_force_on_each_side_of_the_deadline(request, kind, offset, side):
    card, deadline = the_report(kind, request)
    now = deadline + offset
    expected = LIVE[kind] if side == "live" else AFTER[kind]
    assert card.status_at(now) == expected
    assert card.due_expiry(now) == (None if side == "live" else EXPIRY[kind])
    # The list filter of every state agrees: the card is under exactly one state.
    under = [
        state
        for state in S.values
        if Card.objects.filter(scope.effective_state_q(state, now), pk=card.pk).exists()
    ]
    assert under == [expected]


@pytest.mark.parametrize("kind", ["phone_reported", "written_lost"])
@pytest.mark.parametrize(("offset", "side"), SIDES)
def test_the_admin_state_filter_on_each_side_of_the_deadline(request, kind, offset, side):
    from tests.admin.conftest import login

    card, deadline = the_report(kind, request)
    world = request.getfixturevalue("world")
    client = login(world.clerk)  # the card was applied for at the clerk's point
    expected = LIVE[kind] if side == "live" else AFTER[kind]
    with at(deadline + offset):
        for state in (LIVE[kind], AFTER[kind]):
            listed = client.get("/admin/cards/card/", {"state": state})
            assert listed.status_code == 200
            shown = [c.pk for c in listed.context["cl"].result_list]
            assert (card.pk in shown) == (state == expected), (state, offset)


# --- Expiry: the sweep, its dry run, and a service touching the card --------------------------


@pytest.mark.parametrize("kind", ["phone_reported", "written_lost"])
@pytest.mark.parametrize(("offset", "side"), SIDES)
def test_the_sweep_takes_a_report_from_its_deadline_instant_on(request, kind, offset, side):
    card, deadline = the_report(kind, request)
    now = deadline + offset
    counted = due_counts(now=now)[EXPIRY[kind]]
    result = sweep(EXPIRY[kind], now=now)
    card.refresh_from_db()
    if side == "live":
        assert (counted, result.expired, card.status) == (0, 0, LIVE[kind])
    else:
        assert (counted, result.expired, card.status) == (1, 1, AFTER[kind])


@pytest.mark.parametrize("kind", ["phone_reported", "written_lost"])
@pytest.mark.parametrize(("offset", "side"), SIDES)
def test_the_scheduler_service_refuses_before_the_deadline_and_expires_from_it(
    request, world, kind, offset, side
):
    card, deadline = the_report(kind, request)
    expire = (
        services.card_lapse_phone_report
        if kind == "phone_reported"
        else services.card_expire_written_report
    )
    with at(deadline + offset):
        if side == "live":
            with pytest.raises(ApplicationError) as refused:
                expire(card=card, actor=world.system)
            assert refused.value.code == "deadline_not_reached"
            assert Card.objects.get(pk=card.pk).status == LIVE[kind]
        else:
            assert expire(card=card, actor=world.system).status == AFTER[kind]


@pytest.mark.parametrize("kind", ["phone_reported", "written_lost"])
@pytest.mark.parametrize(("offset", "side"), SIDES)
def test_withdrawing_a_report_works_before_the_deadline_and_is_refused_from_it(
    request, world, kind, offset, side
):
    card, deadline = the_report(kind, request)
    with at(deadline + offset):
        if side == "live":
            found = services.card_withdraw_loss_report(
                card=card,
                actor=world.clerk,
                id_number=card.applicant.id_number,
                card_presented=True,
            )
            assert found.status == S.ISSUED
            assert found.transitions.order_by("id").last().name == T.WITHDRAW_LOSS_REPORT
        else:
            with pytest.raises(ApplicationError) as refused:
                services.card_withdraw_loss_report(
                    card=card,
                    actor=world.clerk,
                    id_number=card.applicant.id_number,
                    card_presented=True,
                )
            assert refused.value.code == "deadline_passed"
            assert Card.objects.get(pk=card.pk).status == AFTER[kind]


def test_a_written_report_can_follow_a_phone_report_until_its_deadline(world, phone_reported):
    holder_id = phone_reported.applicant.id_number
    with at(T0 + PHONE - TICK):
        card = services.card_report_lost_in_writing(
            card=phone_reported, actor=world.clerk, id_number=holder_id
        )
    names = list(card.transitions.order_by("id").values_list("name", flat=True))
    assert names[-2:] == [T.REPORT_LOST_BY_PHONE, T.REPORT_LOST_IN_WRITING]


# --- The written report's automatic cancellation is dated at its deadline ---------------------
# PRODUCT.md: "Valid 30 days; at expiry the card is cancelled automatically", and "A deadline that
# has passed is in force even if the scheduler has not run yet". So the card was cancelled at the
# deadline, whenever the scheduler writes it down: the log row, the card's closing time and the
# banks' event carry the deadline; only `recorded_at` says when it was written.

LATE = datetime.timedelta(days=4, hours=7, minutes=13)


def assert_cancelled_at_the_deadline(card: Card, deadline: datetime.datetime, written_at):
    card.refresh_from_db()
    assert card.status == S.CANCELLED
    assert card.closed_at == deadline
    row = CardTransition.objects.get(card=card, name=T.EXPIRE_WRITTEN_REPORT)
    assert (row.from_status, row.to_status, row.actor_kind) == (
        S.WRITTEN_LOST,
        S.CANCELLED,
        "system",
    )
    assert row.at == deadline
    assert row.recorded_at == written_at
    assert row.data == {"deadline": "2026-04-01T09:30:00.000000Z"}
    event = OutboxEvent.objects.filter(card=card).order_by("id").last()
    assert event.payload["transition"] == T.EXPIRE_WRITTEN_REPORT
    assert event.payload["at"] == "2026-04-01T09:30:00.000000Z"
    assert card.status_at(written_at) == S.CANCELLED


def test_a_sweep_running_days_late_dates_the_cancellation_at_the_deadline(written_lost):
    deadline = T0 + WRITTEN
    assert deadline == datetime.datetime(2026, 4, 1, 9, 30, tzinfo=datetime.UTC)
    with at(deadline + LATE):
        result = sweep(T.EXPIRE_WRITTEN_REPORT)  # reads the (late) clock itself
    assert result.expired == 1
    assert_cancelled_at_the_deadline(written_lost, deadline, deadline + LATE)


def test_a_clerk_touching_the_card_days_late_dates_it_at_the_deadline_too(world, written_lost):
    deadline = T0 + WRITTEN
    with at(deadline + LATE), pytest.raises(ApplicationError) as refused:
        services.card_replace(
            card=written_lost,
            actor=world.clerk,
            id_number=written_lost.applicant.id_number,
            card_presented=True,
            reason=ReplacementReason.LOST,
        )
    assert refused.value.code == "deadline_passed"
    assert_cancelled_at_the_deadline(written_lost, deadline, deadline + LATE)


def test_a_late_sweep_takes_the_oldest_deadline_first(world, card_in):
    cards = []
    for hours in (5, 1, 3):
        card = card_in(S.ISSUED, applicant=eligible_person())
        with at(T0 + datetime.timedelta(hours=hours)):
            cards.append(report_by_phone(world, card))
    taken = expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=T0 + 3 * PHONE, limit=2)
    assert taken == [cards[1].pk, cards[2].pk]


# --- A replacement after an automatic cancellation points at a cancelled card ----------------


def replacement_for(world, old: Card) -> Card:
    return services.card_submit(
        applicant=old.applicant,
        card_type=old.card_type,
        actor=world.clerk,
        bank=world.bank,
        collection_point=world.outlet,
        replaces=old,
    )


@pytest.mark.parametrize("state", [S.WITHDRAWN, S.REJECTED, S.REPLACED, S.ISSUED, S.APPLIED])
def test_a_replacement_cannot_point_at_a_card_that_was_not_cancelled(world, card_in, state):
    old = card_in(state)
    before = Card.objects.count()
    with pytest.raises(ApplicationError) as refused:
        replacement_for(world, old)
    assert refused.value.code == "invalid"
    assert set(refused.value.details) == {"replaces"}
    assert Card.objects.count() == before


def test_a_replacement_points_only_at_the_persons_own_cancelled_card_of_its_type(world, card_in):
    cancelled = card_in(S.CANCELLED)
    someone_else = eligible_person()
    with pytest.raises(ApplicationError) as refused:
        services.card_submit(
            applicant=someone_else,
            card_type=CardType.SOCIAL_SECURITY,
            actor=world.clerk,
            bank=world.bank,
            collection_point=world.outlet,
            replaces=cancelled,
        )
    assert set(refused.value.details) == {"replaces"}
    with pytest.raises(ApplicationError) as refused:
        services.card_submit(
            applicant=cancelled.applicant,
            card_type=CardType.MEDICAL_INSURANCE,
            actor=world.street_medical_clerk,
            replaces=cancelled,
        )
    assert set(refused.value.details) == {"replaces"}
    new = replacement_for(world, cancelled)
    assert new.replaces == cancelled and new.status == S.APPLIED
    with pytest.raises(ApplicationError) as refused:
        replacement_for(world, cancelled)  # once only (the new card is live, but this comes first)
    assert set(refused.value.details) == {"replaces"}


def test_after_a_withdrawn_application_a_new_one_is_not_a_replacement(world, person):
    old = bring_to(world, submit(world, person), S.WITHDRAWN)
    new = submit(world, person)
    assert new.replaces is None and new.status == S.APPLIED
    assert not Card.objects.filter(replaces=old).exists()


def test_the_expiry_table_cannot_be_changed_at_run_time():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        EXPIRIES[T.LAPSE_PHONE_REPORT].deadline_field = "written_report_expires_at"
    assert (EXPIRIES[T.LAPSE_PHONE_REPORT].source, EXPIRIES[T.LAPSE_PHONE_REPORT].target) == (
        S.PHONE_REPORTED_LOST,
        S.ISSUED,
    )
    assert (
        EXPIRIES[T.EXPIRE_WRITTEN_REPORT].source,
        EXPIRIES[T.EXPIRE_WRITTEN_REPORT].target,
        EXPIRIES[T.EXPIRE_WRITTEN_REPORT].closes,
        EXPIRIES[T.LAPSE_PHONE_REPORT].closes,
    ) == (S.WRITTEN_LOST, S.CANCELLED, True, False)


def test_on_postgresql_a_batch_is_one_statement_whatever_it_takes(world, card_in):
    """The set-based path (one statement claims, updates, logs and emits); the portable ORM path
    of `make run` on SQLite writes row by row and skips no locked row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        card = card_in(S.ISSUED, applicant=eligible_person())
        with at(T0):
            report_by_phone(world, card)
    with CaptureQueriesContext(connection) as queries:
        taken = expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=T0 + PHONE)
    assert len(taken) == 3
    writes = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"].upper()]
    assert len(writes) == 1 and "SKIP LOCKED" in writes[0]
