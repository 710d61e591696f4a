"""The counter's work through the admin: each form calls its service, and the clerk sees the
outcome or the service's refusal (never a 500)."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.utils import timezone

from applicants.models import Applicant, RegistryRecord
from cards.choices import CardStatus, CardType
from cards.models import Card
from privacy.models import PersonalDataAccess
from tests.cards.conftest import T0, eligible_person, report_by_phone
from tests.conftest import staff_login

S = CardStatus
pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_take_an_application_for_a_found_person_with_the_eligibility_shown_first(
    world, clients, person
):
    found = clients.clerk.post("/admin/cards/card/counter/", {"q": person.id_number})
    page = text(found)
    assert person.name_masked in page
    assert "Take an application for a Social security card" in page  # the action due now
    form = clients.clerk.get("/admin/cards/card/counter/apply/")
    assert "may apply" in text(form)  # the answer is on the page before submitting
    # The photo receipt is required for a social security card, the rule named on the field.
    refused = clients.clerk.post(
        "/admin/cards/card/counter/apply/",
        {"card_type": CardType.SOCIAL_SECURITY, "collection_point": world.outlet.pk},
    )
    assert refused.context["form"].errors["photo_receipt_number"] == [
        "A social security card is made with the photo of an approved photo studio: enter the "
        "photo receipt's number (two bareheaded one-inch photos)."
    ]
    assert not Card.objects.filter(applicant=person).exists()
    done = clients.clerk.post(
        "/admin/cards/card/counter/apply/",
        {
            "card_type": CardType.SOCIAL_SECURITY,
            "collection_point": world.outlet.pk,
            "photo_receipt_number": "PS-2026-0001",
        },
        follow=True,
    )
    card = Card.objects.get(applicant=person)
    assert card.status == S.APPLIED
    assert card.service_point == world.community and card.bank == world.bank
    page = text(done)
    assert f"Application taken: receipt number {card.receipt_number_display}" in page
    assert f"/admin/cards/card/{card.pk}/receipt/" in page


def test_an_ineligible_person_sees_every_reason_and_no_card_is_made(world, clients):
    person = eligible_person(shanghai_hukou=False, hukou_place="江苏省南京市")
    clients.clerk.post("/admin/cards/card/counter/", {"q": person.id_number})
    form = text(clients.clerk.get("/admin/cards/card/counter/apply/"))
    assert "may not apply" in form
    assert "is issued a medical insurance card, not a social security card" in form
    refused = clients.clerk.post(
        "/admin/cards/card/counter/apply/",
        {"card_type": CardType.SOCIAL_SECURITY, "collection_point": world.outlet.pk},
    )
    assert refused.status_code == 200
    assert "not a social security card" in text(refused)
    assert not Card.objects.filter(applicant=person).exists()


def test_a_new_person_is_registered_at_the_counter(world, clients):
    number = "11010519491231002X"
    found = clients.clerk.post("/admin/cards/card/counter/", {"q": number})
    assert found.context["new_person_form"] is not None
    done = clients.clerk.post(
        "/admin/cards/card/counter/new-person/",
        {
            "name": "李四",
            "id_type": "resident_id",
            "id_number": number.lower(),
            "nationality": "CHN",
            "shanghai_hukou": "on",
            "hukou_place": "上海市徐汇区",
        },
        follow=True,
    )
    applicant = Applicant.objects.get(id_number=number)
    assert applicant.birth_date == datetime.date(1949, 12, 31)
    assert "enrol them first" in text(done)  # the eligibility answer, before any submission
    bad = clients.clerk.post(
        "/admin/cards/card/counter/new-person/",
        {"name": "王五", "id_type": "resident_id", "id_number": "110105194912310021"},
    )
    assert "The check character (the 18th) of this ID number does not match" in text(bad)
    assert not Applicant.objects.filter(name="王五").exists()


def test_verify_shows_the_registry_side_by_side_and_records_the_result(
    world, clients, card_in, person
):
    card = card_in(S.APPLIED)
    url = f"/admin/cards/card/{card.pk}/do/verify/"
    page = text(clients.clerk.get(url))
    assert "side by side" in page and "matches the registry" in page
    done = clients.clerk.post(url, follow=True)
    card.refresh_from_db()
    assert card.status == S.VERIFIED
    assert "The card is now: Verified" in text(done)


def test_a_differing_registry_record_rejects_with_the_fields(world, clients, card_in, person):
    card = card_in(S.APPLIED)
    RegistryRecord.objects.filter(id_number=person.id_number).update(hukou_place="上海市静安区")
    url = f"/admin/cards/card/{card.pk}/do/verify/"
    page = text(clients.clerk.get(url))
    assert 'class="differs"' in page and "上海市静安区" in page and "上海市徐汇区" in page
    done = clients.clerk.post(url, follow=True)
    card.refresh_from_db()
    assert card.status == S.REJECTED
    page = text(done)
    assert "differs from the municipal registry" in page
    assert "fields differ: hukou_place" in page


def test_ready_and_hand_over_at_a_street_medical_point(world, clients):
    holder = eligible_person()
    clients.street_medical_clerk.post("/admin/cards/card/counter/", {"q": holder.id_number})
    clients.street_medical_clerk.post(
        "/admin/cards/card/counter/apply/", {"card_type": CardType.MEDICAL_INSURANCE}
    )
    card = Card.objects.get(applicant=holder)
    client = clients.street_medical_clerk
    client.post(f"/admin/cards/card/{card.pk}/do/verify/")
    card.refresh_from_db()
    assert card.status == S.VERIFIED and card.ready_promised_by is not None

    bad = client.post(f"/admin/cards/card/{card.pk}/do/mark_ready/", {"card_number": "x!"})
    assert "6 to 20 letters and digits" in text(bad)
    client.post(f"/admin/cards/card/{card.pk}/do/mark_ready/", {"card_number": "mi1234567"})
    card.refresh_from_db()
    assert card.status == S.READY_FOR_COLLECTION and card.card_number == "MI1234567"

    url = f"/admin/cards/card/{card.pk}/do/hand_over/"
    page = text(client.get(url))
    assert "The application receipt" in page  # what to check at the counter
    wrong = client.post(url, {"id_number": holder.id_number, "receipt_number": "K7QM-3X9T-PW2R-H"})
    assert "The receipt number is not this card" in text(wrong)
    card.refresh_from_db()
    assert card.status == S.READY_FOR_COLLECTION
    client.post(url, {"id_number": holder.id_number, "receipt_number": card.receipt_number_display})
    card.refresh_from_db()
    assert card.status == S.ISSUED


def test_a_written_report_with_a_replacement_in_one_step_and_its_certificate(
    world, clients, card_in, person
):
    card = report_by_phone(world, card_in(S.ISSUED))
    page = text(clients.clerk.get(f"/admin/cards/card/{card.pk}/change/"))
    assert "lapses at" in page and " left" in page  # the countdown of the live phone report
    url = f"/admin/cards/card/{card.pk}/do/report_lost_in_writing/"
    done = clients.clerk.post(
        url, {"id_number": person.id_number, "request_replacement": "on"}, follow=True
    )
    card.refresh_from_db()
    assert card.status == S.REPLACED
    new = Card.objects.get(replaces=card)
    assert done.redirect_chain[-1][0] == f"/admin/cards/card/{new.pk}/change/"
    page = text(done)
    assert card.loss_certificate_number in page
    assert new.receipt_number_display in page
    certificate = text(clients.clerk.get(f"/admin/cards/card/{card.pk}/certificate/"))
    assert card.loss_certificate_number in certificate
    assert "A replacement was applied for at the same time" in certificate
    assert new.receipt_number_display in certificate
    assert "@page" not in certificate and "print.css" in certificate


def test_the_certificate_names_the_automatic_cancellation_day(world, clients, card_in, person):
    with time_machine.travel(T0, tick=False):
        card = card_in(S.ISSUED)
        clients.clerk.post(
            f"/admin/cards/card/{card.pk}/do/report_lost_in_writing/",
            {"id_number": person.id_number},
        )
        certificate = text(clients.clerk.get(f"/admin/cards/card/{card.pk}/certificate/"))
    card.refresh_from_db()
    assert card.status == S.WRITTEN_LOST
    expires = timezone.localtime(card.written_report_expires_at)
    assert expires.date() == datetime.date(2026, 4, 1)  # 30 days, Shanghai time
    assert f"cancelled automatically after {expires:%Y-%m-%d %H:%M}" in certificate
    assert card.loss_certificate_number in certificate


def test_a_refusal_is_shown_not_a_500(world, clients, card_in, person):
    card = card_in(S.ISSUED)
    url = f"/admin/cards/card/{card.pk}/do/report_lost_in_writing/"
    response = clients.clerk.post(url, {"id_number": "110105194912310021"})
    assert response.status_code == 200
    assert "not the card holder" in text(response)
    card.refresh_from_db()
    assert card.status == S.ISSUED


def test_a_lapsed_phone_report_shows_as_issued_and_offers_the_written_report(
    world, clients, card_in
):
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card_in(S.ISSUED))
    with time_machine.travel(T0 + datetime.timedelta(hours=25), tick=False):
        page = text(clients.clerk.get(f"/admin/cards/card/{card.pk}/change/"))
        assert "lapsed at" in page
        assert "/do/report_lost_in_writing/" in page
        assert "/do/withdraw_loss_report/" not in page  # nothing live to withdraw


def test_reveal_is_logged_and_shows_the_number_once(world, clients, card_in, person):
    card = card_in(S.ISSUED)
    url = f"/admin/cards/card/{card.pk}/change/"
    assert person.id_number not in text(clients.clerk.get(url))
    shown = clients.clerk.post(f"/admin/cards/card/{card.pk}/reveal/", follow=True)
    assert person.id_number in text(shown)
    (reveal,) = PersonalDataAccess.objects.all()  # the one read log
    assert (reveal.user_id, reveal.applicant_id, reveal.card_id) == (
        world.clerk.user.pk,
        person.pk,
        card.pk,
    )
    assert (reveal.purpose, reveal.field) == ("reveal", "id_number")
    assert reveal.service_point_id == world.community.pk
    assert person.id_number not in text(clients.clerk.get(url))  # masked again
    applicant_page = f"/admin/applicants/applicant/{person.pk}/change/"
    assert person.id_number not in text(clients.clerk.get(applicant_page))
    again = clients.clerk.post(f"/admin/applicants/applicant/{person.pk}/reveal/", follow=True)
    assert person.id_number in text(again)
    assert PersonalDataAccess.objects.filter(purpose="reveal").count() == 2


def test_the_receipt_prints_the_number_what_to_bring_and_a_qr_code(world, clients, card_in):
    card = card_in(S.APPLIED)
    receipt = text(clients.clerk.get(f"/admin/cards/card/{card.pk}/receipt/"))
    assert card.receipt_number_display in receipt
    assert "<svg" in receipt and 'class="segno"' in receipt
    assert f"/status/?receipt_number={card.receipt_number}" in receipt
    assert "original identity document and this receipt" in receipt
    assert world.outlet.name in receipt
    assert card.applicant.id_number not in receipt


def test_the_admin_speaks_chinese_by_default_and_english_on_request(world, clients, card_in):
    from django.test import Client

    client = staff_login(Client(), world.clerk.user)
    page = text(client.get("/admin/"))
    assert 'lang="zh-hans"' in page and "柜台" in page
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"}, follow=True)
    assert "Counter: find a person or a card" in text(response)
