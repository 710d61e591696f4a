"""cards/permissions.py from the side each rule keeps out, through every door it has: the service,
the admin URL and (for banks) the API.

The rules, in the order `actor_may` applies them: the scheduler's transitions are the scheduler's
alone; a bank acts on its own cards only, and only where the table says `bank=True`; a staff member
needs a role of the transition, a point allowed the operation, at a bank's outlet a card of that
bank, and the card in the transition's scope (own point, collection point, or any card).
"""

from __future__ import annotations

import pytest

from agencies.choices import ServicePointKind
from cards import services
from cards.actors import Actor
from cards.choices import CardStatus, CardType, TransitionName
from cards.models import Card
from cards.permissions import RULES, actor_may
from common.errors import ApplicationError
from tests.cards.conftest import bring_to, card_number, eligible_person, submit
from tests.factories import ServicePointFactory

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db


def refused(call, code: str = "permission_denied") -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


def unchanged(card: Card):
    before = (card.status, card.transitions.count(), card.events.count())

    def check():
        card.refresh_from_db()
        assert (card.status, card.transitions.count(), card.events.count()) == before

    return check


@pytest.fixture
def icbc_outlet(world):
    return ServicePointFactory(
        code="IC01", kind=ServicePointKind.BANK_OUTLET, bank=world.other_bank
    )


@pytest.fixture
def icbc_card_at_bosc_outlet(world, icbc_outlet):
    """An ICBC card recorded as taken at BOSC's outlet BO01: a row the rules never let anyone
    make (data from before the rule, or a bug elsewhere); BO01's clerk must still not act on it,
    though it is "applied at their point"."""
    card = services.card_submit(
        applicant=eligible_person(),
        card_type=CardType.SOCIAL_SECURITY,
        actor=world.other_clerk,
        bank=world.other_bank,
        collection_point=icbc_outlet,
    )
    Card.objects.filter(pk=card.pk).update(service_point=world.outlet)
    card.refresh_from_db()
    # The scope's link row, which the triggers write when a card is applied for (cards.PointCard):
    # made by hand like the row itself.
    from cards.models import PointCard

    PointCard.objects.update_or_create(
        service_point=world.outlet,
        card=card,
        defaults={"applied_at": card.applied_at, "bank": card.bank, "applied_here": True},
    )
    return card


# --- The whole table, written out from PRODUCT.md independently of cards/permissions.py ------

ACTORS = (
    "clerk",  # community center CC01, where card A was applied for
    "supervisor",  # CC01
    "other_clerk",  # community center CC02
    "outlet_clerk",  # BOSC's outlet BO01, where card A is collected
    "county_clerk",  # county medical center MC01, where card B was applied for
    "street_medical_clerk",  # street medical point MP01
    "hotline_operator",
    "bank_actor",  # BOSC through the API
    "other_bank_actor",  # ICBC through the API
    "system",
)
WRITTEN_DESK = {"clerk", "supervisor", "other_clerk", "county_clerk", "street_medical_clerk"}
EVERY_COUNTER = WRITTEN_DESK | {"outlet_clerk"}

# Card A: a BOSC social security card applied for at CC01, collected at BO01.
CARD_A: dict[str, set[str]] = {
    T.SUBMIT: EVERY_COUNTER | {"bank_actor"},
    T.VERIFY: {"clerk", "supervisor", "outlet_clerk"},
    T.REJECT: {"clerk", "supervisor", "outlet_clerk"},
    T.WITHDRAW: {"clerk", "supervisor", "outlet_clerk", "bank_actor"},
    T.MARK_READY: {"outlet_clerk", "bank_actor"},
    T.ISSUE_ON_THE_SPOT: set(),
    T.HAND_OVER: {"outlet_clerk", "bank_actor"},
    T.REPORT_LOST_BY_PHONE: {"hotline_operator"},
    T.LAPSE_PHONE_REPORT: {"system"},
    T.WITHDRAW_LOSS_REPORT: WRITTEN_DESK,
    T.REPORT_LOST_IN_WRITING: WRITTEN_DESK,
    T.EXPIRE_WRITTEN_REPORT: {"system"},
    T.CANCEL_UNCOLLECTED: {"system"},
    T.REPLACE: WRITTEN_DESK,
    T.CANCEL: {"supervisor"},
}
# Card B: a medical insurance card (no bank) applied for and collected at the county center MC01.
CARD_B: dict[str, set[str]] = {
    **CARD_A,
    T.SUBMIT: EVERY_COUNTER,
    T.VERIFY: {"county_clerk"},
    T.REJECT: {"county_clerk"},
    T.WITHDRAW: {"county_clerk"},
    T.MARK_READY: set(),  # a county center settles on the spot; it does not "produce"
    T.ISSUE_ON_THE_SPOT: {"county_clerk"},
    T.HAND_OVER: {"county_clerk"},
}
# Card C: an ICBC card applied for at CC02 and collected at ICBC's outlet IC01.
CARD_C: dict[str, set[str]] = {
    **CARD_A,
    T.SUBMIT: (EVERY_COUNTER - {"outlet_clerk"}) | {"other_bank_actor"},
    T.VERIFY: {"other_clerk"},
    T.REJECT: {"other_clerk"},
    T.WITHDRAW: {"other_clerk", "other_bank_actor"},
    T.MARK_READY: {"other_bank_actor"},
    T.HAND_OVER: {"other_bank_actor"},
}


