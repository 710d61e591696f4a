"""POST /applications: the person found (or recorded), the card submitted, refusals named."""

import datetime

import pytest

from applicants.choices import IdDocumentType
from applicants.models import Applicant, Employment
from cards.choices import CardStatus, Channel, TransitionName
from cards.models import Card
from tests.api.conftest import application_body, error_of
from tests.cards.conftest import eligible_person, submit
from tests.factories import ApplicantFactory, EmploymentFactory, resident_id, uscc_for

S = CardStatus


def test_an_application_for_an_insured_person_answers_the_card_and_its_receipt(api, world):
    person = eligible_person()
    response = api.post("/applications", application_body(world, person))
    assert response.status_code == 201, response.content
    body = response.json()
    card = Card.objects.get(public_id=body["id"])
    assert body["receipt_number"] == card.receipt_number_display
    assert body["status"] == S.APPLIED
    assert (card.applicant, card.bank, card.service_point) == (person, world.bank, world.outlet)
    assert card.collection_point == world.outlet and card.channel == Channel.BANK_OUTLET
    assert card.photo_receipt_number == "PR-2026-0001"
    row = card.transitions.get()
    assert (row.name, row.actor_kind, row.bank, row.service_point) == (
        TransitionName.SUBMIT,
        "bank",
        world.bank,
        world.outlet,
    )


def online_checks(*kinds: str) -> list[dict]:
    from django.utils import timezone

    return [
        {
            "check": kind,
            "provider": "Tencent FaceID",
            "reference": f"REF-{kind}",
            "verified_at": (timezone.now() - datetime.timedelta(minutes=3)).isoformat(),
            "result": "passed",
        }
        for kind in kinds
    ]


def test_online_channels_need_the_evidence_of_both_checks(api, world):
    person = eligible_person()
    body = application_body(
        world, person, channel="wechat", online_checks=online_checks("real_person")
    )
    refused = api.post("/applications", body)
    assert refused.status_code == 422
    error = error_of(refused)
    assert error["code"] == "online_verification_required"
    assert set(error["details"]) == {"real_name"}
    body["online_checks"] = online_checks("real_person", "real_name")
    done = api.post("/applications", body)
    assert done.status_code == 201, done.content
    shown = {c["check"]: c for c in done.json()["online_checks"]}
    assert shown["real_name"]["reference"] == "REF-real_name"
    assert done.json()["real_name_verified"] and done.json()["liveness_verified"]


def test_an_agent_is_recorded_and_masked(api, world):
    person = eligible_person()
    agent_id = resident_id(901)
    body = application_body(
        world,
        person,
        agent_name="李四",
        agent_id_type=IdDocumentType.RESIDENT_ID,
        agent_id_number=agent_id,
    )
    response = api.post("/applications", body)
    assert response.status_code == 201, response.content
    assert response.json()["agent_name"] == "李四"
    assert response.json()["agent_id_number"] != agent_id
    assert Card.objects.get(public_id=response.json()["id"]).agent_id_number == agent_id
    half = application_body(world, eligible_person(), agent_name="李四")
    refused = api.post("/applications", half)
    assert refused.status_code == 422
    assert set(error_of(refused)["details"]) == {"agent_id_type", "agent_id_number"}


APPLY_AT_COUNTER = {
    "code": "apply_at_counter",
    # The API's default language (no Accept-Language): Chinese.
    "message": "此申请无法在此受理。请申请人携带身份证件到服务网点柜台办理，柜台将说明原因。",
    "details": {},
}


def test_an_unknown_person_is_refused_by_the_policy_and_not_recorded(api, world):
    stranger = ApplicantFactory.build(id_number=resident_id(777))
    response = api.post("/applications", application_body(world, stranger))
    assert response.status_code == 422
    assert error_of(response) == APPLY_AT_COUNTER  # not told "not insured"
    assert not Applicant.objects.filter(id_number=stranger.id_number).exists()


