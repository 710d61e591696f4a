"""Validation of identity document numbers; derives sex and birth date where the number holds them.

Resident identity card numbers (GB 11643: 18 characters, region, birth date, sequence, check
character) are validated with python-stdnum's `cn.ric`. The 2023 foreign permanent resident ID and
the Hong Kong/Macao/Taiwan residence permit use the same 18-character layout and check character.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric
from stdnum.util import clean

from applicants.choices import IdDocumentType, Sex

HMT_PREFIXES = {"810000": "HKG", "820000": "MAC", "830000": "TWN"}
_OLD_FOREIGN_PR_ID = re.compile(r"^[A-Z]{3}\d{12}$")
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")
EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)


@dataclass(frozen=True)
class IdentityFacts:
    """What a valid document number tells: its normalised form, and sex and birth date if held."""

    number: str
    sex: str | None = None
    birth_date: datetime.date | None = None


def normalise_id_number(number: str) -> str:
    """Strip spaces and separators, fold full-width characters, upper-case (x -> X)."""
    number = (number or "").translate(
        {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
    )
    return clean(number, " -").strip().upper()


def _error(message, code: str) -> ValidationError:
    return ValidationError({"id_number": ValidationError(message, code=code)})


def _birth_date_from(number: str, start: int) -> datetime.date:
    try:
        born = datetime.date(
            int(number[start : start + 4]),
            int(number[start + 4 : start + 6]),
            int(number[start + 6 : start + 8]),
        )
    except ValueError:
        raise _error(
            _("The birth date in the number is not a real date."), "invalid_birth_date"
        ) from None
    if not EARLIEST_BIRTH_DATE <= born <= timezone.localdate():
        raise _error(_("The birth date in the number is impossible."), "invalid_birth_date")
    return born


def _sex_from(sequence_digit: str) -> str:
    # GB 11643: the 17th character is odd for men and even for women.
    return Sex.MALE if int(sequence_digit) % 2 else Sex.FEMALE


def _check_18(number: str) -> None:
    if len(number) != 18:
        raise _error(_("The number must have 18 characters."), "invalid_length")
    if not number[:-1].isdigit() or not (number[-1].isdigit() or number[-1] == "X"):
        raise _error(_("The number must be 17 digits followed by a digit or X."), "invalid_format")
    if number[-1] != ric.calc_check_digit(number):
        raise _error(
            _("The check character does not match: the number has a typing error."),
            "invalid_checksum",
        )


def _region_known(region: str, born: datetime.date) -> bool:
    """Whether `region` names an administrative region that still existed in the birth year.

    The code is the place where the number was first issued, which can be years after birth
    (a person born in 1980 in Chuansha County first registered in Pudong has 310115, a code from
    1992), so only a region abolished before the birth year is impossible. python-stdnum's
    `ric.get_birth_place` also refuses regions created after the birth year, and raises KeyError
    for an unknown county under a known prefecture (310199): hence this lookup in its data.
    """
    from stdnum import numdb

    info = {k: v for _part, props in numdb.get("cn/loc").info(region) for k, v in props.items()}
    for county in filter(None, info.get("county", "").split(",")):
        if not county.startswith("["):
            return True
        end = county[1:].split("]", 1)[0].partition("-")[2]
        if not end or int(end) >= born.year:
            return True
    return False


def _validate_resident_id(number: str) -> IdentityFacts:
    _check_18(number)
    born = _birth_date_from(number, 6)
    if not _region_known(number[:6], born):
        raise _error(
            _("The region code of the number is not a known administrative region."),
            "invalid_region",
        )
    return IdentityFacts(number=number, sex=_sex_from(number[16]), birth_date=born)


def _validate_hmt_permit(number: str) -> IdentityFacts:
    _check_18(number)
    if number[:6] not in HMT_PREFIXES:
        raise _error(
            _(
                "A Hong Kong/Macao/Taiwan residence permit number starts with 810000, 820000 "
                "or 830000."
            ),
            "invalid_region",
        )
    born = _birth_date_from(number, 6)
    return IdentityFacts(number=number, sex=_sex_from(number[16]), birth_date=born)


def _validate_foreign_pr_id(number: str) -> IdentityFacts:
    if len(number) == 18:
        # 2023 layout: 9, province code (2), nationality code (3), birth date, sequence, check.
        _check_18(number)
        if number[0] != "9":
            raise _error(
                _("An 18-character foreign permanent resident ID number starts with 9."),
                "invalid_format",
            )
        born = _birth_date_from(number, 6)
        return IdentityFacts(number=number, sex=_sex_from(number[16]), birth_date=born)
    if _OLD_FOREIGN_PR_ID.match(number):
        # 2017 layout: nationality (3 letters), place (2), birth date YYMMDD, sequence, check.
        yymmdd = number[5:11]
        century = "19" if int(yymmdd[:2]) > timezone.localdate().year % 100 else "20"
        born = _birth_date_from(century + yymmdd, 0)
        return IdentityFacts(number=number, birth_date=born)
    raise _error(
        _(
            "A foreign permanent resident ID number has 18 digits starting with 9, "
            "or 3 letters followed by 12 digits."
        ),
        "invalid_format",
    )


def _validate_passport(number: str) -> IdentityFacts:
    if not _PASSPORT.match(number):
        raise _error(_("A passport number has 5 to 20 letters and digits."), "invalid_format")
    return IdentityFacts(number=number)


_VALIDATORS = {
    IdDocumentType.RESIDENT_ID: _validate_resident_id,
    IdDocumentType.HMT_RESIDENCE_PERMIT: _validate_hmt_permit,
    IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID: _validate_foreign_pr_id,
    IdDocumentType.PASSPORT: _validate_passport,
}


def validate_identity_document(id_type: str, number: str) -> IdentityFacts:
    """Validate a document number of `id_type`; raise ValidationError naming `id_number`."""
    validator = _VALIDATORS.get(id_type)
    if validator is None:
        raise ValidationError(
            {"id_type": ValidationError(_("Unknown identity document type."), code="invalid")}
        )
    number = normalise_id_number(number)
    if not number:
        raise _error(_("The identity document number is required."), "required")
    return validator(number)


def identity_contradictions(
    facts: IdentityFacts, *, sex: str | None, birth_date: datetime.date | None
) -> dict[str, str]:
    """The form's sex and birth date that contradict what the document number holds, by field.

    Refused, never silently replaced: a form that says otherwise was filled in for someone else,
    or mistyped, and the clerk (or bank) must see which."""
    errors: dict[str, str] = {}
    if facts.sex and sex and sex != facts.sex:
        errors["sex"] = str(_("The sex contradicts the identity document number."))
    if facts.birth_date and birth_date and birth_date != facts.birth_date:
        errors["birth_date"] = str(
            _("The birth date contradicts the identity document number (%(date)s).")
            % {"date": facts.birth_date.isoformat()}
        )
    return errors


PHONE = re.compile(r"\+?[0-9 -]{5,20}")


def phone_checked(value: str) -> str:
    """A phone number to call back: full-width characters folded (NFKC), then a leading +,
    digits, spaces and dashes, 5 to 20 of them (the API's `phone` pattern). Raises
    ValidationError with the rule otherwise."""
    folded = unicodedata.normalize("NFKC", value or "").strip()
    if not PHONE.fullmatch(folded) or sum(c.isdigit() for c in folded) < 5:
        raise _error(
            _("A phone number has 5 to 20 digits (a leading +, spaces and dashes allowed)."),
            "invalid_phone",
        )
    return folded


def person_name_refusal(name: str) -> str | None:
    """Why a person's name, as typed, cannot be stored, or None. A name is what the identity
    document prints: letters of any script, spaces and the marks names use (· - ' .). An
    invisible or control character (a zero-width space passes every `required` check, a
    right-to-left override turns the name around on screen) or an emoji is refused, naming it."""
    for char in name:
        category = unicodedata.category(char)
        if category[0] == "C":  # control, format (zero-width, direction), unassigned, private
            return str(
                _(
                    "A name holds only visible characters: remove the invisible or control "
                    "character U+%(code)04X."
                )
                % {"code": ord(char)}
            )
        if category == "So":
            return str(
                _("A name holds letters, not symbols or emoji (U+%(code)04X).")
                % {"code": ord(char)}
            )
    return None


def validate_uscc(value: str) -> str:
    """Validate a Unified Social Credit Code (GB 32100) with python-stdnum; return it compact."""
    from stdnum.cn import uscc

    try:
        return uscc.validate(value)
    except stdnum_errors.InvalidChecksum:
        raise ValidationError(
            _("The check character of the unified social credit code does not match."),
            code="invalid_checksum",
        ) from None
    except stdnum_errors.ValidationError:
        raise ValidationError(
            _("A unified social credit code has 18 characters: digits and capital letters."),
            code="invalid_format",
        ) from None


def compose_resident_id(region: str, birth_date: datetime.date, sequence: int) -> str:
    """Build a resident identity card number with its check character (demo data and tests).

    `region` is a 6-digit administrative code, `sequence` 0-999 (odd for men, even for women).
    """
    body = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")
