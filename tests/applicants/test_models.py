"""The applicant model: a valid document on every save, derived fields, one person per document."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from applicants.choices import EnrolmentRoute, IdDocumentType, Insurance, Sex
from applicants.identity import compose_resident_id
from applicants.models import Applicant, Employment, InsuranceEnrolment, RegistryRecord
from tests.factories import (
    ApplicantFactory,
    EmployerFactory,
    EmploymentFactory,
    RegistryRecordFactory,
)

pytestmark = pytest.mark.django_db

NUMBER = compose_resident_id("310104", datetime.date(1990, 5, 17), 123)  # a man


def foreigner(**kwargs) -> Applicant:
    fields = {
        "name": "John Smith",
        "id_type": IdDocumentType.PASSPORT,
        "id_number": "E12345678",
        "nationality": "USA",
        "shanghai_hukou": False,
        "hukou_place": "",
        "sex": Sex.MALE,
        "birth_date": datetime.date(1985, 4, 1),
    }
    if kwargs.get("id_type", IdDocumentType.PASSPORT) != IdDocumentType.PASSPORT:
        fields |= {"sex": "", "birth_date": None}  # read from the number, which holds them
    return ApplicantFactory(**(fields | kwargs))


def test_save_derives_sex_and_birth_date_from_the_resident_id():
    applicant = ApplicantFactory(id_number=NUMBER.lower())
    applicant.refresh_from_db()
    assert applicant.id_number == NUMBER
    assert applicant.sex == Sex.MALE
    assert applicant.birth_date == datetime.date(1990, 5, 17)
    assert applicant.nationality == "CHN"


def test_typed_sex_and_birth_date_that_contradict_the_number_are_refused_naming_both():
    # Typed twice, they could disagree: never silently replaced, the clerk sees which.
    with pytest.raises(ValidationError) as exc:
        ApplicantFactory(id_number=NUMBER, sex=Sex.FEMALE, birth_date=datetime.date(2000, 1, 1))
    assert set(exc.value.message_dict) == {"sex", "birth_date"}
    assert "1990-05-17" in exc.value.message_dict["birth_date"][0]
    assert not Applicant.objects.exists()
    with pytest.raises(ValidationError) as exc:
        ApplicantFactory(id_number=NUMBER, sex=Sex.FEMALE)
    assert set(exc.value.message_dict) == {"sex"}


def test_typed_sex_and_birth_date_that_agree_with_the_number_are_kept():
    applicant = ApplicantFactory(
        id_number=NUMBER, sex=Sex.MALE, birth_date=datetime.date(1990, 5, 17)
    )
    applicant.refresh_from_db()
    assert (applicant.sex, applicant.birth_date) == (Sex.MALE, datetime.date(1990, 5, 17))


def test_an_invalid_number_is_never_stored():
    bad = NUMBER[:-1] + ("1" if NUMBER[-1] != "1" else "2")
    with pytest.raises(ValidationError) as exc:
        Applicant(name="张三", id_type=IdDocumentType.RESIDENT_ID, id_number=bad).save()
    assert list(exc.value.error_dict) == ["id_number"]
    assert [e.code for e in exc.value.error_dict["id_number"]] == ["invalid_checksum"]
    assert not Applicant.objects.exists()


def test_changing_to_an_invalid_number_is_refused_and_the_row_is_unchanged():
    applicant = ApplicantFactory(id_number=NUMBER)
    applicant.id_number = "310104199005171"
    with pytest.raises(ValidationError) as exc:
        applicant.save()
    assert exc.value.message_dict == {"id_number": ["The number must have 18 characters."]}
    assert Applicant.objects.get().id_number == NUMBER


def test_full_clean_reports_the_invalid_number():
    applicant = Applicant(name="张三", id_type=IdDocumentType.RESIDENT_ID, id_number="12345")
    with pytest.raises(ValidationError) as exc:
        applicant.full_clean()
    assert exc.value.message_dict["id_number"] == ["The number must have 18 characters."]


def test_registry_record_validates_its_number_too():
    with pytest.raises(ValidationError) as exc:
        RegistryRecordFactory(id_number="310104199005171")
    assert list(exc.value.error_dict) == ["id_number"]
    assert not RegistryRecord.objects.exists()


def test_one_applicant_per_identity_document_in_the_database():
    ApplicantFactory(id_number=NUMBER)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApplicantFactory(id_number=NUMBER.lower())
    assert Applicant.objects.count() == 1


def test_full_clean_names_the_duplicate_identity_document():
    ApplicantFactory(id_number=NUMBER)
    twin = Applicant(name="张三", id_type=IdDocumentType.RESIDENT_ID, id_number=f" {NUMBER} ")
    with pytest.raises(ValidationError) as exc:
        twin.full_clean()
    assert exc.value.messages == ["A person with this identity document already exists."]


def test_social_security_number_is_the_resident_id_number():
    assert ApplicantFactory(id_number=NUMBER).social_security_number == NUMBER
    assert foreigner().social_security_number == ""


def test_masked_number_name_and_str():
    applicant = ApplicantFactory(name="张小明", id_number=NUMBER)
    assert applicant.id_number_masked == "310***********1234"
    assert applicant.name_masked == "张**"
    assert str(applicant) == "张** 310***********1234"
    assert NUMBER not in str(applicant)


# --- foreign nationals -------------------------------------------------------------------------


def test_foreign_national_with_a_passport():
    applicant = foreigner(id_number="e 12345678", nationality=" usa ")
    applicant.refresh_from_db()
    assert applicant.id_number == "E12345678"
    assert applicant.nationality == "USA"
    assert applicant.is_foreign_national
    assert (applicant.sex, applicant.birth_date) == (Sex.MALE, datetime.date(1985, 4, 1))


def test_foreign_national_with_a_2023_permanent_resident_id_derives_sex_and_birth_date():
    number = compose_resident_id("931840", datetime.date(1988, 11, 3), 24)
    applicant = foreigner(
        id_type=IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID,
        id_number=number,
        sex="",
        birth_date=None,
    )
    assert (applicant.sex, applicant.birth_date) == (Sex.FEMALE, datetime.date(1988, 11, 3))
    assert applicant.is_foreign_national
    # Issue #17: the 18-character permit number is the holder's social security number.
    assert applicant.social_security_number == number


@pytest.mark.parametrize(
    "id_type", [IdDocumentType.PASSPORT, IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID]
)
def test_foreign_national_document_needs_a_foreign_nationality(id_type):
    number = "E12345678" if id_type == IdDocumentType.PASSPORT else "USA310905171234"
    with pytest.raises(ValidationError) as exc:
        foreigner(id_type=id_type, id_number=number, nationality="chn")
    assert exc.value.message_dict == {
        "nationality": ["A foreign national's document needs a foreign nationality."]
    }
    assert not Applicant.objects.exists()


def test_holder_of_a_chinese_document_is_chinese_whatever_is_typed():
    applicant = ApplicantFactory(id_number=NUMBER, nationality="USA")
    assert applicant.nationality == "CHN"
    assert not applicant.is_foreign_national
    permit = compose_resident_id("810000", datetime.date(1992, 8, 8), 35)
    hk = ApplicantFactory(
        id_type=IdDocumentType.HMT_RESIDENCE_PERMIT,
        id_number=permit,
        nationality="HKG",
        shanghai_hukou=False,
    )
    assert hk.nationality == "CHN"
    assert not hk.is_foreign_national


@pytest.mark.parametrize(
    ("id_type", "number", "nationality"),
    [
        (IdDocumentType.PASSPORT, "E12345678", "USA"),
        (IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID, "USA310905171234", "USA"),
        (
            IdDocumentType.HMT_RESIDENCE_PERMIT,
            compose_resident_id("810000", datetime.date(1992, 8, 8), 35),
            "CHN",
        ),
    ],
)
def test_no_shanghai_hukou_without_a_resident_id(id_type, number, nationality):
    with pytest.raises(ValidationError) as exc:
        foreigner(id_type=id_type, id_number=number, nationality=nationality, shanghai_hukou=True)
    assert exc.value.message_dict == {
        "shanghai_hukou": [
            "Only a holder of a resident identity card can have Shanghai household registration."
        ]
    }
    assert not Applicant.objects.exists()


def test_passport_holder_must_have_sex_and_birth_date_typed():
    with pytest.raises(ValidationError) as exc:
        foreigner(sex="")
    assert exc.value.message_dict == {"sex": ["Sex is required for this document type."]}
    with pytest.raises(ValidationError) as exc:
        foreigner(birth_date=None)
    assert exc.value.message_dict == {
        "birth_date": ["The birth date is required for this document type."]
    }


def test_old_permanent_resident_id_gives_birth_date_but_sex_must_be_typed():
    with pytest.raises(ValidationError) as exc:
        foreigner(
            id_type=IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID,
            id_number="USA318805171234",
            sex="",
            birth_date=None,
        )
    assert exc.value.message_dict == {"sex": ["Sex is required for this document type."]}
    applicant = foreigner(
        id_type=IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID,
        id_number="USA318805171234",
        sex=Sex.FEMALE,
        birth_date=None,
    )
    assert (applicant.sex, applicant.birth_date) == (Sex.FEMALE, datetime.date(1988, 5, 17))


def test_same_passport_number_under_another_document_type_is_another_person():
    foreigner(id_number="E12345678")
    other = foreigner(
        id_type=IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID,
        id_number="ABC318805171234",
        sex=Sex.MALE,  # an old-format number holds the birth date only
    )
    assert other.pk is not None
    assert Applicant.objects.count() == 2


# --- employments and enrolments ----------------------------------------------------------------


def test_employment_registration_deadline_is_start_plus_30_days():
    employment = EmploymentFactory(start_date=datetime.date(2025, 1, 31), registered_on=None)
    employment.refresh_from_db()
    assert employment.registration_deadline == datetime.date(2025, 3, 2)


def test_employment_registration_deadline_follows_the_setting(settings):
    settings.EMPLOYER_REGISTRATION_DAYS = 15
    employment = EmploymentFactory(start_date=datetime.date(2025, 1, 31), registered_on=None)
    assert employment.registration_deadline == datetime.date(2025, 2, 15)


def test_employment_deadline_moves_with_a_corrected_start():
    employment = EmploymentFactory(start_date=datetime.date(2025, 1, 1), registered_on=None)
    employment.start_date = datetime.date(2025, 2, 1)
    employment.save()
    employment.refresh_from_db()
    assert employment.registration_deadline == datetime.date(2025, 3, 3)


def test_employment_cannot_end_before_it_starts():
    with pytest.raises(IntegrityError), transaction.atomic():
        EmploymentFactory(start_date=datetime.date(2025, 2, 1), end_date=datetime.date(2025, 1, 31))
    assert not Employment.objects.exists()


def test_employment_is_active_between_start_and_end_inclusive():
    employment = EmploymentFactory.build(
        start_date=datetime.date(2025, 1, 1), end_date=datetime.date(2025, 6, 30)
    )
    assert not employment.is_active_on(datetime.date(2024, 12, 31))
    assert employment.is_active_on(datetime.date(2025, 1, 1))
    assert employment.is_active_on(datetime.date(2025, 6, 30))
    assert not employment.is_active_on(datetime.date(2025, 7, 1))


def test_individual_enrolment_only_in_pension_or_medical_in_the_database():
    applicant = ApplicantFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        InsuranceEnrolment.objects.create(
            applicant=applicant,
            insurance=Insurance.WORK_INJURY,
            route=EnrolmentRoute.INDIVIDUAL,
            start_date=datetime.date(2025, 1, 1),
        )
    assert not InsuranceEnrolment.objects.exists()


def test_employer_enrolment_names_its_employment_in_the_database():
    applicant = ApplicantFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        InsuranceEnrolment.objects.create(
            applicant=applicant,
            insurance=Insurance.WORK_INJURY,
            route=EnrolmentRoute.EMPLOYER,
            start_date=datetime.date(2025, 1, 1),
        )
    employment = EmploymentFactory(applicant=applicant, employer=EmployerFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        InsuranceEnrolment.objects.create(
            applicant=applicant,
            insurance=Insurance.MEDICAL,
            route=EnrolmentRoute.INDIVIDUAL,
            employment=employment,
            start_date=datetime.date(2025, 1, 1),
        )
    assert not InsuranceEnrolment.objects.exists()


def test_two_countries_passports_with_the_same_number_are_two_people():
    american = foreigner(id_number="E12345678", nationality="USA")
    briton = foreigner(id_number="E12345678", nationality="GBR", name="Jane Smith")
    assert american.id_issuing_country == "USA" and briton.id_issuing_country == "GBR"
    assert Applicant.objects.filter(id_number="E12345678").count() == 2
    # The same country's passport number is one person's.
    with pytest.raises(IntegrityError), transaction.atomic():
        foreigner(id_number="E12345678", nationality="CAN", id_issuing_country="usa")


def test_a_passport_issued_by_another_country_than_the_nationality():
    person = foreigner(id_number="K7654321", nationality="USA", id_issuing_country="irl")
    assert person.id_issuing_country == "IRL"
    assert foreigner(id_number="K7654321", nationality="USA").pk != person.pk


def test_only_a_passport_keeps_an_issuing_country():
    number = compose_resident_id("310104", datetime.date(1990, 5, 17), 123)
    person = ApplicantFactory(id_number=number, id_issuing_country="USA")
    assert person.id_issuing_country == ""
