"""Application receipt numbers: unguessable, with a check character, easy to read aloud.

Twelve random characters of Crockford's base-32 alphabet (60 bits; no I, L, O, U to confuse) and one
ISO 7064 check character, printed in groups: K7QM-3X9T-PW2R-H.
"""

from __future__ import annotations

import secrets

from stdnum.iso7064 import mod_37_36

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BODY_LENGTH = 12
# What a person may type for a character that is not in the alphabet.
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def new_receipt_number() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + mod_37_36.calc_check_digit(body, alphabet=ALPHABET)


def normalise_receipt_number(value: str) -> str:
    """Upper-case, drop spaces and dashes, fold confusable letters."""
    return "".join(ch for ch in (value or "").upper() if ch.isalnum()).translate(_CONFUSABLE)


def is_valid_receipt_number(value: str) -> bool:
    value = normalise_receipt_number(value)
    return (
        len(value) == BODY_LENGTH + 1
        and all(ch in ALPHABET for ch in value)
        and mod_37_36.is_valid(value, alphabet=ALPHABET)
    )


def format_receipt_number(value: str) -> str:
    return "-".join(value[i : i + 4] for i in range(0, len(value), 4))
