"""The status page shows a third-generation card's functions (issue #17): the financial function
and the electronic card; nothing of them under seed-2019."""

from __future__ import annotations

import re

from cards import services
from cards.choices import CardStatus, FunctionAction
from tests.status.conftest import lookup

S = CardStatus


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_functions_of_a_third_generation_card(settings, client, world, card_in):
    settings.RULE_SET = "shanghai-3rd-gen"
    card = card_in(S.ISSUED)
    page = text(lookup(client, card.applicant.id_number, card.receipt_number, language="en"))
    assert "Financial function</dt><dd>Not activated" in page
    assert "Electronic social security card</dt><dd>Active" in page
    services.card_financial_change(
        card=card, actor=world.bank_actor, action=FunctionAction.FINANCIAL_ACTIVATE
    )
    page = text(lookup(client, card.applicant.id_number, card.receipt_number, language="en"))
    assert "Financial function</dt><dd>Active" in page


def test_seed_2019_shows_no_functions(client, card_in):
    card = card_in(S.ISSUED)
    page = text(lookup(client, card.applicant.id_number, card.receipt_number, language="en"))
    assert "Financial function" not in page and "Electronic social security card" not in page
