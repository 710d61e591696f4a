"""cards/counter/scope.py from the side each rule keeps out: who sees which cards and people,
through the function and through the admin URL (list, card page, person page)."""

from __future__ import annotations

import pytest

from agencies.choices import StaffRole
from cards import services
from cards.choices import CardStatus, CardType
from cards.counter import scope
from tests.admin.conftest import login
from tests.cards.conftest import bring_to, eligible_person, submit
from tests.factories import ApplicantFactory, StaffFactory, UserFactory

S = CardStatus
pytestmark = pytest.mark.django_db


def listed(client) -> set[int]:
    response = client.get("/admin/cards/card/")
    assert response.status_code == 200
    return {card.pk for card in response.context["cl"].result_list}


def page(client, card) -> int:
    return client.get(f"/admin/cards/card/{card.pk}/change/").status_code


def test_a_written_report_taken_at_a_point_makes_the_card_that_points_work(world, person):
    card = bring_to(world, submit(world, person), S.ISSUED)  # applied at CC01, collected at BO01
    other = login(world.other_clerk)
    assert card.pk not in listed(other) and page(other, card) == 404
    services.card_report_lost_in_writing(
        card=card, actor=world.other_clerk, id_number=person.id_number
    )
    assert card.pk in listed(other) and page(other, card) == 200
    assert card.pk in scope.cards_visible_to(
        scope.desk_for_user(world.other_clerk.user)
    ).values_list("pk", flat=True)


def test_a_point_sees_what_is_applied_for_or_collected_there_and_nothing_else(world, person):
    card = submit(world, person)
    for actor, sees in (
        (world.clerk, True),  # applied there
        (world.supervisor, True),
        (world.outlet_clerk, True),  # collected there
        (world.other_clerk, False),
        (world.county_clerk, False),
        (world.street_medical_clerk, False),
    ):
        client = login(actor)
        assert (card.pk in listed(client)) == sees, actor.describe()
        assert page(client, card) == (200 if sees else 404), actor.describe()


def test_the_hotline_sees_no_card_page_or_list_before_or_after_its_report(world, person):
    """The hotline records a phone pre-report from the counter search's masked row and goes back
    to the search: no card page, list row or receipt, before or after (issue #13)."""
    from tests.cards.conftest import report_by_phone

    card = bring_to(world, submit(world, person), S.ISSUED)
    hotline = login(world.hotline_operator)
    assert listed(hotline) == set() and page(hotline, card) == 404
    report_by_phone(world, card)
    assert listed(hotline) == set() and page(hotline, card) == 404


def test_a_banks_own_staff_see_their_banks_cards_only(world, person):
    from agencies.choices import ServicePointKind
    from tests.factories import ServicePointFactory

    ours = submit(world, person)
    icbc_outlet = ServicePointFactory(
        code="IC01", kind=ServicePointKind.BANK_OUTLET, bank=world.other_bank
    )
    theirs = services.card_submit(
        applicant=eligible_person(),
        card_type=CardType.SOCIAL_SECURITY,
        actor=world.other_clerk,
        bank=world.other_bank,
        collection_point=icbc_outlet,
    )
    user = UserFactory(username="bosc-staff")
    StaffFactory(user=user, service_point=None, bank=world.bank, role=StaffRole.CLERK)
    visible = set(scope.cards_visible_to(scope.desk_for_user(user)).values_list("pk", flat=True))
    assert ours.pk in visible and theirs.pk not in visible


