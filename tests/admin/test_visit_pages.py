"""The visit screen and its one-visit flows at the page (the browser walk is test_visits.py): the
due action first, the ID searched counted as presented, registration offered only for a valid
document number, the county's issue on the spot in one confirmation, print links, the status
page's address in every QR code, the supervisor's overdue links."""

from __future__ import annotations

import datetime
import html

import pytest
import time_machine
from django.core import checks
from django.test import override_settings

from applicants.models import Applicant
from cards.choices import CardStatus, CardType, IdSource, RejectionReason, TransitionName
from cards.models import Card, CardTransition
from cards.public.checks import status_page_base_url
from tests.admin.conftest import submit_at_other_point
from tests.cards.conftest import card_number, eligible_person, submit
from tests.factories import resident_id
from tests.status.conftest import lookup

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db
COUNTER = "/admin/cards/card/counter/"
VISIT = "/admin/cards/card/counter/visit/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def logged(card: Card, name: str) -> CardTransition:
    return card.transitions.filter(name=name).latest("id")


def test_a_supervisors_overdue_link_lands_on_the_list_it_names(world, clients):
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)):
        late = submit(world, eligible_person())
    submit(world, eligible_person())  # fresh: not on the list
    board = clients.supervisor.get("/admin/")
    overdue = {row["label"]: row for row in board.context["board"]["overdue"]}
    row = overdue["Applications waiting too long for verification"]
    assert [card.pk for card in row["rows"]] == [late.pk]
    listing = clients.supervisor.get(row["url"])
    assert [card.pk for card in listing.context["cl"].result_list] == [late.pk]
    assert "Showing: <strong>Applications waiting too long for verification</strong>" in text(
        listing
    )
    # A clerk following the supervisor's link gets the same list, not every card.
    by_clerk = clients.clerk.get(row["url"])
    assert [card.pk for card in by_clerk.context["cl"].result_list] == [late.pk]


def test_hand_over_at_the_outlet_is_due_first_and_the_id_searched_is_not_asked_again(
    world, clients, card_in, person
):
    card = card_in(S.READY_FOR_COLLECTION)
    found = clients.outlet_clerk.post(COUNTER, {"q": person.id_number})
    visit = found.context["visit"]
    assert visit.first.key == T.HAND_OVER and visit.first.card == card
    assert "Take an application" not in text(found)  # the person has a live card
    form = clients.outlet_clerk.get(visit.first.url)
    assert "id_number" not in form.context["form"].fields
    assert "receipt_number" in form.context["form"].fields
    done = clients.outlet_clerk.post(
        visit.first.url, {"receipt_number": card.receipt_number_display}, follow=True
    )
    assert done.redirect_chain[-1][0] == VISIT
    card.refresh_from_db()
    assert card.status == S.ISSUED
    identity = logged(card, T.HAND_OVER).data["identity"]
    assert identity["id_source"] == IdSource.PRESENTED_AT_SEARCH
    assert identity["receipt_presented"] is True
    history = text(clients.clerk.get(f"/admin/cards/card/{card.pk}/change/"))
    assert "its number as searched at this visit" in history


def test_a_receipt_search_opens_the_same_screen_and_then_the_id_is_asked(
    world, clients, card_in, person
):
    card = card_in(S.READY_FOR_COLLECTION)
    found = clients.outlet_clerk.post(COUNTER, {"q": card.receipt_number})
    visit = found.context["visit"]
    assert visit.person == person and visit.first.key == T.HAND_OVER
    form = clients.outlet_clerk.get(visit.first.url).context["form"]
    assert "id_number" in form.fields and "receipt_number" not in form.fields
    wrong = clients.outlet_clerk.post(visit.first.url, {"id_number": resident_id(999)})
    assert "not the card holder" in text(wrong)
    clients.outlet_clerk.post(visit.first.url, {"id_number": person.id_number})
    card.refresh_from_db()
    assert card.status == S.ISSUED
    assert "id_source" not in logged(card, T.HAND_OVER).data["identity"]  # typed at the act