def test_a_stranger_and_a_wrong_guess_about_a_person_on_record_answer_the_same(api, world):
    """Not insured, on record with another name or hukou place, or a live card at another bank:
    for someone who is not the bank's customer, one answer, with no field compared."""
    person = eligible_person()
    guessed = application_body(world, person)
    guessed["applicant"]["name"] = "王五"
    guessed["applicant"]["hukou_place"] = "上海市浦东新区"
    wrong_name = application_body(world, person)
    wrong_name["applicant"]["name"] = "王五"
    stranger = application_body(world, ApplicantFactory.build(id_number=resident_id(778)))
    answers = [api.post("/applications", body) for body in (guessed, wrong_name, stranger)]
    assert [a.status_code for a in answers] == [422, 422, 422]
    assert all(error_of(a) == APPLY_AT_COUNTER for a in answers)
    assert person.name not in answers[0].content.decode()
    assert Applicant.objects.get(pk=person.pk).name == person.name


def test_the_banks_own_customer_is_told_which_fields_differ(api, world):
    person = eligible_person()
    assert api.post("/applications", application_body(world, person)).status_code == 201
    body = application_body(world, person)
    body["applicant"]["name"] = "王五"
    body["applicant"]["hukou_place"] = "上海市浦东新区"
    response = api.post("/applications", body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "applicant_differs"
    assert set(error["details"]["applicant"]) == {"name", "hukou_place"}
    assert person.name not in response.content.decode()  # the record's values are not told


def test_a_new_phone_on_the_form_updates_the_person(api, world):
    person = eligible_person()
    body = application_body(world, person)
    body["applicant"]["phone"] = "13911112222"
    assert api.post("/applications", body).status_code == 201
    assert Applicant.objects.get(pk=person.pk).phone == "13911112222"


def test_an_employer_on_the_form_records_the_employment(api, world):
    person = eligible_person()
    body = application_body(
        world,
        person,
        employer={"uscc": uscc_for(4242), "name": "上海某某有限公司", "start_date": "2026-01-05"},
    )
    response = api.post("/applications", body)
    assert response.status_code == 201, response.content
    employment = Employment.objects.get(applicant=person)
    assert employment.employer.uscc == uscc_for(4242)
    assert employment.start_date == datetime.date(2026, 1, 5)
    assert employment.registration_deadline == datetime.date(2026, 2, 4)
    assert not person.enrolments.filter(route="employer").exists()  # never inferred


def test_an_employer_already_on_record_adds_nothing(api, world):
    person = eligible_person()
    employment = EmploymentFactory(applicant=person)
    body = application_body(world, person, employer={"uscc": employment.employer.uscc})
    assert api.post("/applications", body).status_code == 201
    assert list(Employment.objects.filter(applicant=person)) == [employment]


@pytest.mark.parametrize(
    ("employer", "field"),
    [
        ({"uscc": "91310000000000000X"}, "uscc"),
        ({"uscc": uscc_for(5151)}, "name"),
        ({"uscc": uscc_for(5152), "name": "A Co."}, "start_date"),
    ],
)
def test_employer_refusals_name_the_field(api, world, employer, field):
    response = api.post(
        "/applications", application_body(world, eligible_person(), employer=employer)
    )
    assert response.status_code == 422, response.content
    assert field in error_of(response)["details"]["employer"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"card_type": "bus_card"}, "card_type"),
        ({"channel": "counter"}, "channel"),
        ({"service_point": "CC01"}, "service_point"),
        ({"service_point": "NOPE"}, "service_point"),
        ({"collection_point": "NOPE"}, "collection_point"),
        ({"replaces": "not-a-uuid"}, "replaces"),
        ({"replaces": "00000000-0000-0000-0000-000000000000"}, "replaces"),
        ({"applicant": None}, "applicant"),
        ({"applicant": {"name": "X"}}, "applicant"),
        ({"online_checks": [{"check": "magic"}]}, "online_checks"),
        ({"photo_receipt_number": "x" * 33}, "photo_receipt_number"),
    ],
)
def test_bad_input_is_422_naming_the_field(api, world, change, field):
    body = application_body(world, eligible_person(), **change)
    response = api.post("/applications", body)
    assert response.status_code == 422, response.content
    assert field in error_of(response)["details"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id_number": "310104198001010000"}, "id_number"),
        ({"id_type": "library_card"}, "id_type"),
        ({"name": ""}, "name"),
        ({"nationality": "China"}, "nationality"),
        ({"birth_date": "1980-02-30"}, "birth_date"),
        ({"name": "a\x00b"}, "name"),
    ],
)
def test_a_bad_applicant_names_the_field_under_applicant(api, world, change, field):
    body = application_body(world, eligible_person())
    body["applicant"].update(change)
    response = api.post("/applications", body)
    assert response.status_code == 422, response.content
    assert field in error_of(response)["details"]["applicant"]


