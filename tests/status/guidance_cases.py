"""The cases of tests/status/test_guidance_texts.py: cards in every state, under both rule sets,
and what the status page's answer says of each (in English), as plain data."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re

import time_machine
from django.test import override_settings
from django.utils import translation

from cards import rules
from cards.choices import CardStatus
from cards.public.lookup import status_lookup
from tests.cards.conftest import T0

S = CardStatus
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)

# name: (rule set, state the card is brought to, when the page is read after T0)
CASES: dict[str, tuple[str, str, datetime.timedelta]] = {
    **{f"seed:{state}": (rules.SEED_2019, state, HOUR) for state in CardStatus},
    "gen3:ready_for_collection": (rules.SHANGHAI_3RD_GEN, S.READY_FOR_COLLECTION, HOUR),
    "gen3:not_collected_in_time": (rules.SHANGHAI_3RD_GEN, S.READY_FOR_COLLECTION, 184 * DAY),
    "gen3:issued": (rules.SHANGHAI_3RD_GEN, S.ISSUED, HOUR),
    "gen3:issued_expired": (rules.SHANGHAI_3RD_GEN, S.ISSUED, 3660 * DAY),
    "gen3:phone_reported_lost": (rules.SHANGHAI_3RD_GEN, S.PHONE_REPORTED_LOST, HOUR),
    "gen3:written_lost": (rules.SHANGHAI_3RD_GEN, S.WRITTEN_LOST, HOUR),
}


def answer_of(card_in, case: str) -> dict:
    rule_set, state, after = CASES[case]
    with override_settings(RULE_SET=rule_set), time_machine.travel(T0, tick=False):
        card = card_in(state)
    with translation.override("en"):
        answer = status_lookup(
            id_number=card.applicant.id_number,
            receipt_number=card.receipt_number,
            now=T0 + after,
        )
        said = dataclasses.asdict(answer)
    # What depends on the factories' sequences (names, numbers), not on the rules.
    for key in ("holder", "receipt_number", "linked"):
        said.pop(key)
    text = json.dumps(said, ensure_ascii=False, default=str)
    return json.loads(re.sub(r"Service point \d+", "Service point N", text))