@pytest.mark.parametrize(
    ("typed", "rule"),
    [
        ("31010419800101001", "An ID number has 18 characters"),
        ("110105194912310021", "The check character (the 18th) of this ID number does not match"),
    ],
)
def test_a_malformed_number_is_refused_and_offers_no_registration(world, clients, typed, rule):
    found = clients.clerk.post(COUNTER, {"q": typed})
    assert rule in text(found)
    assert found.context["new_person_form"] is None


def test_another_points_receipt_number_is_not_offered_as_a_resident_id(world, clients):
    card = submit_at_other_point(world, eligible_person())
    found = clients.clerk.post(COUNTER, {"q": card.receipt_number})
    assert found.context["found"].key.kind == "receipt"
    assert found.context["new_person_form"] is None
    assert found.context["visit"] is None


def test_a_valid_check_character_of_an_impossible_birth_date_is_not_registered(world, clients):
    number = resident_id(7, born=datetime.date(2090, 1, 1))  # GB 11643 check right
    found = clients.clerk.post(COUNTER, {"q": number})
    assert found.context["new_person_form"] is None
    assert found.context["registration_refusals"]
    assert "not a valid document number" in text(found)


def test_register_enrol_and_apply_in_one_form_then_print(world, clients):
    number = resident_id(4242)
    found = clients.clerk.post(COUNTER, {"q": number})
    form = found.context["new_person_form"]
    assert [value for value, _label in form.fields["id_type"].choices] == ["resident_id"]
    page = text(found)
    assert 'type="date"' in page and "readonly" in page
    data = {
        "id_type": "resident_id",
        "id_number": number,
        "name": "李四",
        "shanghai_hukou": "on",
        "hukou_place": "上海市徐汇区",
        "nationality": "CHN",
        "insurances": ["pension", "medical"],
        "card_type": CardType.SOCIAL_SECURITY,
        "collection_point": world.outlet.pk,
    }
    refused = clients.clerk.post("/admin/cards/card/counter/new-person/", data)
    assert "photo receipt" in text(refused)  # the rule, on the form
    assert not Applicant.objects.filter(id_number=number).exists()  # all or nothing
    done = clients.clerk.post(
        "/admin/cards/card/counter/new-person/",
        {**data, "photo_receipt_number": "PS-0001"},
        follow=True,
    )
    assert done.redirect_chain[-1][0] == VISIT
    person = Applicant.objects.get(id_number=number)
    assert sorted(person.enrolments.values_list("insurance", flat=True)) == ["medical", "pension"]
    card = Card.objects.get(applicant=person)
    assert card.status == S.APPLIED and card.photo_receipt_number == "PS-0001"
    page = text(done)
    assert (
        f"/admin/cards/card/{card.pk}/receipt/" in page and "Print the application receipt" in page
    )
    assert done.context["visit"].first.key == T.VERIFY  # next: verify, from the same screen


def test_a_non_local_refused_a_social_security_card_is_told_where_to_go(world, clients):
    person = eligible_person(shanghai_hukou=False, hukou_place="江苏省南京市")
    page = text(clients.clerk.post(COUNTER, {"q": person.id_number}))
    assert "is issued a medical insurance card, not a social security card" in page
    assert "Apply for a medical insurance card instead, at a medical insurance point" in page
    assert "Record an employment" in page
    assert "Take an application" not in page


def test_the_county_center_applies_verifies_and_issues_in_one_confirmation(world, clients):
    person = eligible_person()
    found = clients.county_clerk.post(COUNTER, {"q": person.id_number})
    first = found.context["visit"].first
    assert first.key == "apply_issue"
    form = clients.county_clerk.get(first.url)
    page = text(form)
    assert "account opening" not in page  # no bank forms at a medical center
    assert form.context["comparison"]["found"]
    bad = clients.county_clerk.post(first.url, {"card_number": "x!"})
    assert bad.context["form"].errors and not Card.objects.filter(applicant=person).exists()
    number = card_number()
    done = clients.county_clerk.post(first.url, {"card_number": number}, follow=True)
    assert done.redirect_chain[-1][0] == VISIT
    card = Card.objects.get(applicant=person)
    assert card.status == S.ISSUED and card.card_number == number
    names = list(card.transitions.order_by("id").values_list("name", flat=True))
    assert names == [T.SUBMIT, T.VERIFY, T.ISSUE_ON_THE_SPOT]


