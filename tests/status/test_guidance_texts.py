"""What the status page says, word for word (cards/public/lookup.py, issue #18): a card in every
state under seed-2019, and the third-generation rule set's own texts (the uncollected deadline, a
card's validity and its expiry, a five-day phone report, a formal report without a deadline), in
English. `guidance_texts.json` is the record of those answers as read and approved; a change of
wording, of a date shown or of a state's next step is a deliberate edit of that file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.status.guidance_cases import CASES, answer_of

EXPECTED = json.loads((Path(__file__).parent / "guidance_texts.json").read_text())


def test_every_case_has_its_record():
    assert set(EXPECTED) == set(CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_the_page_says_what_was_approved(card_in, case):
    assert answer_of(card_in, case) == EXPECTED[case]


@pytest.mark.parametrize("case", list(CASES))
def test_no_sentence_ends_twice(card_in, case):
    """An English time ends in "p.m.": a sentence ending in one would end in two full stops."""
    said = json.dumps(answer_of(card_in, case), ensure_ascii=False)
    assert ".." not in said