def test_a_user_without_a_staff_row_or_inactive_sees_nothing(world, person):
    card = submit(world, person)
    loose = UserFactory(username="nobody-here")
    desk = scope.desk_for_user(loose)
    assert (desk.bank_id, desk.point_id, desk.counter_key) == (None, None, scope.NO_SCOPE)
    assert not scope.cards_visible_to(scope.desk_for_user(loose)).exists()
    assert not scope.applicants_visible_to(scope.desk_for_user(loose)).exists()
    clerk = world.clerk.user
    assert scope.cards_visible_to(scope.desk_for_user(clerk)).filter(pk=card.pk).exists()
    assert scope.applicants_visible_to(scope.desk_for_user(clerk)).filter(pk=person.pk).exists()
    clerk.is_active = False
    assert not scope.cards_visible_to(scope.desk_for_user(clerk)).exists()
    assert not scope.applicants_visible_to(scope.desk_for_user(clerk)).exists()
    clerk.is_active, clerk.is_staff = True, False
    assert not scope.cards_visible_to(scope.desk_for_user(clerk)).exists()
    assert not scope.applicants_visible_to(scope.desk_for_user(clerk)).exists()


def test_people_a_point_sees(world, person):
    card = submit(world, person)
    nobody_yet = ApplicantFactory()
    for user, expected in (
        # A card-less person is seen only where registered or searched by exact number (#11).
        (world.clerk.user, {person.pk}),
        (world.other_clerk.user, set()),  # someone else's work: hidden
        (world.hotline_operator.user, set()),
    ):
        seen = set(
            scope.applicants_visible_to(scope.desk_for_user(user)).values_list("pk", flat=True)
        )
        assert seen & {person.pk, nobody_yet.pk} == expected
    other = login(world.other_clerk)
    assert other.get(f"/admin/applicants/applicant/{card.applicant_id}/change/").status_code in (
        302,
        404,
    )


@pytest.mark.parametrize(
    "role",
    [StaffRole.SYSTEM_ADMINISTRATOR, StaffRole.SECURITY_ADMINISTRATOR, StaffRole.AUDITOR],
)
def test_a_central_role_sees_no_bankless_card_no_holder_and_no_counter(world, person, role):
    """A central role works at no point and no bank: `bank_id IS NULL` must not become their
    scope (a medical card has no bank)."""
    card = submit(world, person, CardType.MEDICAL_INSURANCE)
    assert card.bank_id is None
    user = UserFactory(username=f"central-{role}")
    StaffFactory(user=user, service_point=None, bank=None, role=role)
    desk = scope.desk_for_user(user)
    assert not scope.cards_visible_to(desk).exists()
    assert not scope.applicants_visible_to(desk).exists()
    assert desk.counter_key == scope.NO_SCOPE


def test_only_a_supervisor_or_a_superuser_is_a_supervisors_desk(world):
    desks = {
        name: scope.desk_for_user(getattr(world, name).user)
        for name in ("supervisor", "clerk", "hotline_operator", "outlet_clerk")
    }
    assert {name: desk.is_supervisor for name, desk in desks.items()} == {
        "supervisor": True,
        "clerk": False,
        "hotline_operator": False,
        "outlet_clerk": False,
    }
    superuser = UserFactory(username="root-here", is_superuser=True)
    assert scope.desk_for_user(superuser).is_supervisor


def test_the_desk_is_resolved_once_per_request(world, django_assert_num_queries):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = world.clerk.user
    first = scope.desk_of(request)
    with django_assert_num_queries(0):
        assert scope.desk_of(request) is first


def test_the_card_in_force_is_an_unsaved_copy_in_its_effective_state(world, person):
    import datetime

    import time_machine

    from tests.cards.conftest import T0, report_by_phone

    card = bring_to(world, submit(world, person), S.ISSUED)
    with time_machine.travel(T0, tick=False):
        reported = report_by_phone(world, card)
    deadline = reported.phone_report_expires_at
    assert scope.card_in_force(reported, deadline - datetime.timedelta(microseconds=1)) is reported
    in_force = scope.card_in_force(reported, deadline)
    assert (in_force.pk, in_force.status, in_force.card_number) == (
        reported.pk,
        S.ISSUED,
        reported.card_number,
    )
    assert reported.status == S.PHONE_REPORTED_LOST
    reported.refresh_from_db()
    assert reported.status == S.PHONE_REPORTED_LOST  # nothing saved
