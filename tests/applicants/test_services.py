"""Writes to people, employments and enrolments (applicants/services.py)."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from applicants.choices import EnrolmentRoute, IdDocumentType, Insurance, Sex
from applicants.identity import compose_resident_id
from applicants.models import Applicant, Employment, InsuranceEnrolment
from applicants.services import (
    applicant_create,
    employment_create,
    employment_register,
    enrolment_create,
)
from common.errors import ApplicationError
from tests.factories import ApplicantFactory, EmployerFactory, EmploymentFactory

pytestmark = pytest.mark.django_db

NUMBER = compose_resident_id("310104", datetime.date(1990, 5, 17), 124)  # a woman
DUPLICATE = "A person with this identity document already exists."


# --- applicant_create ---------------------------------------------------------------------------


def test_applicant_create_normalises_and_derives():
    applicant = applicant_create(
        name="  张小红 ",
        id_type=IdDocumentType.RESIDENT_ID,
        id_number=f" {NUMBER.lower()} ",
        shanghai_hukou=True,
        hukou_place=" 上海市徐汇区 ",
        phone=" 13800138000 ",
    )
    applicant.refresh_from_db()
    assert applicant.name == "张小红"
    assert applicant.id_number == NUMBER
    assert (applicant.sex, applicant.birth_date) == (Sex.FEMALE, datetime.date(1990, 5, 17))
    assert applicant.hukou_place == "上海市徐汇区"
    assert applicant.phone == "13800138000"
    assert applicant.social_security_number == NUMBER


def test_applicant_create_refuses_an_invalid_number():
    with pytest.raises(ValidationError) as exc:
        applicant_create(name="张三", id_type=IdDocumentType.RESIDENT_ID, id_number=NUMBER[:-1])
    assert exc.value.message_dict == {"id_number": ["The number must have 18 characters."]}
    assert not Applicant.objects.exists()


@pytest.mark.parametrize(
    "typed_again",
    [
        NUMBER,
        NUMBER.lower(),
        " ".join(NUMBER),
        NUMBER.translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)}),
    ],
)
def test_applicant_create_refuses_a_second_person_with_the_same_document(typed_again):
    applicant_create(name="张小红", id_type=IdDocumentType.RESIDENT_ID, id_number=NUMBER)
    with pytest.raises(ApplicationError) as exc:
        applicant_create(name="张晓红", id_type=IdDocumentType.RESIDENT_ID, id_number=typed_again)
    assert exc.value.code == "duplicate_applicant"
    assert exc.value.message == DUPLICATE
    assert exc.value.details == {"id_number": [DUPLICATE]}
    assert Applicant.objects.count() == 1


def test_applicant_create_foreign_national_with_passport():
    applicant = applicant_create(
        name="John Smith",
        id_type=IdDocumentType.PASSPORT,
        id_number="e12345678",
        sex=Sex.MALE,
        birth_date=datetime.date(1985, 4, 1),
        nationality="usa",
    )
    assert (applicant.id_number, applicant.nationality) == ("E12345678", "USA")
    assert applicant.is_foreign_national
    with pytest.raises(ApplicationError) as exc:
        applicant_create(
            name="Jane Smith",
            id_type=IdDocumentType.PASSPORT,
            id_number="E12345678",
            sex=Sex.FEMALE,
            birth_date=datetime.date(1986, 4, 1),
            nationality="USA",
        )
    assert exc.value.code == "duplicate_applicant"


def test_applicant_create_foreign_national_needs_foreign_nationality():
    with pytest.raises(ValidationError) as exc:
        applicant_create(
            name="John Smith",
            id_type=IdDocumentType.PASSPORT,
            id_number="E12345678",
            sex=Sex.MALE,
            birth_date=datetime.date(1985, 4, 1),
        )
    assert exc.value.message_dict == {
        "nationality": ["A foreign national's document needs a foreign nationality."]
    }
    assert not Applicant.objects.exists()


# --- employments --------------------------------------------------------------------------------


def test_employment_create_sets_the_registration_deadline():
    employment = employment_create(
        applicant=ApplicantFactory(),
        employer=EmployerFactory(),
        start_date=datetime.date(2025, 12, 15),
    )
    employment.refresh_from_db()
    assert employment.registration_deadline == datetime.date(2026, 1, 14)
    assert employment.registered_on is None


def test_employment_register_records_the_date():
    employment = EmploymentFactory(start_date=datetime.date(2025, 3, 1), registered_on=None)
    employment_register(employment=employment, registered_on=datetime.date(2025, 3, 1))
    employment.refresh_from_db()
    assert employment.registered_on == datetime.date(2025, 3, 1)
    assert employment.registration_deadline == datetime.date(2025, 3, 31)


def test_employment_register_refuses_a_date_before_the_start():
    employment = EmploymentFactory(start_date=datetime.date(2025, 3, 1), registered_on=None)
    message = "The registration date is before the start of employment."
    with pytest.raises(ApplicationError) as exc:
        employment_register(employment=employment, registered_on=datetime.date(2025, 2, 28))
    assert exc.value.code == "invalid"
    assert exc.value.message == message
    assert exc.value.details == {"registered_on": [message]}
    assert Employment.objects.get().registered_on is None


# --- enrolment_create ---------------------------------------------------------------------------

START = datetime.date(2025, 6, 1)


def test_enrolment_create_individual_with_shanghai_hukou():
    applicant = ApplicantFactory(shanghai_hukou=True)
    enrolment = enrolment_create(
        applicant=applicant,
        insurance=Insurance.PENSION,
        route=EnrolmentRoute.INDIVIDUAL,
        start_date=START,
    )
    assert InsuranceEnrolment.objects.get() == enrolment
    assert (enrolment.insurance, enrolment.route, enrolment.employment) == (
        Insurance.PENSION,
        EnrolmentRoute.INDIVIDUAL,
        None,
    )


def test_enrolment_create_refuses_with_every_reason():
    applicant = ApplicantFactory(shanghai_hukou=False, hukou_place="安徽省合肥市")
    with pytest.raises(ApplicationError) as exc:
        enrolment_create(
            applicant=applicant,
            insurance=Insurance.WORK_INJURY,
            route=EnrolmentRoute.INDIVIDUAL,
            start_date=START,
        )
    not_offered = "As an individual a person may join only pension and medical insurance."
    needs_hukou = (
        "Individual enrolment is only at the social security office of the person's household "
        "registration, so it needs Shanghai household registration."
    )
    assert exc.value.code == "not_eligible"
    assert exc.value.message == f"{not_offered} {needs_hukou}"
    assert exc.value.details == {
        "reasons": [
            {"code": "individual_insurance_not_offered", "message": not_offered},
            {"code": "individual_needs_shanghai_hukou", "message": needs_hukou},
        ]
    }
    assert not InsuranceEnrolment.objects.exists()


def test_enrolment_create_through_an_employer_needs_an_employment_on_the_start_date():
    applicant = ApplicantFactory(shanghai_hukou=False)
    employment = EmploymentFactory(
        applicant=applicant,
        start_date=datetime.date(2024, 1, 1),
        end_date=datetime.date(2025, 5, 31),
    )
    with pytest.raises(ApplicationError) as exc:
        enrolment_create(
            applicant=applicant,
            insurance=Insurance.MEDICAL,
            route=EnrolmentRoute.EMPLOYER,
            start_date=START,
            employment=employment,
        )
    assert exc.value.code == "not_eligible"
    assert exc.value.details == {
        "reasons": [
            {
                "code": "no_employment",
                "message": "Enrolment through an employer needs a current employment.",
            }
        ]
    }
    # while the employment ran, the same enrolment is accepted
    enrolment = enrolment_create(
        applicant=applicant,
        insurance=Insurance.MEDICAL,
        route=EnrolmentRoute.EMPLOYER,
        start_date=datetime.date(2025, 5, 1),
        employment=employment,
    )
    assert enrolment.employment == employment


def test_enrolment_create_through_an_employer_names_the_persons_own_employment():
    applicant = ApplicantFactory()
    EmploymentFactory(applicant=applicant, start_date=datetime.date(2024, 1, 1))
    someone_elses = EmploymentFactory(start_date=datetime.date(2024, 1, 1))
    for employment in (None, someone_elses):
        with pytest.raises(ApplicationError) as exc:
            enrolment_create(
                applicant=applicant,
                insurance=Insurance.WORK_INJURY,
                route=EnrolmentRoute.EMPLOYER,
                start_date=START,
                employment=employment,
            )
        assert exc.value.code == "invalid"
        assert exc.value.details == {
            "employment": ["Name one of the person's current employments."]
        }
    assert not InsuranceEnrolment.objects.exists()


def test_enrolment_create_foreign_national_through_employer_only():
    applicant = ApplicantFactory(
        name="John Smith",
        id_type=IdDocumentType.PASSPORT,
        id_number="E12345678",
        nationality="USA",
        shanghai_hukou=False,
        hukou_place="",
        sex=Sex.MALE,
        birth_date=datetime.date(1985, 4, 1),
    )
    with pytest.raises(ApplicationError) as exc:
        enrolment_create(
            applicant=applicant,
            insurance=Insurance.MEDICAL,
            route=EnrolmentRoute.INDIVIDUAL,
            start_date=START,
        )
    assert [r["code"] for r in exc.value.details["reasons"]] == [
        "individual_needs_shanghai_hukou",
        "foreign_national_needs_employer",
    ]
    employment = EmploymentFactory(applicant=applicant, start_date=datetime.date(2025, 1, 1))
    enrolment = enrolment_create(
        applicant=applicant,
        insurance=Insurance.MEDICAL,
        route=EnrolmentRoute.EMPLOYER,
        start_date=START,
        employment=employment,
    )
    assert enrolment.route == EnrolmentRoute.EMPLOYER


def test_employer_create_refuses_a_duplicate_code_with_a_clear_error(db):
    from applicants.services import employer_create
    from common.errors import ApplicationError
    from tests.factories import uscc_for

    employer_create(name="A", uscc=uscc_for(7), kind="enterprise")
    with pytest.raises(ApplicationError) as exc:
        employer_create(name="B", uscc=uscc_for(7).lower(), kind="enterprise")
    assert exc.value.code == "duplicate_employer"
    assert "uscc" in exc.value.details


def test_employer_validation_keeps_the_error_code(db):
    from django.core.exceptions import ValidationError

    from applicants.models import Employer

    with pytest.raises(ValidationError) as exc:
        Employer(name="A", uscc="91110000600037341X", kind="enterprise").save()
    assert [e.code for e in exc.value.error_dict["uscc"]] == ["invalid_checksum"]


def test_enrolment_through_an_ended_employment_is_refused(db):
    import datetime

    from applicants.services import enrolment_create
    from common.errors import ApplicationError
    from tests.factories import ApplicantFactory, EmploymentFactory

    person = ApplicantFactory()
    EmploymentFactory(applicant=person, start_date=datetime.date(2025, 1, 1))
    ended = EmploymentFactory(
        applicant=person, start_date=datetime.date(2020, 1, 1), end_date=datetime.date(2021, 1, 1)
    )
    with pytest.raises(ApplicationError) as exc:
        enrolment_create(
            applicant=person,
            insurance="medical",
            route="employer",
            employment=ended,
            start_date=datetime.date(2025, 6, 1),
        )
    assert exc.value.code == "invalid" and "employment" in exc.value.details


def test_find_or_create_refuses_a_sex_that_contradicts_the_number_even_for_a_person_on_record():
    from applicants.services import applicant_find_or_create
    from tests.factories import resident_id as make_id

    number = make_id(4, born=datetime.date(1990, 5, 17))  # sequence 4: a woman
    person = ApplicantFactory(id_number=number)
    with pytest.raises(ApplicationError) as exc:
        applicant_find_or_create(
            name=person.name,
            id_type=person.id_type,
            id_number=number,
            sex="male",
            shanghai_hukou=person.shanghai_hukou,
        )
    assert exc.value.code == "invalid" and set(exc.value.details) == {"sex"}


@pytest.mark.parametrize(
    "name, rule",
    [
        ("\u200b", "only visible characters"),  # zero-width space: an empty-looking name
        ("张\u200b三", "only visible characters"),
        ("\u202e张三", "only visible characters"),  # right-to-left override: a spoofed display
        ("张三\x07", "only visible characters"),
        ("😀😀", "not symbols or emoji"),
    ],
)
def test_a_name_with_invisible_characters_or_emoji_is_refused_naming_the_field(name, rule):
    with pytest.raises(ValidationError) as exc:
        applicant_create(name=name, id_type=IdDocumentType.RESIDENT_ID, id_number=NUMBER)
    assert list(exc.value.message_dict) == ["name"]
    assert rule in exc.value.message_dict["name"][0]
    assert not Applicant.objects.exists()


@pytest.mark.parametrize("name", ["买买提·艾力", "O'Brien-Smith Jr.", "Zoë Åsa", "张三"])
def test_real_names_with_dots_hyphens_apostrophes_and_accents_are_taken(name):
    applicant = applicant_create(name=name, id_type=IdDocumentType.RESIDENT_ID, id_number=NUMBER)
    assert applicant.name == name


@pytest.mark.parametrize("nationality", ["123", "C-N", "中国"])
def test_a_nationality_that_is_not_three_letters_is_refused(nationality):
    with pytest.raises(ValidationError) as exc:
        applicant_create(
            name="Lukas Schneider",
            id_type=IdDocumentType.PASSPORT,
            id_number="C01X00T47",
            id_issuing_country="DEU",
            nationality=nationality,
            sex="male",
            birth_date=datetime.date(1988, 10, 6),
        )
    assert list(exc.value.message_dict) == ["nationality"]
    assert not Applicant.objects.exists()


@pytest.mark.parametrize("typed", ["call me", "😀", "12"])
def test_a_phone_no_one_can_call_is_refused_naming_the_field(typed):
    with pytest.raises(ValidationError) as exc:
        applicant_create(
            name="张小红", id_type=IdDocumentType.RESIDENT_ID, id_number=NUMBER, phone=typed
        )
    assert list(exc.value.message_dict) == ["phone"]
    assert not Applicant.objects.exists()


@pytest.mark.parametrize(
    "start",
    [datetime.date(1, 1, 1), datetime.date(1979, 12, 31), datetime.date(9999, 12, 31)],
)
def test_an_employment_cannot_start_before_the_person_was_born_or_years_ahead(start):
    """Found from outside: the counter took an employment from the year 1, and one in 9999 was
    a 500 (its registration deadline, 30 days later, is past the last date)."""
    person = ApplicantFactory()  # born 1980-01-01
    with pytest.raises(ApplicationError) as exc:
        employment_create(applicant=person, employer=EmployerFactory(), start_date=start)
    assert list(exc.value.details) == ["start_date"]
    assert not Employment.objects.exists()


def test_an_employment_may_be_recorded_before_it_starts():
    person = ApplicantFactory()  # born 1980-01-01
    start = datetime.date.today() + datetime.timedelta(days=60)
    employment = employment_create(applicant=person, employer=EmployerFactory(), start_date=start)
    assert employment.registration_deadline == start + datetime.timedelta(days=30)


@pytest.mark.parametrize("start", [datetime.date(1979, 12, 31), datetime.date(9999, 12, 31)])
def test_an_enrolment_cannot_start_before_the_person_was_born_or_years_ahead(start):
    """Found from outside: the person page's enrolment took a pension from 9999-12-31."""
    person = ApplicantFactory(shanghai_hukou=True)  # born 1980-01-01
    with pytest.raises(ApplicationError) as exc:
        enrolment_create(
            applicant=person,
            insurance=Insurance.PENSION,
            route=EnrolmentRoute.INDIVIDUAL,
            start_date=start,
        )
    assert list(exc.value.details) == ["start_date"]
    assert not InsuranceEnrolment.objects.exists()