def table_cards(world, icbc_outlet) -> dict[str, tuple[Card, dict[str, set[str]]]]:
    person = eligible_person()
    social = CardType.SOCIAL_SECURITY
    return {
        "A": (
            Card(
                applicant=person,
                card_type=social,
                bank=world.bank,
                service_point=world.community,
                collection_point=world.outlet,
            ),
            CARD_A,
        ),
        "B": (
            Card(
                applicant=person,
                card_type=CardType.MEDICAL_INSURANCE,
                bank=None,
                service_point=world.county_medical,
                collection_point=world.county_medical,
            ),
            CARD_B,
        ),
        "C": (
            Card(
                applicant=person,
                card_type=social,
                bank=world.other_bank,
                service_point=world.other_community,
                collection_point=icbc_outlet,
            ),
            CARD_C,
        ),
    }


@pytest.mark.parametrize("which", ["A", "B", "C"])
def test_who_may_do_what_to_which_card(world, icbc_outlet, which):
    card, table = table_cards(world, icbc_outlet)[which]
    assert set(table) == set(RULES)
    wrong = [
        (name, who)
        for name in RULES
        for who in ACTORS
        if actor_may(card, getattr(world, who), name) != (who in table[name])
    ]
    assert not wrong, wrong


def test_django_fsm_asks_the_same_table(world, icbc_outlet):
    """`has_transition_perm` (django-fsm's `permission=`) gives the same answers, and refuses
    anything that is not an Actor."""
    from django_fsm import has_transition_perm

    _draft, table = table_cards(world, icbc_outlet)["A"]
    card = Card(
        applicant=_draft.applicant,
        card_type=_draft.card_type,
        bank=world.bank,
        service_point=world.community,
        collection_point=world.outlet,
        status=S.ISSUED,
    )
    for who in ACTORS:
        actor = getattr(world, who)
        assert has_transition_perm(card.cancel, actor) == (who in table[T.CANCEL]), who
    assert not has_transition_perm(card.cancel, world.supervisor.user)


# --- A bank's outlet acts only on its own bank's cards ----------------------------------------


def test_an_outlet_clerk_cannot_take_an_application_for_another_banks_card(world, icbc_outlet):
    person = eligible_person()
    refused(
        lambda: services.card_submit(
            applicant=person,
            card_type=CardType.SOCIAL_SECURITY,
            actor=world.outlet_clerk,
            bank=world.other_bank,
            collection_point=icbc_outlet,
        )
    )
    assert not Card.objects.filter(applicant=person).exists()
    # Their own bank's card, the same way: taken.
    own = services.card_submit(
        applicant=person, card_type=CardType.SOCIAL_SECURITY, actor=world.outlet_clerk
    )
    assert (own.bank, own.service_point, own.collection_point) == (
        world.bank,
        world.outlet,
        world.outlet,
    )


@pytest.mark.parametrize(
    ("name", "call"),
    [
        (T.VERIFY, lambda w, c: services.card_verify(card=c, actor=w.outlet_clerk)),
        (T.REJECT, lambda w, c: services.card_reject(card=c, actor=w.outlet_clerk, reason="x")),
        (T.WITHDRAW, lambda w, c: services.card_withdraw(card=c, actor=w.outlet_clerk, reason="x")),
    ],
)
def test_an_outlet_clerk_cannot_act_on_another_banks_card_taken_at_their_outlet(
    world, icbc_card_at_bosc_outlet, name, call
):
    card = icbc_card_at_bosc_outlet
    assert not actor_may(card, world.outlet_clerk, name)
    check = unchanged(card)
    refused(lambda: call(world, card))
    check()
    # The same clerk on their own bank's card at their outlet: allowed.
    own = services.card_submit(
        applicant=eligible_person(), card_type=CardType.SOCIAL_SECURITY, actor=world.outlet_clerk
    )
    assert actor_may(own, world.outlet_clerk, name)


