import datetime

import pytest
from django.core.exceptions import ValidationError

from applicants.identity import validate_identity_document


def codes(exc: ValidationError) -> list[str]:
    return [e.code for e in exc.error_dict["id_number"]]


def test_valid_resident_id_derives_sex_and_birth_date():
    facts = validate_identity_document("resident_id", "11010519491231002x")
    assert facts.number == "11010519491231002X"
    assert facts.birth_date == datetime.date(1949, 12, 31)
    assert facts.sex == "female"


def test_wrong_check_digit_is_refused():
    with pytest.raises(ValidationError) as exc:
        validate_identity_document("resident_id", "110105194912310021")
    assert codes(exc.value) == ["invalid_checksum"]
