"""Unified Social Credit Codes (GB 32100): validate_uscc and Employer.save."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from applicants.choices import EmployerKind
from applicants.identity import validate_uscc
from applicants.models import Employer
from applicants.services import employer_create
from tests.factories import EmployerFactory, uscc_for

CHECKSUM_MESSAGE = "The check character of the unified social credit code does not match."
FORMAT_MESSAGE = "A unified social credit code has 18 characters: digits and capital letters."


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("91110000600037341L", "91110000600037341L"),
        ("91110000600037341l", "91110000600037341L"),
        (" 91110000 600037341L ", "91110000600037341L"),
        ("91110000-600037341L", "91110000600037341L"),
    ],
)
def test_valid_uscc_is_returned_compact(typed, code):
    assert validate_uscc(typed) == code


@pytest.mark.parametrize("n", [0, 1, 42, 999_999_999])
def test_factory_codes_are_valid(n):
    code = uscc_for(n)
    assert validate_uscc(code) == code


@pytest.mark.parametrize("code", ["91110000600037341M", "91110000600037341A", "91110000600037342L"])
def test_wrong_check_character_is_refused(code):
    with pytest.raises(ValidationError) as exc:
        validate_uscc(code)
    assert exc.value.code == "invalid_checksum"
    assert exc.value.messages == [CHECKSUM_MESSAGE]


@pytest.mark.parametrize(
    "code",
    [
        "9111000060003734",  # too short
        "91110000600037341L0",  # too long
        "",
        "91110000I00037341L",  # I is not in the GB 32100 alphabet
        "9111000060003734!L",
    ],
)
def test_bad_format_is_refused(code):
    with pytest.raises(ValidationError) as exc:
        validate_uscc(code)
    assert exc.value.code == "invalid_format"
    assert exc.value.messages == [FORMAT_MESSAGE]


def test_employer_save_stores_the_compact_code(db):
    employer = Employer(name="Acme", uscc="91110000 600037341l", kind=EmployerKind.ENTERPRISE)
    employer.save()
    employer.refresh_from_db()
    assert employer.uscc == "91110000600037341L"


@pytest.mark.parametrize(
    ("code", "message"),
    [("91110000600037341M", CHECKSUM_MESSAGE), ("9111000060003734", FORMAT_MESSAGE)],
)
def test_employer_save_refuses_an_invalid_code_naming_uscc(db, code, message):
    with pytest.raises(ValidationError) as exc:
        Employer(name="Acme", uscc=code, kind=EmployerKind.ENTERPRISE).save()
    assert exc.value.message_dict == {"uscc": [message]}
    assert not Employer.objects.exists()


def test_employer_full_clean_refuses_an_invalid_code(db):
    employer = Employer(name="Acme", uscc="91110000600037341M", kind=EmployerKind.ENTERPRISE)
    with pytest.raises(ValidationError) as exc:
        employer.full_clean()
    assert exc.value.message_dict["uscc"] == [CHECKSUM_MESSAGE]


def test_employer_create_service_validates_the_code(db):
    employer = employer_create(
        name="  Acme  ", uscc="91110000600037341l", kind=EmployerKind.ENTERPRISE
    )
    assert (employer.name, employer.uscc) == ("Acme", "91110000600037341L")
    with pytest.raises(ValidationError) as exc:
        employer_create(name="Other", uscc="91110000600037341M", kind=EmployerKind.ENTERPRISE)
    assert exc.value.message_dict == {"uscc": [CHECKSUM_MESSAGE]}


def test_one_employer_per_code_even_if_typed_differently(db):
    EmployerFactory(uscc="91110000600037341L")
    with pytest.raises(IntegrityError), transaction.atomic():
        EmployerFactory(uscc="91110000600037341l")
    assert Employer.objects.count() == 1
