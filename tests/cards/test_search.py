"""The counter search recognises what was typed; a malformed number is refused with its rule before
any query is made."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.counter.search import SearchKind, parse_search
from cards.numbers import new_receipt_number

VALID_ID = "11010519491231002X"


@pytest.mark.parametrize(
    ("typed", "kind", "value"),
    [
        (VALID_ID, SearchKind.ID_NUMBER, VALID_ID),
        (" 110105 19491231 002x", SearchKind.ID_NUMBER, VALID_ID),
        ("".join(chr(ord(c) + 0xFEE0) for c in VALID_ID), SearchKind.ID_NUMBER, VALID_ID),
        ("SC0000012345", SearchKind.CARD_OR_DOCUMENT, "SC0000012345"),
        ("e12345678", SearchKind.CARD_OR_DOCUMENT, "E12345678"),
    ],
)
def test_what_was_typed_is_recognised(typed, kind, value):
    key = parse_search(typed)
    assert (key.kind, key.value) == (kind, value)


def test_a_receipt_number_is_recognised_as_typed_with_groups_and_lower_case():
    receipt = new_receipt_number()
    typed = "-".join(receipt.lower()[i : i + 4] for i in range(0, 13, 4))
    key = parse_search(typed)
    assert (key.kind, key.value) == (SearchKind.RECEIPT, receipt)
    assert not key.is_document


def wrong_last(number: str, alphabet: str) -> str:
    return number[:-1] + next(c for c in alphabet if c != number[-1])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "code", "words"),
    [
        (wrong_last(VALID_ID, "0123456789X"), "invalid_checksum", "check character (the 18th)"),
        ("11010519491231002A", "invalid_format", "17 digits followed by a digit or X"),
        ("11010519491231002", "invalid_length", "18 characters"),
        ("AB#12345", "invalid_characters", "only letters and digits"),
        ("A12", "invalid_length", "5 to 20"),
        ("A" * 21, "invalid_length", "5 to 20"),
        ("", "required", "Enter an ID number"),
    ],
)
def test_a_malformed_number_is_refused_with_its_rule_before_any_query(typed, code, words):
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationError) as refused:
        parse_search(typed)
    assert refused.value.code == code
    assert words in str(refused.value.messages[0])
    assert len(queries) == 0


def test_a_receipt_typed_in_groups_with_a_wrong_check_character_is_refused():
    receipt = new_receipt_number()
    bad = wrong_last(receipt, "0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    typed = "-".join(bad[i : i + 4] for i in range(0, 13, 4))
    with pytest.raises(ValidationError) as refused:
        parse_search(typed)
    assert refused.value.code == "invalid_receipt_checksum"
