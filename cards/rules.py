"""The rules in force, as data: named, versioned rule sets (issue #17).

`seed-2019` is the rule set the seeds define (the default); `shanghai-3rd-gen` is the city's current
practice drawn from public sources, to be confirmed with the city. Every number is a value here,
not code. A card carries the rule set (name and version) it was made under, and a report's deadline
is computed from it when the report is made, so a change of rules never changes a report already
running.

This module is the one place that knows the values. Code asks `in_force()` (the environment's rule
set, settings.RULE_SET) for something new, or `for_card(card)` for anything about an existing card.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings

SEED_2019 = "seed-2019"
SHANGHAI_3RD_GEN = "shanghai-3rd-gen"


@dataclass(frozen=True)
class Rules:
    name: str
    version: int
    # Loss reports.
    phone_report_validity: datetime.timedelta
    # None: a formal (written) report never expires and never cancels the card by itself.
    written_report_validity: datetime.timedelta | None
    # Validity of a card from its hand-over; None: valid without end. Renewal opens this many days
    # before the expiry date.
    card_validity_years: int | None
    renewal_window_days: int
    # Fees, in fen (1 yuan = 100 fen); collected by the bank for bank cards.
    first_issue_fee_fen: int
    replacement_fee_fen: int
    # A card waiting for collection longer than this is cancelled by a sweep; None: never.
    uncollected_period_days: int | None
    # A street medical point's card is to be collected within this many days (seed 001, "within
    # the specified time"); None: no deadline.
    street_collection_days: int | None
    # The third-generation card's separate financial function (activated, frozen at the bank).
    financial_function: bool
    # An electronic social security card mirrors every card's status.
    electronic_card: bool
    # Who may hold a social security card: Shanghai hukou only (seed), or everyone insured here.
    social_security_card_for_non_hukou: bool
    # One person, one card: issuing a social security card replaces a live medical insurance card.
    one_person_one_card: bool
    # Foreign nationals without an 18-character permit number get a number assigned by the service.
    assign_social_security_numbers: bool
    # The social security PIN locks after this many wrong tries (recorded, never stored).
    pin_tries: int


RULE_SETS: dict[str, Rules] = {
    SEED_2019: Rules(
        name=SEED_2019,
        version=1,
        phone_report_validity=datetime.timedelta(hours=24),
        written_report_validity=datetime.timedelta(days=30),
        card_validity_years=None,
        renewal_window_days=60,
        first_issue_fee_fen=0,
        replacement_fee_fen=0,
        uncollected_period_days=None,
        street_collection_days=30,
        financial_function=False,
        electronic_card=False,
        social_security_card_for_non_hukou=False,
        one_person_one_card=False,
        assign_social_security_numbers=False,
        pin_tries=6,
    ),
    SHANGHAI_3RD_GEN: Rules(
        name=SHANGHAI_3RD_GEN,
        version=1,
        phone_report_validity=datetime.timedelta(days=5),
        written_report_validity=None,
        card_validity_years=10,
        renewal_window_days=60,
        first_issue_fee_fen=0,
        replacement_fee_fen=2000,
        uncollected_period_days=183,
        street_collection_days=30,
        financial_function=True,
        electronic_card=True,
        social_security_card_for_non_hukou=True,
        one_person_one_card=True,
        assign_social_security_numbers=True,
        pin_tries=6,
    ),
}


def get(name: str) -> Rules:
    try:
        return RULE_SETS[name]
    except KeyError:
        raise LookupError(f"No rule set named {name!r}; known: {', '.join(RULE_SETS)}") from None


def in_force() -> Rules:
    """The environment's rule set (settings.RULE_SET), for anything made now."""
    return get(getattr(settings, "RULE_SET", SEED_2019))


def for_card(card: Any) -> Rules:
    """The rule set a card was made under (until cards carry one: the one in force)."""
    name = getattr(card, "rule_set", "") or ""
    return get(name) if name else in_force()
