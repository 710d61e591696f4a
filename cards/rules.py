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

import dataclasses
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
    # The eligibility rows (applicants/policy.py CARD_RULES codes) that are in force.
    card_eligibility_rows: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


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
        card_eligibility_rows=frozenset(
            {
                "not_insured",
                "foreign_national_needs_employer",
                "non_hukou_needs_employer",
                "social_security_card_needs_hukou",
                "apply_at_hukou_street_station",
                "no_medical_insurance",
            }
        ),
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
        # Non-hukou insured people, students (insured through their school, not an employer) and
        # foreign nationals (insured through their employer) get a social security card.
        card_eligibility_rows=frozenset(
            {
                "not_insured",
                "foreign_national_needs_employer",
                "apply_at_hukou_street_station",
                "no_medical_insurance",
            }
        ),
    ),
}
# Earlier versions of a rule set, kept as they were: cards made under them keep their rules. A
# changed value is a new version (the stored rows, cards.models.RuleSet, refuse a changed one).
PAST_VERSIONS: tuple[Rules, ...] = ()


ALL_VERSIONS: dict[tuple[str, int], Rules] = {
    (rules.name, rules.version): rules for rules in (*PAST_VERSIONS, *RULE_SETS.values())
}


def get(name: str, version: int | None = None) -> Rules:
    """A rule set by name (its current version) or by name and version."""
    try:
        if version is None:
            return RULE_SETS[name]
        return ALL_VERSIONS[(name, version)]
    except KeyError:
        known = ", ".join(f"{n} v{v}" for n, v in ALL_VERSIONS)
        raise LookupError(f"No rule set {name!r} v{version}; known: {known}") from None


def in_force() -> Rules:
    """The environment's rule set (settings.RULE_SET), for anything made now."""
    return get(getattr(settings, "RULE_SET", SEED_2019))


def in_force_name() -> str:
    """The default of Card.rule_set: a card is made under the rules in force."""
    return in_force().name


def in_force_version() -> int:
    """The default of Card.rule_set_version."""
    return in_force().version


def for_card(card: Any) -> Rules:
    """The rule set a card was made under (its name and version), whatever is in force now."""
    name = getattr(card, "rule_set", "") or ""
    if not name:
        return in_force()
    return get(name, getattr(card, "rule_set_version", None))


def open_ended_written_reports() -> list[tuple[str, int]]:
    """(name, version) of every rule set whose formal loss report has no deadline: the database
    lets a written_lost card of these have no written_report_expires_at (cards.models.Card)."""
    return sorted(
        key for key, rules in ALL_VERSIONS.items() if rules.written_report_validity is None
    )


# --- As data: the stored rows (cards.models.RuleSet) ------------------------------------------


def as_values(rules: Rules) -> dict[str, Any]:
    """The rule set's values as JSON: durations in seconds, sets as sorted lists."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(rules):
        if f.name in ("name", "version"):
            continue
        value = getattr(rules, f.name)
        if isinstance(value, datetime.timedelta):
            value = int(value.total_seconds())
        elif isinstance(value, frozenset):
            value = sorted(value)
        values[f.name] = value
    return values


_DURATIONS = {"phone_report_validity", "written_report_validity"}


def from_values(name: str, version: int, values: dict[str, Any]) -> Rules:
    """A Rules from stored values, validated against the dataclass: every field present, no
    unknown field, each of its type. Raises ValueError naming the field."""
    fields = {f.name: f for f in dataclasses.fields(Rules) if f.name not in ("name", "version")}
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"unknown rule(s): {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for field_name, f in fields.items():
        if field_name not in values:
            raise ValueError(f"{field_name}: missing")
        value = values[field_name]
        optional = "None" in str(f.type)
        if value is None:
            if not optional:
                raise ValueError(f"{field_name}: required")
        elif field_name in _DURATIONS:
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{field_name}: a positive number of seconds")
            value = datetime.timedelta(seconds=value)
        elif field_name == "card_eligibility_rows":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{field_name}: a list of row codes")
            value = frozenset(value)
        elif str(f.type).startswith("bool"):
            if not isinstance(value, bool):
                raise ValueError(f"{field_name}: true or false")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{field_name}: a whole number, 0 or more")
        kwargs[field_name] = value
    return Rules(name=name, version=version, **kwargs)


def record_rule_sets(rule_set_model) -> list[str]:
    """Store a row per (name, version) of the code's rule sets (a data migration, with its
    historical model, and `manage.py migrate` every release); a stored row whose values differ
    from the code's is refused: a changed rule is a new version, never an edit."""
    created = []
    for (name, version), rules in ALL_VERSIONS.items():
        values = as_values(rules)
        row, made = rule_set_model.objects.get_or_create(
            name=name, version=version, defaults={"values": values}
        )
        if made:
            created.append(rules.label)
        elif row.values != values:
            raise RuntimeError(
                f"Rule set {rules.label} was stored with other values: give the change a new "
                "version (cards/rules.py PAST_VERSIONS keeps the old one)."
            )
    return created


# --- Dates a rule set gives a card ----------------------------------------------------------


def card_expires_on(rules: Rules, issued_on: datetime.date) -> datetime.date | None:
    """The day a card issued on `issued_on` stops being valid (card_validity_years later; 29
    February falls on 28 February), or None when the rule set gives cards no end."""
    years = rules.card_validity_years
    if years is None:
        return None
    try:
        return issued_on.replace(year=issued_on.year + years)
    except ValueError:
        return issued_on.replace(year=issued_on.year + years, day=28)


def renewal_opens_on(rules: Rules, expires_on: datetime.date | None) -> datetime.date | None:
    """The first day a renewal may be applied for: renewal_window_days before the expiry."""
    if expires_on is None:
        return None
    return expires_on - datetime.timedelta(days=rules.renewal_window_days)