def test_the_checklist_follows_the_point(world, clients):
    person = eligible_person()
    clients.outlet_clerk.post(COUNTER, {"q": person.id_number})
    at_outlet = text(clients.outlet_clerk.get("/admin/cards/card/counter/apply/"))
    assert "account opening and e-banking forms" in at_outlet
    clients.street_medical_clerk.post(COUNTER, {"q": person.id_number})
    at_medical = text(clients.street_medical_clerk.get("/admin/cards/card/counter/apply/"))
    assert "account opening" not in at_medical and "photo receipt" not in at_medical


def test_written_report_with_replacement_prints_the_certificate_and_the_new_receipt(
    world, clients, card_in, person
):
    card = card_in(S.ISSUED)
    found = clients.clerk.post(COUNTER, {"q": person.id_number})
    action = next(a for a in found.context["visit"].actions if a.key == T.REPORT_LOST_IN_WRITING)
    form = clients.clerk.get(action.url).context["form"]
    assert "id_number" not in form.fields
    done = clients.clerk.post(action.url, {"request_replacement": "on"}, follow=True)
    new = Card.objects.get(replaces=card)
    assert logged(card, T.REPORT_LOST_IN_WRITING).data["identity"]["id_source"] == (
        "presented_at_search"
    )
    page = text(done)
    certificate = f"/admin/cards/card/{card.pk}/certificate/"
    assert certificate in page and "Print the certificate and the new receipt" in page
    printed = text(clients.clerk.get(certificate))
    card.refresh_from_db()
    assert card.loss_certificate_number in printed
    assert new.receipt_number_display in printed and 'class="sheet new-receipt"' in printed
    assert "https://status.shebao.example/status/?receipt_number=" + new.receipt_number in printed


def test_a_replacement_gives_its_print_link(world, clients, card_in, person):
    card = card_in(S.WRITTEN_LOST)
    clients.clerk.post(COUNTER, {"q": person.id_number})
    done = clients.clerk.post(
        f"/admin/cards/card/{card.pk}/do/replace/?next=visit", {"reason": "lost"}, follow=True
    )
    new = Card.objects.get(replaces=card)
    assert f"/admin/cards/card/{new.pk}/receipt/" in text(done)


def test_the_receipt_qr_code_uses_the_status_page_address_never_the_request_host(
    world, clients, card_in
):
    card = card_in(S.APPLIED)
    page = text(clients.clerk.get(f"/admin/cards/card/{card.pk}/receipt/", HTTP_HOST="localhost"))
    assert f"https://status.shebao.example/status/?receipt_number={card.receipt_number}" in page
    assert "http://localhost" not in page and "testserver" not in page


def test_production_refuses_to_start_without_the_status_page_address():
    with override_settings(DEBUG=False, STATUS_PAGE_BASE_URL=""):
        assert [e.id for e in status_page_base_url(None)] == ["cards.E001"]
        errors = checks.run_checks()
        assert any(e.id == "cards.E001" and e.is_serious() for e in errors)
    with override_settings(DEBUG=False, STATUS_PAGE_BASE_URL="status.example"):
        assert [e.id for e in status_page_base_url(None)] == ["cards.E002"]
    with override_settings(DEBUG=True, STATUS_PAGE_BASE_URL=""):
        assert status_page_base_url(None) == []