def test_the_admin_shows_no_button_and_refuses_the_post(world, icbc_card_at_bosc_outlet):
    from tests.admin.conftest import login

    card = icbc_card_at_bosc_outlet
    client = login(world.outlet_clerk)
    page = client.get(f"/admin/cards/card/{card.pk}/change/")
    assert page.status_code == 200  # applied at their point: they see it
    for name in (T.VERIFY, T.REJECT, T.WITHDRAW):
        assert f"/do/{name}/" not in page.content.decode()
    check = unchanged(card)
    for name, data in (
        (T.VERIFY, {}),
        (T.REJECT, {"reason": "x"}),
        (T.WITHDRAW, {"reason": "Changed their mind."}),
    ):
        assert client.get(f"/admin/cards/card/{card.pk}/do/{name}/").status_code == 403
        assert client.post(f"/admin/cards/card/{card.pk}/do/{name}/", data).status_code == 403
    check()


def test_the_admin_application_form_offers_only_the_outlets_own_bank(world, icbc_outlet):
    from tests.admin.conftest import login

    person = eligible_person()
    client = login(world.outlet_clerk)
    client.post("/admin/cards/card/counter/", {"q": person.id_number})
    form = client.get("/admin/cards/card/counter/apply/")
    assert icbc_outlet.name not in form.content.decode()
    posted = client.post(
        "/admin/cards/card/counter/apply/",
        {"card_type": CardType.SOCIAL_SECURITY, "collection_point": icbc_outlet.pk},
    )
    assert posted.status_code == 200
    assert posted.context["form"].errors
    assert not Card.objects.filter(applicant=person).exists()


# --- Banks: own cards only, and only the bank's transitions -----------------------------------


@pytest.mark.parametrize(
    ("name", "state", "call"),
    [
        (
            T.MARK_READY,
            S.VERIFIED,
            lambda a, c: services.card_mark_ready(card=c, actor=a, card_number=card_number()),
        ),
        (
            T.HAND_OVER,
            S.READY_FOR_COLLECTION,
            lambda a, c: services.card_hand_over(
                card=c,
                actor=a,
                id_number=c.applicant.id_number,
                receipt_number=c.receipt_number,
            ),
        ),
        (T.WITHDRAW, S.VERIFIED, lambda a, c: services.card_withdraw(card=c, actor=a, reason="x")),
    ],
)
def test_a_bank_cannot_act_on_another_banks_card_through_the_service(
    world, card_in, name, state, call
):
    card = card_in(state)  # a BOSC card
    assert not actor_may(card, world.other_bank_actor, name)
    check = unchanged(card)
    refused(lambda: call(world.other_bank_actor, card))
    check()
    assert call(world.bank_actor, card).status != state  # its own bank: done


@pytest.mark.parametrize(
    "name", [name for name, rule in RULES.items() if not rule.bank and not rule.system]
)
def test_a_bank_cannot_do_what_only_staff_do_even_on_its_own_card(world, card_in, name):
    card = card_in(S.ISSUED)
    assert card.bank == world.bank
    assert not actor_may(card, world.bank_actor, name)


# --- The scheduler's transitions are the scheduler's alone ------------------------------------


@pytest.mark.parametrize(
    "call", [services.card_lapse_phone_report, services.card_expire_written_report]
)
def test_nobody_but_the_scheduler_expires_a_report(world, card_in, call):
    card = card_in(S.ISSUED)
    check = unchanged(card)
    for actor in (world.clerk, world.supervisor, world.hotline_operator, world.bank_actor):
        refused(lambda actor=actor: call(card=card, actor=actor))
    check()


@pytest.mark.parametrize("name", [name for name, rule in RULES.items() if not rule.system])
def test_the_scheduler_does_no_staff_or_bank_work(world, card_in, name):
    assert not actor_may(card_in(S.ISSUED), world.system, name)


# --- Staff: role, operation of the point, scope -----------------------------------------------


def test_only_a_supervisor_cancels(world, card_in):
    card = card_in(S.ISSUED)
    check = unchanged(card)
    for actor in (world.clerk, world.other_clerk, world.outlet_clerk, world.hotline_operator):
        refused(lambda actor=actor: services.card_cancel(card=card, actor=actor, reason="x"))
    check()
    assert services.card_cancel(card=card, actor=world.supervisor, reason="x").status == (
        S.CANCELLED
    )


