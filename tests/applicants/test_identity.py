"""Identity document numbers: every document type, valid and invalid (applicants/identity.py)."""

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from applicants.choices import IdDocumentType, Sex
from applicants.identity import (
    compose_resident_id,
    normalise_id_number,
    validate_identity_document,
)

SHANGHAI_TZ = datetime.timezone(datetime.timedelta(hours=8))
RESIDENT = IdDocumentType.RESIDENT_ID
HMT = IdDocumentType.HMT_RESIDENCE_PERMIT
FOREIGN_PR = IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID
PASSPORT = IdDocumentType.PASSPORT


def full_width(text: str) -> str:
    """What an IME in full-width mode types: ASCII letters and digits at U+FF01-U+FF5E."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def refusal(id_type: str, number: str) -> tuple[list[str], list[str]]:
    """The codes and messages a clerk sees for the id_number field."""
    with pytest.raises(ValidationError) as exc:
        validate_identity_document(id_type, number)
    errors = exc.value.error_dict["id_number"]
    return [e.code for e in errors], [m for e in errors for m in e.messages]


def with_wrong_check(number: str) -> str:
    """The same number with a check character that does not match."""
    return number[:-1] + ("1" if number[-1] != "1" else "2")


# --- resident identity card (GB 11643) ---------------------------------------------------------


def test_valid_resident_id_derives_sex_and_birth_date():
    facts = validate_identity_document(RESIDENT, "11010519491231002X")
    assert facts.number == "11010519491231002X"
    assert facts.birth_date == datetime.date(1949, 12, 31)
    assert facts.sex == Sex.FEMALE  # 17th character 2: even


@pytest.mark.parametrize(
    ("sequence", "sex"), [(123, Sex.MALE), (124, Sex.FEMALE), (1, Sex.MALE), (0, Sex.FEMALE)]
)
def test_sex_comes_from_the_parity_of_the_17th_character(sequence, sex):
    number = compose_resident_id("310104", datetime.date(1990, 5, 17), sequence)
    facts = validate_identity_document(RESIDENT, number)
    assert facts.sex == sex
    assert facts.birth_date == datetime.date(1990, 5, 17)
    assert facts.number == number


@pytest.mark.parametrize(
    "typed",
    [
        "11010519491231002x",  # lower-case x
        full_width("11010519491231002X"),  # full-width digits and letter
        full_width("11010519491231002x"),  # full-width lower-case x
        " 110105 19491231 002X ",  # spaces
        "110105\u300019491231\u3000002x",  # ideographic (full-width) spaces
        "110105-19491231-002X",  # separators
    ],
)
def test_typed_variants_are_normalised_before_validation(typed):
    facts = validate_identity_document(RESIDENT, typed)
    assert facts.number == "11010519491231002X"
    assert facts.sex == Sex.FEMALE
    assert facts.birth_date == datetime.date(1949, 12, 31)


def test_normalise_id_number():
    assert normalise_id_number(" " + full_width("310104") + " x ") == "310104X"
    assert normalise_id_number(None) == ""


def test_wrong_check_digit_is_refused():
    codes, messages = refusal(RESIDENT, "110105194912310021")
    assert codes == ["invalid_checksum"]
    assert messages == ["The check character does not match: the number has a typing error."]


def test_wrong_check_digit_is_refused_for_a_composed_number():
    good = compose_resident_id("310115", datetime.date(1985, 3, 9), 456)
    assert validate_identity_document(RESIDENT, good).number == good
    codes, _messages = refusal(RESIDENT, with_wrong_check(good))
    assert codes == ["invalid_checksum"]


def test_impossible_birth_date_with_a_correct_check_digit():
    # 30 February: compose by hand, since date(1990, 2, 30) cannot be built.
    from stdnum.cn import ric

    body = "310104" + "19900230" + "123"
    number = body + ric.calc_check_digit(body + "0")
    codes, messages = refusal(RESIDENT, number)
    assert codes == ["invalid_birth_date"]
    assert messages == ["The birth date in the number is not a real date."]


@pytest.mark.parametrize("month_day", ["1300", "0000", "0132", "0229"])
def test_other_unreal_dates_are_refused(month_day):
    from stdnum.cn import ric

    body = "310104" + "1990" + month_day + "123"  # 1990 is not a leap year
    codes, _messages = refusal(RESIDENT, body + ric.calc_check_digit(body + "0"))
    assert codes == ["invalid_birth_date"]


def test_29_february_of_a_leap_year_is_accepted():
    number = compose_resident_id("310104", datetime.date(2000, 2, 29), 8)
    assert validate_identity_document(RESIDENT, number).birth_date == datetime.date(2000, 2, 29)


@time_machine.travel(datetime.datetime(2025, 6, 1, 0, 30, tzinfo=SHANGHAI_TZ), tick=False)
def test_birth_date_in_the_future_is_refused_today_in_shanghai_is_accepted():
    # 00:30 in Shanghai is still 31 May in UTC: "today" must be Shanghai's date.
    born_today = compose_resident_id("310104", datetime.date(2025, 6, 1), 2)
    assert validate_identity_document(RESIDENT, born_today).birth_date == datetime.date(2025, 6, 1)

    born_tomorrow = compose_resident_id("310104", datetime.date(2025, 6, 2), 2)
    codes, messages = refusal(RESIDENT, born_tomorrow)
    assert codes == ["invalid_birth_date"]
    assert messages == ["The birth date in the number is impossible."]


def test_birth_date_before_1900_is_refused():
    codes, _messages = refusal(
        RESIDENT, compose_resident_id("310104", datetime.date(1899, 12, 31), 1)
    )
    assert codes == ["invalid_birth_date"]
    facts = validate_identity_document(
        RESIDENT, compose_resident_id("310104", datetime.date(1900, 1, 1), 1)
    )
    assert facts.birth_date == datetime.date(1900, 1, 1)


@pytest.mark.parametrize(
    "region",
    [
        "999999",
        "000000",
        "310199",  # known province and prefecture, unknown county
        "990104",  # unknown province
    ],
)
def test_unknown_region_with_a_correct_check_digit_is_refused(region):
    number = compose_resident_id(region, datetime.date(1990, 5, 17), 123)
    codes, messages = refusal(RESIDENT, number)
    assert codes == ["invalid_region"]
    assert messages == ["The region code of the number is not a known administrative region."]


@pytest.mark.parametrize(
    ("region", "born"),
    [
        ("310115", datetime.date(1985, 3, 9)),  # Pudong New Area (1992-), first issued there later
        ("310117", datetime.date(1990, 7, 1)),  # Songjiang District (1998-)
        ("310102", datetime.date(1995, 7, 1)),  # Nanshi District (-2000), still there in 1995
        ("310230", datetime.date(2010, 7, 1)),  # Chongming County (-2016)
        ("120110", datetime.date(1985, 7, 1)),  # Tianjin: Dongjiao (-1991) then Dongli (1992-)
    ],
)
def test_region_created_after_the_birth_year_is_accepted(region, born):
    # The code is where the number was first issued, which can be years after birth.
    number = compose_resident_id(region, born, 11)
    assert validate_identity_document(RESIDENT, number).number == number


def test_region_abolished_before_the_birth_year_is_refused():
    number = compose_resident_id("310102", datetime.date(2005, 7, 1), 11)  # Nanshi (-2000)
    codes, _messages = refusal(RESIDENT, number)
    assert codes == ["invalid_region"]


@pytest.mark.parametrize(
    "number",
    [
        "31010419900517123",  # 17 characters
        "3101041990051712345",  # 19 characters
        "310104900517123",  # the old 15-digit card
    ],
)
def test_wrong_length_is_refused(number):
    codes, messages = refusal(RESIDENT, number)
    assert codes == ["invalid_length"]
    assert messages == ["The number must have 18 characters."]


@pytest.mark.parametrize(
    "number",
    [
        "3101041990051712AX",  # a letter before the check character
        "X10104199005171234",  # X anywhere but last
        "31010419900517123Y",  # a check character other than a digit or X
    ],
)
def test_wrong_format_is_refused(number):
    codes, messages = refusal(RESIDENT, number)
    assert codes == ["invalid_format"]
    assert messages == ["The number must be 17 digits followed by a digit or X."]


@pytest.mark.parametrize("number", ["", "   ", "\u3000", None])
def test_missing_number_is_refused(number):
    codes, messages = refusal(RESIDENT, number)
    assert codes == ["required"]
    assert messages == ["The identity document number is required."]


def test_unknown_document_type_names_id_type():
    with pytest.raises(ValidationError) as exc:
        validate_identity_document("driving_licence", "11010519491231002X")
    assert list(exc.value.error_dict) == ["id_type"]
    assert exc.value.error_dict["id_type"][0].code == "invalid"
    assert exc.value.message_dict == {"id_type": ["Unknown identity document type."]}


# --- Hong Kong/Macao/Taiwan residence permit -----------------------------------------------------


@pytest.mark.parametrize("prefix", ["810000", "820000", "830000"])
def test_hmt_residence_permit_is_valid_with_its_prefixes(prefix):
    number = compose_resident_id(prefix, datetime.date(1992, 8, 8), 35)
    facts = validate_identity_document(HMT, number.lower())
    assert facts.number == number
    assert facts.sex == Sex.MALE
    assert facts.birth_date == datetime.date(1992, 8, 8)


@pytest.mark.parametrize("prefix", ["310104", "840000", "810001", "910000"])
def test_hmt_residence_permit_with_another_prefix_is_refused(prefix):
    number = compose_resident_id(prefix, datetime.date(1992, 8, 8), 35)
    codes, messages = refusal(HMT, number)
    assert codes == ["invalid_region"]
    assert messages == [
        "A Hong Kong/Macao/Taiwan residence permit number starts with 810000, 820000 or 830000."
    ]


def test_hmt_residence_permit_checks_check_character_and_birth_date():
    number = compose_resident_id("810000", datetime.date(1992, 8, 8), 36)
    assert refusal(HMT, with_wrong_check(number))[0] == ["invalid_checksum"]
    assert refusal(HMT, number[:-1])[0] == ["invalid_length"]

    from stdnum.cn import ric

    body = "820000" + "19921340" + "036"
    assert refusal(HMT, body + ric.calc_check_digit(body + "0"))[0] == ["invalid_birth_date"]


# --- foreign permanent resident ID card ---------------------------------------------------------


def test_foreign_pr_id_2023_layout_starting_with_9():
    # 9, province 31 (Shanghai), nationality 840, birth date, sequence, check character.
    number = compose_resident_id("931840", datetime.date(1988, 11, 3), 24)
    facts = validate_identity_document(FOREIGN_PR, number)
    assert facts.number == number
    assert facts.sex == Sex.FEMALE
    assert facts.birth_date == datetime.date(1988, 11, 3)


def test_foreign_pr_id_2023_layout_must_start_with_9():
    number = compose_resident_id("831840", datetime.date(1988, 11, 3), 24)
    codes, messages = refusal(FOREIGN_PR, number)
    assert codes == ["invalid_format"]
    assert messages == ["An 18-character foreign permanent resident ID number starts with 9."]


def test_foreign_pr_id_2023_layout_checks_check_character_and_birth_date():
    number = compose_resident_id("931840", datetime.date(1988, 11, 3), 24)
    assert refusal(FOREIGN_PR, with_wrong_check(number))[0] == ["invalid_checksum"]

    from stdnum.cn import ric

    body = "931840" + "19880230" + "024"
    assert refusal(FOREIGN_PR, body + ric.calc_check_digit(body + "0"))[0] == ["invalid_birth_date"]


@time_machine.travel(datetime.datetime(2025, 6, 1, 12, tzinfo=SHANGHAI_TZ), tick=False)
@pytest.mark.parametrize(
    ("typed", "number", "born"),
    [
        ("USA310905171234", "USA310905171234", datetime.date(2009, 5, 17)),
        ("usa 31 880517 1234", "USA318805171234", datetime.date(1988, 5, 17)),
        # two-digit years up to this year are this century, later ones the last
        ("GBR312506011234", "GBR312506011234", datetime.date(2025, 6, 1)),
        ("GBR312606011234", "GBR312606011234", datetime.date(1926, 6, 1)),
    ],
)
def test_foreign_pr_id_old_layout_three_letters_and_twelve_digits(typed, number, born):
    facts = validate_identity_document(FOREIGN_PR, typed)
    assert facts.number == number
    assert facts.birth_date == born
    assert facts.sex is None  # the old layout does not hold it: the clerk enters it


@time_machine.travel(datetime.datetime(2025, 6, 1, 12, tzinfo=SHANGHAI_TZ), tick=False)
def test_foreign_pr_id_old_layout_with_an_unreal_or_future_birth_date():
    codes, messages = refusal(FOREIGN_PR, "USA319002301234")
    assert codes == ["invalid_birth_date"]
    assert messages == ["The birth date in the number is not a real date."]
    codes, _messages = refusal(FOREIGN_PR, "USA312506021234")  # tomorrow
    assert codes == ["invalid_birth_date"]


@pytest.mark.parametrize(
    "number",
    [
        "US3109051712345",  # 2 letters
        "USA31090517123",  # 11 digits
        "USA3109051712345",  # 13 digits
        "US1A31090517123",
        "12345678",
    ],
)
def test_foreign_pr_id_in_neither_layout_is_refused(number):
    codes, messages = refusal(FOREIGN_PR, number)
    assert codes == ["invalid_format"]
    assert messages == [
        "A foreign permanent resident ID number has 18 digits starting with 9, "
        "or 3 letters followed by 12 digits."
    ]


# --- passport ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("e12345678", "E12345678"),
        ("AB 123 456", "AB123456"),
        ("12345", "12345"),
        ("A" * 20, "A" * 20),
    ],
)
def test_passport_number_is_normalised_and_holds_no_sex_or_birth_date(typed, number):
    facts = validate_identity_document(PASSPORT, typed)
    assert facts.number == number
    assert facts.sex is None
    assert facts.birth_date is None


@pytest.mark.parametrize("number", ["E123", "A" * 21, "E1234#567", "E1234.567"])
def test_bad_passport_number_is_refused(number):
    codes, messages = refusal(PASSPORT, number)
    assert codes == ["invalid_format"]
    assert messages == ["A passport number has 5 to 20 letters and digits."]


# --- compose_resident_id ------------------------------------------------------------------------


def test_compose_resident_id_builds_a_number_with_its_check_character():
    assert compose_resident_id("110105", datetime.date(1949, 12, 31), 2) == "11010519491231002X"
    number = compose_resident_id("310104", datetime.date(2001, 1, 2), 7)
    assert number[:17] == "31010420010102007"
    assert len(number) == 18