def test_a_rejection_reason_from_the_list_is_on_the_status_page_in_both_languages(
    world, clients, card_in, person, client
):
    card = card_in(S.APPLIED)
    form = clients.clerk.get(f"/admin/cards/card/{card.pk}/do/reject/")
    assert form.context["form"].fields["reason_code"].choices == RejectionReason.choices
    clients.clerk.post(
        f"/admin/cards/card/{card.pk}/do/reject/",
        {"reason_code": RejectionReason.PHOTO_RECEIPT_MISSING, "reason": "rude note"},
    )
    card.refresh_from_db()
    assert card.status == S.REJECTED
    en = text(lookup(client, person.id_number, card.receipt_number, language="en"))
    zh = text(lookup(client, person.id_number, card.receipt_number))
    reason_en = "The photo receipt from an approved photo studio was missing or not valid."
    reason_zh = str(_zh(RejectionReason.PHOTO_RECEIPT_MISSING.label))
    assert reason_zh != reason_en
    for page in (en, zh):
        assert reason_en in page and reason_zh in page  # both languages on either page
        assert "rude note" not in page  # the clerk's own note is never shown
    assert "What to bring" in en and "two bareheaded one-inch photos" in en


def _zh(label) -> str:
    from django.utils import translation

    with translation.override("zh-hans"):
        return str(label)


def test_a_phone_report_by_the_hotline_asks_the_caller_for_no_id_again(
    world, clients, card_in, person
):
    card = card_in(S.ISSUED)
    found = clients.hotline.post(COUNTER, {"q": person.id_number})
    assert found.context["visit"].first.key == T.REPORT_LOST_BY_PHONE
    url = found.context["visit"].first.url
    assert "caller_id_number" not in clients.hotline.get(url).context["form"].fields
    done = clients.hotline.post(
        url,
        {"caller_name": person.name, "contact_phone": "13900139000", "home_address": "上海"},
        follow=True,
    )
    assert done.redirect_chain[-1][0] == COUNTER
    card.refresh_from_db()
    assert card.status == S.PHONE_REPORTED_LOST
    data = logged(card, T.REPORT_LOST_BY_PHONE).data
    assert data["caller_id_source"] == "presented_at_search" and "identity" not in data


def test_a_written_report_of_a_phone_reported_card_is_due_first(world, clients, card_in, person):
    card = card_in(S.ISSUED)
    clients.hotline.post(COUNTER, {"q": person.id_number})
    from cards import services

    services.card_report_lost_by_phone(
        card=card,
        actor=world.hotline_operator,
        caller_name=person.name,
        caller_id_number=person.id_number,
        contact_phone="13900139000",
        home_address="上海",
    )
    visit = clients.clerk.post(COUNTER, {"q": person.id_number}).context["visit"]
    assert visit.first.key == T.REPORT_LOST_IN_WRITING


def test_a_non_local_made_eligible_by_recording_the_employment_at_the_desk(world, clients):
    from applicants.models import Employment
    from tests.factories import ApplicantFactory, EmployerFactory

    person = ApplicantFactory(shanghai_hukou=False, hukou_place="江苏省南京市")
    employer = EmployerFactory()
    client = clients.street_medical_clerk
    visit = client.post(COUNTER, {"q": person.id_number}).context["visit"]
    assert not [a for a in visit.actions if a.key == "apply"]
    (refusal,) = visit.refusals
    url = dict((label, href) for label, href in refusal.links)["Record an employment"]
    assert url == "/admin/cards/card/counter/employment/"
    unknown = client.post(url, {"employer_uscc": "91310000MA1FL0000X", "start_date": "2026-01-05"})
    assert unknown.context["form"].errors and not Employment.objects.exists()
    done = client.post(
        url,
        {
            "employer_uscc": employer.uscc,
            "start_date": "2026-01-05",
            "insurances": ["medical", "pension"],
        },
        follow=True,
    )
    assert done.redirect_chain[-1][0] == VISIT
    assert Employment.objects.get(applicant=person).employer == employer
    first = done.context["visit"].first
    assert first.key == "apply" and first.url.endswith("card_type=medical_insurance")