def test_only_the_hotline_takes_a_phone_report(world, card_in):
    card = card_in(S.ISSUED)
    holder = card.applicant
    check = unchanged(card)
    for actor in (world.clerk, world.supervisor, world.outlet_clerk, world.bank_actor):
        refused(
            lambda actor=actor: services.card_report_lost_by_phone(
                card=card,
                actor=actor,
                caller_name=holder.name,
                caller_id_number=holder.id_number,
                contact_phone="13900139000",
                home_address="上海市徐汇区漕溪北路1号",
            )
        )
    check()


def test_the_hotline_does_no_counter_work(world, card_in):
    card = card_in(S.APPLIED)
    check = unchanged(card)
    refused(lambda: services.card_verify(card=card, actor=world.hotline_operator))
    refused(lambda: services.card_withdraw(card=card, actor=world.hotline_operator, reason="x"))
    check()


def test_a_point_does_only_the_operations_of_its_kind(world, person):
    """A community center does not produce cards (mark ready) nor settle them on the spot; a bank
    outlet takes no written loss report."""
    card = bring_to(world, submit(world, person), S.VERIFIED)
    check = unchanged(card)
    # The center is where it was applied for, but it does not produce cards.
    refused(
        lambda: services.card_mark_ready(card=card, actor=world.clerk, card_number=card_number())
    )
    check()
    issued = bring_to(world, submit(world, eligible_person()), S.ISSUED)
    check = unchanged(issued)
    refused(
        lambda: services.card_report_lost_in_writing(
            card=issued, actor=world.outlet_clerk, id_number=issued.applicant.id_number
        )
    )
    check()


def test_scope_own_point_keeps_another_points_clerk_out(world, person):
    card = submit(world, person)  # at CC01
    check = unchanged(card)
    refused(lambda: services.card_verify(card=card, actor=world.other_clerk))
    refused(lambda: services.card_withdraw(card=card, actor=world.other_clerk, reason="x"))
    check()
    assert actor_may(card, world.clerk, T.VERIFY)


def test_scope_collection_keeps_the_applying_point_out(world, person):
    """Hand-over is at the collection point: the outlet BO01, not the center that took it."""
    card = bring_to(world, submit(world, person), S.READY_FOR_COLLECTION)
    check = unchanged(card)
    refused(
        lambda: services.card_hand_over(
            card=card,
            actor=world.clerk,
            id_number=person.id_number,
            receipt_number=card.receipt_number,
        )
    )
    check()
    assert actor_may(card, world.outlet_clerk, T.HAND_OVER)


def test_scope_any_card_lets_any_center_take_a_written_report(world, person):
    card = bring_to(world, submit(world, person), S.ISSUED)
    reported = services.card_report_lost_in_writing(
        card=card, actor=world.other_clerk, id_number=person.id_number
    )
    assert reported.status == S.WRITTEN_LOST


def test_a_staff_member_of_a_bank_without_a_point_acts_on_no_counter_work(world, card_in):
    """A bank's own staff (no service point) see their bank's cards but do no counter work."""
    from agencies.choices import StaffRole
    from tests.factories import StaffFactory, UserFactory

    card = card_in(S.APPLIED)
    user = UserFactory(username="bank-staff")
    StaffFactory(user=user, service_point=None, bank=world.bank, role=StaffRole.CLERK)
    staff_actor = Actor.for_user(user)
    for name, rule in RULES.items():
        if not rule.system:
            assert not actor_may(card, staff_actor, name), name


def test_the_rules_cannot_be_changed_at_run_time():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        RULES[T.CANCEL].roles = frozenset({"hotline_operator"})


def test_production_and_hand_over_are_at_the_collection_outlet_not_the_applying_one(world):
    """A BOSC card applied for at outlet BO01 and collected at BO02: BO01 took the application
    (it may verify or withdraw it), but only BO02 (or the bank) produces and hands over the card."""
    from tests.cards.conftest import staff_actor

    second = ServicePointFactory(code="BO02", kind=ServicePointKind.BANK_OUTLET, bank=world.bank)
    card = Card(
        applicant=eligible_person(),
        card_type=CardType.SOCIAL_SECURITY,
        bank=world.bank,
        service_point=world.outlet,
        collection_point=second,
    )
    second_clerk = staff_actor(second)
    for name in (T.MARK_READY, T.HAND_OVER):
        assert not actor_may(card, world.outlet_clerk, name), name
        assert actor_may(card, second_clerk, name), name
        assert actor_may(card, world.bank_actor, name), name
    for name in (T.VERIFY, T.WITHDRAW):
        assert actor_may(card, world.outlet_clerk, name), name
