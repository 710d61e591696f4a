"""Who may have which card, and who may join which insurance: one table each.

The rules change by decree, so they are data: each row names a machine-readable code, the card types
(or routes) it applies to, the condition under which it refuses, and the sentence a clerk reads out.
Which card rows are in force is the rule set's (cards/rules.py `card_eligibility_rows`): under
seed-2019 every row; under shanghai-3rd-gen a social security card is no longer for Shanghai hukou
holders only (non-hukou insured people, students and foreign nationals get one).
Sources: PRODUCT.md "People and eligibility"; Social Insurance Law arts. 2 and 58; seeds 000, 001.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from agencies.choices import District, ServicePointKind
from applicants.choices import INDIVIDUAL_INSURANCES, EnrolmentRoute, Insurance
from applicants.models import Applicant
from cards import rules as rule_sets
from cards.choices import CardType


@dataclass(frozen=True)
class PersonFacts:
    """What the rules look at, gathered in one place (and one query) from an applicant."""

    shanghai_hukou: bool
    foreign_national: bool
    employed: bool
    insured_via_employer: frozenset[str] = field(default_factory=frozenset)
    insured_individually: frozenset[str] = field(default_factory=frozenset)
    # Where the person's Shanghai household registration is, and where they apply (if known).
    hukou_district: str | None = None
    applying_at_street_station_in: str | None = None

    @property
    def insured(self) -> frozenset[str]:
        return self.insured_via_employer | self.insured_individually


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class Answer:
    """Yes, or no with every reason that applies."""

    reasons: tuple[Reason, ...] = ()

    @property
    def eligible(self) -> bool:
        return not self.reasons

    def __bool__(self) -> bool:
        return self.eligible

    def as_details(self) -> dict[str, list[dict[str, str]]]:
        return {"reasons": [{"code": r.code, "message": r.message} for r in self.reasons]}


@dataclass(frozen=True)
class Rule:
    code: str
    applies_to: frozenset[str]
    refuses: Callable[..., bool]
    message: Promise
    # The message's %(...)s values from the facts, for a refusal that says where to go.
    message_values: Callable[[PersonFacts], dict[str, str]] | None = None

    def reason(self, facts: PersonFacts) -> Reason:
        values = self.message_values(facts) if self.message_values else None
        return Reason(self.code, str(self.message) % values if values else str(self.message))


# The districts by the names a household registration place is written with (上海市徐汇区...).
_DISTRICT_NAMES = {
    "黄浦": District.HUANGPU,
    "徐汇": District.XUHUI,
    "长宁": District.CHANGNING,
    "静安": District.JINGAN,
    "普陀": District.PUTUO,
    "虹口": District.HONGKOU,
    "杨浦": District.YANGPU,
    "闵行": District.MINHANG,
    "宝山": District.BAOSHAN,
    "嘉定": District.JIADING,
    "浦东": District.PUDONG,
    "金山": District.JINSHAN,
    "松江": District.SONGJIANG,
    "青浦": District.QINGPU,
    "奉贤": District.FENGXIAN,
    "崇明": District.CHONGMING,
}


def hukou_district(hukou_place: str) -> str | None:
    """The Shanghai district a household registration place names, if it names one."""
    for name, district in _DISTRICT_NAMES.items():
        if name in (hukou_place or ""):
            return district
    return None


def _not_at_hukou_street_station(f: PersonFacts) -> bool:
    """Seed 001: "apply at the street (township) point where the household registration is
    located". On only with APPLY_AT_HUKOU_STREET_STATION (today's city-wide handling may be
    deliberate); judged only where both places are known."""
    return bool(
        settings.APPLY_AT_HUKOU_STREET_STATION
        and f.shanghai_hukou
        and f.hukou_district
        and f.applying_at_street_station_in
        and f.applying_at_street_station_in != f.hukou_district
    )


ALL_CARD_TYPES = frozenset(CardType)

# Card eligibility: a row refuses when `refuses(facts)` is true for a card type it applies to.
CARD_RULES: tuple[Rule, ...] = (
    Rule(
        code="not_insured",
        applies_to=ALL_CARD_TYPES,
        refuses=lambda f: not f.insured,
        message=_("The person takes part in no social insurance; enrol them first."),
    ),
    Rule(
        code="foreign_national_needs_employer",
        applies_to=ALL_CARD_TYPES,
        refuses=lambda f: f.foreign_national and not f.insured_via_employer,
        message=_("A foreign national is insured only through an employer in Shanghai."),
    ),
    Rule(
        code="non_hukou_needs_employer",
        applies_to=ALL_CARD_TYPES,
        refuses=lambda f: (
            not f.foreign_national and not f.shanghai_hukou and not f.insured_via_employer
        ),
        message=_(
            "A person without Shanghai household registration is insured only through an employer."
        ),
    ),
    Rule(
        code="social_security_card_needs_hukou",
        applies_to=frozenset({CardType.SOCIAL_SECURITY}),
        refuses=lambda f: not f.shanghai_hukou,
        message=_(
            "A person without Shanghai household registration is issued a medical insurance card, "
            "not a social security card."
        ),
    ),
    Rule(
        code="apply_at_hukou_street_station",
        applies_to=frozenset({CardType.SOCIAL_SECURITY}),
        refuses=_not_at_hukou_street_station,
        message=_(
            "Apply at a street (township) service station in %(district)s, where the household "
            "registration is."
        ),
        message_values=lambda f: {"district": str(District(f.hukou_district).label)},
    ),
    Rule(
        code="no_medical_insurance",
        applies_to=frozenset({CardType.MEDICAL_INSURANCE}),
        refuses=lambda f: Insurance.MEDICAL not in f.insured,
        message=_("A medical insurance card needs basic medical insurance."),
    ),
)

# Enrolment eligibility: by route.
ENROLMENT_RULES: tuple[Rule, ...] = (
    Rule(
        code="individual_insurance_not_offered",
        applies_to=frozenset({EnrolmentRoute.INDIVIDUAL}),
        refuses=lambda f, insurance: insurance not in INDIVIDUAL_INSURANCES,
        message=_("As an individual a person may join only pension and medical insurance."),
    ),
    Rule(
        code="individual_needs_shanghai_hukou",
        applies_to=frozenset({EnrolmentRoute.INDIVIDUAL}),
        refuses=lambda f, insurance: not f.shanghai_hukou,
        message=_(
            "Individual enrolment is only at the social security office of the person's household "
            "registration, so it needs Shanghai household registration."
        ),
    ),
    Rule(
        code="foreign_national_needs_employer",
        applies_to=frozenset({EnrolmentRoute.INDIVIDUAL}),
        refuses=lambda f, insurance: f.foreign_national,
        message=_("A foreign national is insured only through an employer in Shanghai."),
    ),
    Rule(
        code="no_employment",
        applies_to=frozenset({EnrolmentRoute.EMPLOYER}),
        refuses=lambda f, insurance: not f.employed,
        message=_("Enrolment through an employer needs a current employment."),
    ),
)


def person_facts(
    applicant: Applicant, *, on: datetime.date | None = None, point=None
) -> PersonFacts:
    """Gather the facts the rules need: one query for enrolments, one for employments. `point`:
    the service point the person applies at, if the question is about an application there."""
    on = on or timezone.localdate()
    via_employer: set[str] = set()
    individually: set[str] = set()
    for enrolment in applicant.enrolments.all():
        if enrolment.is_active_on(on):
            target = via_employer if enrolment.route == EnrolmentRoute.EMPLOYER else individually
            target.add(enrolment.insurance)
    employed = any(e.is_active_on(on) for e in applicant.employments.all())
    return PersonFacts(
        shanghai_hukou=applicant.shanghai_hukou,
        foreign_national=applicant.is_foreign_national,
        employed=employed,
        insured_via_employer=frozenset(via_employer),
        insured_individually=frozenset(individually),
        hukou_district=hukou_district(applicant.hukou_place) if applicant.shanghai_hukou else None,
        applying_at_street_station_in=point.district
        if point is not None and point.kind == ServicePointKind.STREET_STATION
        else None,
    )


def card_rules_in_force(rules: rule_sets.Rules | None = None) -> tuple[Rule, ...]:
    """The rows of CARD_RULES the rule set (the one in force if not given) has on."""
    on = (rules or rule_sets.in_force()).card_eligibility_rows
    return tuple(rule for rule in CARD_RULES if rule.code in on)


def card_eligibility(
    facts: PersonFacts, card_type: str, *, rules: rule_sets.Rules | None = None
) -> Answer:
    """May a person with these facts have a card of `card_type` under `rules` (the rule set in
    force if not given)? Yes, or no with every reason."""
    return Answer(
        tuple(
            rule.reason(facts)
            for rule in card_rules_in_force(rules)
            if card_type in rule.applies_to and rule.refuses(facts)
        )
    )


def enrolment_eligibility(facts: PersonFacts, insurance: str, route: str) -> Answer:
    """May a person with these facts join `insurance` by `route`?"""
    return Answer(
        tuple(
            Reason(rule.code, str(rule.message))
            for rule in ENROLMENT_RULES
            if route in rule.applies_to and rule.refuses(facts, insurance)
        )
    )


def applicant_card_eligibility(
    applicant: Applicant, card_type: str, *, point=None, rules: rule_sets.Rules | None = None
) -> Answer:
    """The card eligibility of a person on record, applying at `point` if given, under `rules`
    (the rule set in force if not given)."""
    return card_eligibility(person_facts(applicant, point=point), card_type, rules=rules)
