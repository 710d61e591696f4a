"""What a clerk or supervisor meets when they follow a link or type an address by hand (tried from
outside, on a running service): every list and page answers, a value the page cannot take is
named with its rule, never a 500."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from cards.counter.admin import DeadlineFilter
from cards.models import PointPerson, PointPersonReason
from tests.admin.test_lists import make_cards
from tests.cards.conftest import eligible_person
from tests.factories import EmploymentFactory

pytestmark = pytest.mark.django_db


def deadline_lists() -> list[str]:
    return [value for value, _label in DeadlineFilter(None, {}, None, None).lookup_choices]


@pytest.mark.parametrize("who", ["clerk", "supervisor"])
def test_every_deadline_list_of_the_card_list_opens(world, clients, who):
    """The dashboard's overdue links land on the card list filtered by `deadline`: each list
    it offers (expiring next month, street medical point cards past their collect-by day too)
    answers."""
    make_cards(world, 5)
    client = getattr(clients, who)
    for value in deadline_lists():
        response = client.get(f"/admin/cards/card/?deadline={value}")
        assert response.status_code == 200, value


def test_the_expiring_and_street_collection_lists_hold_their_cards(world, clients):
    from cards.choices import CardStatus as S
    from cards.models import Card

    cards = make_cards(world, 5)
    issued = next(c for c in cards if c.status == S.ISSUED)
    today = timezone.localdate()
    next_month = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=15)
    # The list is the collecting point's work (OVERDUE_POINT_FIELD): here, the supervisor's.
    Card.objects.filter(pk=issued.pk).update(
        expires_on=next_month, collection_point=world.community
    )
    listed = clients.supervisor.get("/admin/cards/card/?deadline=expiring_next_month")
    assert [c.pk for c in listed.context["cl"].result_list] == [issued.pk]
    street = clients.supervisor.get("/admin/cards/card/?deadline=overdue_street_collection")
    assert street.context["cl"].result_count == 0


@pytest.mark.parametrize("day", ["9999-12-31", "2026-02-30", "x", "0001-01-01"])
def test_an_applied_on_day_the_list_cannot_take_is_named_with_its_rule(world, clients, day):
    make_cards(world, 3)
    response = clients.clerk.get(f"/admin/cards/card/?applied_on={day}")
    assert response.status_code == 200
    if day != "0001-01-01":  # a real day, with no application on it
        messages = [str(m) for m in response.context["messages"]]
        assert any("applied" in m and "YYYY-MM-DD" in m for m in messages), messages
    assert response.context["cl"].result_count == 0


def test_a_clerk_opens_an_employment_of_a_person_of_their_point(world, clients):
    employment = EmploymentFactory(start_date=datetime.date(2026, 1, 5), registered_on=None)
    PointPerson.objects.create(
        service_point=world.community,
        applicant=employment.applicant,
        reason=PointPersonReason.SEARCHED,
    )
    response = clients.clerk.get(f"/admin/applicants/employment/{employment.pk}/change/")
    assert response.status_code == 200
    assert employment.applicant.id_number not in response.content.decode()


@pytest.mark.parametrize("object_id", ["999999999", "abc", "１", "-1", "1.5"])
def test_an_employment_address_typed_by_hand_is_not_a_500(world, clients, object_id):
    response = clients.clerk.get(f"/admin/applicants/employment/{object_id}/change/")
    assert response.status_code in (302, 404)


def test_a_malformed_number_at_the_counter_is_refused_in_chinese(world):
    """The clerk's admin is Chinese by default: the search's rules are said in Chinese too."""
    from django.contrib.auth.models import Group
    from django.test import Client

    from agencies.roles import group_name
    from tests.conftest import staff_login

    user = world.clerk.user
    user.groups.add(Group.objects.get(name=group_name(world.clerk.role)))
    client = staff_login(Client(headers={"accept-language": "zh-hans"}), user)
    cases = {
        "110105194912310021": "该身份证号码的校验码（第18位）不符",
        "K7QM-3X9T-PW2R-A": "该回执号的校验码（最后一位）不符",
        "1234": "卡号或证件号码应为5至20位字母或数字",
        "11010519491231002": "身份证号码为18位",
    }
    for typed, rule in cases.items():
        response = client.post("/admin/cards/card/counter/", {"q": typed})
        assert response.status_code == 200
        assert rule in response.content.decode(), typed


def test_a_person_registered_at_the_counter_with_an_invisible_name_is_refused(world, clients):
    """A zero-width space passes a form's `required` (it is not white space): the person and the
    application were written with an empty-looking name."""
    from applicants.identity import compose_resident_id
    from applicants.models import Applicant
    from cards.models import Card

    number = compose_resident_id("310104", datetime.date(1990, 2, 28), 123)
    assert clients.clerk.post("/admin/cards/card/counter/", {"q": number}).status_code == 200
    data = {
        "id_type": "resident_id",
        "id_number": number,
        "name": "\u200b",
        "shanghai_hukou": "on",
        "hukou_place": "上海市徐汇区",
        "nationality": "CHN",
        "insurances": ["pension", "medical"],
        "card_type": "social_security",
        "collection_point": world.outlet.pk,
        "photo_receipt_number": "PS-0001",
    }
    cards = Card.objects.count()
    refused = clients.clerk.post("/admin/cards/card/counter/new-person/", data)
    assert refused.status_code == 200
    assert "A name holds only visible characters" in refused.content.decode()
    assert not Applicant.objects.filter(id_number=number).exists()
    assert Card.objects.count() == cards


def test_a_refused_act_says_why_in_the_clerks_language(world, clients, card_in):
    """A transition the clerk may not do (a stale link, another role's act) answers 403 with the
    reason, not a bare "403 Forbidden"; an unknown card a 404 page in the desk's language."""
    from cards.choices import CardStatus as S

    card = card_in(S.APPLIED)
    refused = clients.hotline.get(f"/admin/cards/card/{card.pk}/do/verify/")
    assert refused.status_code in (403, 404)
    refused = clients.clerk.get(f"/admin/cards/card/{card.pk}/do/hand_over/")
    assert refused.status_code == 403
    assert "You may not do this here, or not to this card." in refused.content.decode()
    missing = clients.clerk.get("/admin/cards/card/999999999/do/verify/")
    assert missing.status_code == 404
    assert "There is no such page or record here." in missing.content.decode()


@pytest.mark.parametrize(
    "data, field_rule",
    [
        ({"employer_uscc": "x", "employer_name": "某公司"}, "18 characters"),
        ({"employer_uscc": "x"}, "18 characters"),
        ({"start_date": "9999-12-31"}, "start of employment"),
        ({"start_date": "0001-01-01"}, "before the person was born"),
    ],
)
def test_the_counters_employment_form_names_the_rule_and_writes_nothing(
    world, clients, data, field_rule
):
    from applicants.models import Employment
    from tests.factories import EmployerFactory

    person = eligible_person(shanghai_hukou=False, hukou_place="江苏省南京市")
    employer = EmployerFactory()
    clients.clerk.post("/admin/cards/card/counter/", {"q": person.id_number})
    form = {
        "employer_uscc": employer.uscc,
        "start_date": "2026-01-05",
        "insurances": ["medical"],
        **data,
    }
    response = clients.clerk.post("/admin/cards/card/counter/employment/", form)
    assert response.status_code == 200
    assert field_rule in response.content.decode()
    assert not Employment.objects.filter(applicant=person).exists()


def _calendar_form(year: str, days: list[tuple[str, str]]) -> dict:
    data = {
        "year": year,
        "source": "manual",
        "note": "",
        "days-TOTAL_FORMS": str(len(days)),
        "days-INITIAL_FORMS": "0",
        "days-MIN_NUM_FORMS": "0",
        "days-MAX_NUM_FORMS": "1000",
    }
    for i, (day, name) in enumerate(days):
        data[f"days-{i}-date"] = day
        data[f"days-{i}-name"] = name
    return data


@pytest.mark.parametrize(
    "year, days, rule",
    [
        ("2031", [("2032-01-01", "元旦")], "A day of the year 2031"),
        ("2035", [("9999-12-31", "x")], "A day of the year 2035"),
        ("0", [], "between 1949 and 9998"),
        ("1", [], "between 1949 and 9998"),
    ],
)
def test_the_holiday_calendar_refuses_a_day_outside_its_year_naming_it(db, year, days, rule):
    """Found from outside: a day typed in another year was a 500 (the database's check), and a
    year 0 was taken."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from common.models import CalendarDay, CalendarYear
    from tests.conftest import staff_login

    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)
    client = staff_login(Client(headers={"accept-language": "en"}), admin_user)
    response = client.post("/admin/common/calendaryear/add/", _calendar_form(year, days))
    assert response.status_code == 200
    assert rule in response.content.decode()
    assert not CalendarYear.objects.filter(year=int(year)).exists()
    assert not CalendarDay.objects.filter(date__in=[d for d, _n in days]).exists()


def test_the_registration_form_registers_only_the_number_searched(world, clients):
    """The number is shown read-only; found from outside: another number posted was registered,
    and the visit then counted its document as presented at the search."""
    from applicants.identity import compose_resident_id
    from applicants.models import Applicant

    searched = compose_resident_id("310104", datetime.date(1970, 1, 1), 555)
    other = compose_resident_id("310104", datetime.date(1970, 1, 1), 666)
    clients.clerk.post("/admin/cards/card/counter/", {"q": searched})
    data = {
        "id_type": "resident_id",
        "name": "李四",
        "shanghai_hukou": "on",
        "hukou_place": "上海市徐汇区",
        "nationality": "CHN",
        "card_type": "",
    }
    swapped = clients.clerk.post(
        "/admin/cards/card/counter/new-person/", {**data, "id_number": other}
    )
    assert swapped.status_code == 200
    assert "Register the number searched at the counter" in swapped.content.decode()
    assert not Applicant.objects.filter(id_number=other).exists()
    done = clients.clerk.post(
        "/admin/cards/card/counter/new-person/", {**data, "id_number": searched.lower()}
    )
    assert done.status_code == 302
    assert Applicant.objects.filter(id_number=searched).exists()
