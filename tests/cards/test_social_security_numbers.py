"""Social security numbers for everyone (issue #17): the permit's own 18-character number for
Hong Kong/Macao/Taiwan residents and new-style permanent residents; a number the service assigns
(18 characters, starting with 9, with a check character, unique) to other foreign nationals under
a rule set that assigns them; shown on the card page, the receipt and the API."""

import datetime
import re

from stdnum.cn import ric

from applicants.choices import EnrolmentRoute, IdDocumentType, Insurance, Sex
from applicants.identity import compose_resident_id
from applicants.models import Applicant, RegistryRecord
from cards.choices import CardType
from tests.admin.conftest import clients, login  # noqa: F401 - fixtures
from tests.cards.conftest import submit
from tests.factories import ApplicantFactory, EmploymentFactory, EnrolmentFactory

BORN = datetime.date(1985, 4, 1)


def insured_by_employer(applicant: Applicant) -> Applicant:
    employment = EmploymentFactory(applicant=applicant)
    EnrolmentFactory(
        applicant=applicant,
        insurance=Insurance.MEDICAL,
        route=EnrolmentRoute.EMPLOYER,
        employment=employment,
    )
    RegistryRecord.objects.create(
        name=applicant.name,
        id_type=applicant.id_type,
        id_number=applicant.id_number,
        id_issuing_country=applicant.id_issuing_country,
        nationality=applicant.nationality,
        sex=applicant.sex,
        birth_date=applicant.birth_date,
    )
    return applicant


def passport_holder(number: str = "E12345678") -> Applicant:
    return insured_by_employer(
        ApplicantFactory(
            name="John Smith",
            id_type=IdDocumentType.PASSPORT,
            id_number=number,
            nationality="USA",
            shanghai_hukou=False,
            hukou_place="",
            sex=Sex.MALE,
            birth_date=BORN,
        )
    )


def test_permit_numbers_are_social_security_numbers(db):
    hmt = compose_resident_id("810000", BORN, 17)
    permit_holder = ApplicantFactory(
        id_type=IdDocumentType.HMT_RESIDENCE_PERMIT,
        id_number=hmt,
        shanghai_hukou=False,
        hukou_place="",
    )
    assert permit_holder.social_security_number == hmt
    new_style = compose_resident_id("931840", BORN, 18)
    resident = ApplicantFactory(
        id_type=IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID,
        id_number=new_style,
        nationality="USA",
        shanghai_hukou=False,
        hukou_place="",
    )
    assert resident.social_security_number == new_style
    old_style = ApplicantFactory(
        id_type=IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID,
        id_number="USA318504010012",
        nationality="USA",
        shanghai_hukou=False,
        hukou_place="",
        sex=Sex.MALE,
    )
    assert old_style.social_security_number == ""


def test_seed_2019_assigns_no_number(world):
    person = passport_holder()
    submit(world, person, CardType.MEDICAL_INSURANCE)
    person.refresh_from_db()
    assert person.social_security_number == "" and person.assigned_social_security_number is None


def test_the_service_assigns_a_unique_checked_number(settings, world):
    settings.RULE_SET = "shanghai-3rd-gen"
    first, second = passport_holder("E12345678"), passport_holder("K98765432")
    submit(world, first, CardType.MEDICAL_INSURANCE)
    submit(world, second, CardType.MEDICAL_INSURANCE)
    numbers = [Applicant.objects.get(pk=p.pk).social_security_number for p in (first, second)]
    for number in numbers:
        assert re.fullmatch(r"9\d{16}[\dX]", number), number
        assert number[-1] == ric.calc_check_digit(number[:17])
        assert number not in (first.id_number, second.id_number)
    assert numbers[0] != numbers[1]
    # Kept: a second card of the person keeps the number.
    card = first.cards.get()
    from cards import services

    services.card_withdraw(card=card, actor=world.street_medical_clerk, reason="Wrong point.")
    submit(world, first, CardType.MEDICAL_INSURANCE)
    assert Applicant.objects.get(pk=first.pk).social_security_number == numbers[0]


def test_an_assigned_number_is_encrypted_at_rest_and_found_by_one_indexed_read(settings, world):
    from django.db import connection

    from common import crypto

    settings.RULE_SET = "shanghai-3rd-gen"
    person = passport_holder()
    submit(world, person, CardType.MEDICAL_INSURANCE)
    number = Applicant.objects.get(pk=person.pk).assigned_social_security_number
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT assigned_social_security_number FROM applicants_applicant WHERE id = %s",
            [person.pk],
        )
        (stored,) = cursor.fetchone()
    assert crypto.is_token(stored) and number not in stored
    query = Applicant.objects.filter(assigned_social_security_number=number)
    assert list(query) == [Applicant.objects.get(pk=person.pk)]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index" in plan and "Seq Scan" not in plan, plan


def test_a_resident_keeps_the_id_number(settings, world, person):
    settings.RULE_SET = "shanghai-3rd-gen"
    submit(world, person)
    person.refresh_from_db()
    assert person.social_security_number == person.id_number
    assert person.assigned_social_security_number is None


def test_shown_on_the_receipt_and_the_card_page(
    settings,
    world,
    clients,  # noqa: F811 - the fixture imported above
):
    settings.RULE_SET = "shanghai-3rd-gen"
    person = passport_holder()
    card = submit(world, person, CardType.MEDICAL_INSURANCE)
    number = Applicant.objects.get(pk=person.pk).social_security_number
    clerk = login(world.street_medical_clerk)
    page = clerk.get(f"/admin/cards/card/{card.pk}/change/").content.decode()
    receipt = clerk.get(f"/admin/cards/card/{card.pk}/receipt/").content.decode()
    for shown in (page, receipt):
        assert number[:3] in shown and number[-2:] in shown  # masked, like the ID number
        assert number not in shown