def test_a_second_live_card_is_refused_with_the_own_card_named(api, world):
    person = eligible_person()
    first = api.post("/applications", application_body(world, person)).json()
    response = api.post("/applications", application_body(world, person))
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "duplicate_live_card"
    assert error["details"]["card"] == first["id"]


def test_a_replacement_of_the_banks_own_cancelled_card(api, world, card_in):
    old = card_in(S.ISSUED)
    from cards import services

    services.card_cancel(card=old, actor=world.supervisor, reason="Left, came back.")
    body = application_body(world, old.applicant, replaces=str(old.public_id))
    response = api.post("/applications", body)
    assert response.status_code == 201, response.content
    assert response.json()["replaces"] == str(old.public_id)
    assert api.get(f"/cards/{old.public_id}").json()["replaced_by"] == response.json()["id"]


def test_a_medical_insurance_card_is_not_taken_at_a_bank(api, world):
    response = api.post(
        "/applications", application_body(world, eligible_person(), card_type="medical_insurance")
    )
    assert response.status_code == 422
    assert "card_type" in error_of(response)["details"]


def test_a_card_submitted_at_a_counter_for_the_bank_is_the_banks(api, world):
    card = submit(world, eligible_person())
    assert api.get(f"/cards/{card.public_id}").status_code == 200


def test_a_forms_sex_and_birth_date_contradicting_the_id_number_are_refused(api, world):
    person = ApplicantFactory.build(id_number=resident_id(779, born=datetime.date(1990, 5, 17)))
    body = application_body(world, person)
    body["applicant"]["sex"] = "female" if int(person.id_number[16]) % 2 else "male"
    body["applicant"]["birth_date"] = "1991-05-17"
    response = api.post("/applications", body)
    assert response.status_code == 422
    details = error_of(response)["details"]["applicant"]
    assert set(details) == {"sex", "birth_date"}
    assert not Applicant.objects.filter(id_number=person.id_number).exists()


def test_a_second_foreigner_with_the_same_passport_number_from_another_country(api, world):
    """Two countries may issue the same passport number: the second is another person, not a
    form that differs from the first (which the bank, whose customer the first is, would be told
    as `applicant_differs`)."""
    american = ApplicantFactory(
        name="John Smith",
        id_type="passport",
        id_number="E12345678",
        nationality="USA",
        shanghai_hukou=False,
        hukou_place="",
        sex="male",
        birth_date=datetime.date(1985, 4, 1),
    )
    Card.objects.create(  # the American is the bank's customer
        applicant=american,
        card_type="social_security",
        bank=world.bank,
        service_point=world.outlet,
        collection_point=world.outlet,
        channel="bank_outlet",
    )
    body = application_body(world, american)
    body["applicant"].update(
        {"name": "Jane Smith", "nationality": "GBR", "sex": "female", "birth_date": "1990-01-01"}
    )
    second = api.post("/applications", body)
    # A new person, not insured: sent to a counter, and nothing recorded for her.
    assert error_of(second)["code"] == "apply_at_counter"
    assert Applicant.objects.get(pk=american.pk).name == "John Smith"
    assert not Applicant.objects.filter(name="Jane Smith").exists()
