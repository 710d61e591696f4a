"""The eligibility tables (applicants/policy.py): every rule, both answers, every reason at once."""

import datetime

import pytest
import time_machine

from applicants.choices import EnrolmentRoute, IdDocumentType, Insurance, Sex
from applicants.policy import (
    CARD_RULES,
    ENROLMENT_RULES,
    Answer,
    PersonFacts,
    Reason,
    applicant_card_eligibility,
    card_eligibility,
    enrolment_eligibility,
    person_facts,
)
from cards.choices import CardType
from tests.factories import ApplicantFactory, EmploymentFactory, EnrolmentFactory

SS = CardType.SOCIAL_SECURITY
MED = CardType.MEDICAL_INSURANCE
EMPLOYER = EnrolmentRoute.EMPLOYER
INDIVIDUAL = EnrolmentRoute.INDIVIDUAL
BOTH = frozenset({Insurance.PENSION, Insurance.MEDICAL})
ALL_FIVE = frozenset(Insurance)

# What a clerk reads out, by code.
MESSAGES = {
    "not_insured": "The person takes part in no social insurance; enrol them first.",
    "foreign_national_needs_employer": (
        "A foreign national is insured only through an employer in Shanghai."
    ),
    "non_hukou_needs_employer": (
        "A person without Shanghai household registration is insured only through an employer."
    ),
    "social_security_card_needs_hukou": (
        "A person without Shanghai household registration is issued a medical insurance card, "
        "not a social security card."
    ),
    "apply_at_hukou_street_station": (
        "Apply at a street (township) service station in %(district)s, where the household "
        "registration is."
    ),
    "no_medical_insurance": "A medical insurance card needs basic medical insurance.",
    "individual_insurance_not_offered": (
        "As an individual a person may join only pension and medical insurance."
    ),
    "individual_needs_shanghai_hukou": (
        "Individual enrolment is only at the social security office of the person's household "
        "registration, so it needs Shanghai household registration."
    ),
    "no_employment": "Enrolment through an employer needs a current employment.",
}


def facts(
    *,
    hukou: bool = True,
    foreign: bool = False,
    employed: bool = False,
    via_employer: frozenset = frozenset(),
    individually: frozenset = frozenset(),
) -> PersonFacts:
    return PersonFacts(
        shanghai_hukou=hukou,
        foreign_national=foreign,
        employed=employed,
        insured_via_employer=frozenset(via_employer),
        insured_individually=frozenset(individually),
    )


def reasons(*codes: str) -> tuple[Reason, ...]:
    return tuple(Reason(code, MESSAGES[code]) for code in codes)


# Shorthands for realistic people.
HUKOU_INDIVIDUAL = facts(individually=BOTH)
HUKOU_EMPLOYEE = facts(employed=True, via_employer=ALL_FIVE)
MIGRANT_EMPLOYEE = facts(hukou=False, employed=True, via_employer=ALL_FIVE)
FOREIGN_EMPLOYEE = facts(hukou=False, foreign=True, employed=True, via_employer=ALL_FIVE)


def test_every_rule_in_the_tables_is_covered_here():
    """A new rule must come with its rows in the tests below."""
    assert [r.code for r in CARD_RULES] == [
        "not_insured",
        "foreign_national_needs_employer",
        "non_hukou_needs_employer",
        "social_security_card_needs_hukou",
        "apply_at_hukou_street_station",
        "no_medical_insurance",
    ]
    assert [r.code for r in ENROLMENT_RULES] == [
        "individual_insurance_not_offered",
        "individual_needs_shanghai_hukou",
        "foreign_national_needs_employer",
        "no_employment",
    ]
    assert {str(r.message) for r in CARD_RULES + ENROLMENT_RULES} == set(MESSAGES.values())


# --- cards: one row per rule, refused by that rule alone, and the nearest eligible person --------

CARD_ROWS = [
    # rule, card type, refused person, eligible person
    ("not_insured", SS, facts(), HUKOU_INDIVIDUAL),
    (
        "foreign_national_needs_employer",
        MED,
        facts(hukou=False, foreign=True, individually={Insurance.MEDICAL}),
        facts(hukou=False, foreign=True, employed=True, via_employer={Insurance.MEDICAL}),
    ),
    (
        "non_hukou_needs_employer",
        MED,
        facts(hukou=False, individually={Insurance.MEDICAL}),
        facts(hukou=False, employed=True, via_employer={Insurance.MEDICAL}),
    ),
    ("social_security_card_needs_hukou", SS, MIGRANT_EMPLOYEE, HUKOU_EMPLOYEE),
    (
        "no_medical_insurance",
        MED,
        facts(individually={Insurance.PENSION}),
        facts(individually={Insurance.PENSION, Insurance.MEDICAL}),
    ),
]


@pytest.mark.parametrize(
    ("code", "card_type", "refused", "eligible"), CARD_ROWS, ids=[r[0] for r in CARD_ROWS]
)
def test_card_rule_refuses_and_allows(code, card_type, refused, eligible):
    answer = card_eligibility(refused, card_type)
    assert not answer
    assert answer.eligible is False
    assert answer.reasons == reasons(code)

    answer = card_eligibility(eligible, card_type)
    assert answer
    assert answer.reasons == ()


@pytest.mark.parametrize(
    ("person", "card_type"),
    [
        (HUKOU_INDIVIDUAL, SS),
        (HUKOU_INDIVIDUAL, MED),
        (HUKOU_EMPLOYEE, SS),
        (HUKOU_EMPLOYEE, MED),
        (MIGRANT_EMPLOYEE, MED),
        (FOREIGN_EMPLOYEE, MED),
        # individual pension alone suffices for a social security card
        (facts(individually={Insurance.PENSION}), SS),
        # insured through a past employer's enrolment still running, not employed today
        (facts(hukou=False, via_employer={Insurance.MEDICAL}), MED),
    ],
)
def test_card_eligible_people(person, card_type):
    assert card_eligibility(person, card_type) == Answer()


@pytest.mark.parametrize(
    ("person", "card_type", "codes"),
    [
        # the social security card rule does not refuse a medical insurance card, and vice versa
        (MIGRANT_EMPLOYEE, SS, ("social_security_card_needs_hukou",)),
        (FOREIGN_EMPLOYEE, SS, ("social_security_card_needs_hukou",)),
        (facts(individually={Insurance.PENSION}), MED, ("no_medical_insurance",)),
        # nobody: every reason at once, in the table's order
        (facts(), MED, ("not_insured", "no_medical_insurance")),
        (
            facts(hukou=False),
            SS,
            ("not_insured", "non_hukou_needs_employer", "social_security_card_needs_hukou"),
        ),
        (
            facts(hukou=False),
            MED,
            ("not_insured", "non_hukou_needs_employer", "no_medical_insurance"),
        ),
        (
            facts(hukou=False, foreign=True, employed=True),
            SS,
            ("not_insured", "foreign_national_needs_employer", "social_security_card_needs_hukou"),
        ),
        (
            facts(hukou=False, foreign=True, individually={Insurance.PENSION}),
            MED,
            ("foreign_national_needs_employer", "no_medical_insurance"),
        ),
    ],
)
def test_card_refusals_list_every_reason(person, card_type, codes):
    answer = card_eligibility(person, card_type)
    assert answer.reasons == reasons(*codes)
    assert answer.as_details() == {
        "reasons": [{"code": code, "message": MESSAGES[code]} for code in codes]
    }


def test_insured_is_the_union_of_both_routes():
    person = facts(via_employer={Insurance.WORK_INJURY}, individually={Insurance.PENSION})
    assert person.insured == {Insurance.WORK_INJURY, Insurance.PENSION}


# --- enrolment ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "insurance", [Insurance.WORK_INJURY, Insurance.UNEMPLOYMENT, Insurance.MATERNITY]
)
def test_individual_may_not_join_work_injury_unemployment_or_maternity(insurance):
    answer = enrolment_eligibility(facts(), insurance, INDIVIDUAL)
    assert answer.reasons == reasons("individual_insurance_not_offered")
    # through an employer, the same person may
    assert enrolment_eligibility(facts(employed=True), insurance, EMPLOYER)


@pytest.mark.parametrize("insurance", [Insurance.PENSION, Insurance.MEDICAL])
def test_individual_with_shanghai_hukou_may_join_pension_and_medical(insurance):
    assert enrolment_eligibility(facts(), insurance, INDIVIDUAL) == Answer()


def test_individual_enrolment_needs_shanghai_hukou():
    answer = enrolment_eligibility(facts(hukou=False), Insurance.MEDICAL, INDIVIDUAL)
    assert answer.reasons == reasons("individual_needs_shanghai_hukou")
    assert enrolment_eligibility(facts(hukou=True), Insurance.MEDICAL, INDIVIDUAL)


def test_foreign_national_may_not_enrol_as_an_individual():
    foreign = facts(hukou=False, foreign=True, employed=True)
    answer = enrolment_eligibility(foreign, Insurance.PENSION, INDIVIDUAL)
    assert answer.reasons == reasons(
        "individual_needs_shanghai_hukou", "foreign_national_needs_employer"
    )
    # the rule by itself, whatever the other facts
    alone = enrolment_eligibility(facts(foreign=True), Insurance.PENSION, INDIVIDUAL)
    assert alone.reasons == reasons("foreign_national_needs_employer")
    # through the employer they may
    assert enrolment_eligibility(foreign, Insurance.PENSION, EMPLOYER) == Answer()


def test_enrolment_through_an_employer_needs_a_current_employment():
    answer = enrolment_eligibility(facts(), Insurance.WORK_INJURY, EMPLOYER)
    assert answer.reasons == reasons("no_employment")
    assert enrolment_eligibility(facts(employed=True), Insurance.WORK_INJURY, EMPLOYER)


@pytest.mark.parametrize("insurance", sorted(Insurance))
def test_employees_may_join_all_five_whoever_they_are(insurance):
    for person in (HUKOU_EMPLOYEE, MIGRANT_EMPLOYEE, FOREIGN_EMPLOYEE):
        assert enrolment_eligibility(person, insurance, EMPLOYER) == Answer()


def test_enrolment_refusal_lists_every_reason():
    foreign = facts(hukou=False, foreign=True)
    answer = enrolment_eligibility(foreign, Insurance.MATERNITY, INDIVIDUAL)
    codes = (
        "individual_insurance_not_offered",
        "individual_needs_shanghai_hukou",
        "foreign_national_needs_employer",
    )
    assert answer.reasons == reasons(*codes)
    assert answer.as_details() == {
        "reasons": [{"code": code, "message": MESSAGES[code]} for code in codes]
    }


# --- person_facts: from the database ------------------------------------------------------------

ON = datetime.date(2025, 6, 1)


@pytest.mark.django_db
def test_person_facts_counts_only_what_is_active_on_the_day(django_assert_num_queries):
    applicant = ApplicantFactory(shanghai_hukou=True)
    current = EmploymentFactory(applicant=applicant, start_date=datetime.date(2025, 1, 1))
    EmploymentFactory(  # ended
        applicant=applicant,
        start_date=datetime.date(2020, 1, 1),
        end_date=datetime.date(2024, 12, 31),
    )
    EnrolmentFactory(
        applicant=applicant,
        insurance=Insurance.WORK_INJURY,
        route=EMPLOYER,
        employment=current,
        start_date=datetime.date(2025, 1, 1),
    )
    EnrolmentFactory(  # expired
        applicant=applicant,
        insurance=Insurance.MEDICAL,
        route=INDIVIDUAL,
        start_date=datetime.date(2020, 1, 1),
        end_date=datetime.date(2025, 5, 31),
    )
    EnrolmentFactory(  # starts later
        applicant=applicant,
        insurance=Insurance.PENSION,
        route=INDIVIDUAL,
        start_date=datetime.date(2025, 6, 2),
    )
    with django_assert_num_queries(2):
        result = person_facts(applicant, on=ON)
    assert result == PersonFacts(
        shanghai_hukou=True,
        foreign_national=False,
        employed=True,
        insured_via_employer=frozenset({Insurance.WORK_INJURY}),
        insured_individually=frozenset(),
        hukou_district="xuhui",  # 上海市徐汇区
    )
    # On the last day of the medical enrolment, it still counts.
    assert person_facts(applicant, on=datetime.date(2025, 5, 31)).insured_individually == {
        Insurance.MEDICAL
    }


@pytest.mark.django_db
def test_person_facts_ended_employment_is_not_employed():
    applicant = ApplicantFactory()
    EmploymentFactory(
        applicant=applicant,
        start_date=datetime.date(2024, 1, 1),
        end_date=datetime.date(2025, 5, 31),
    )
    assert person_facts(applicant, on=ON).employed is False
    assert person_facts(applicant, on=datetime.date(2025, 5, 31)).employed is True
    assert person_facts(applicant, on=datetime.date(2023, 12, 31)).employed is False


@pytest.mark.django_db
def test_person_facts_of_a_foreign_national():
    applicant = ApplicantFactory(
        name="John Smith",
        id_type=IdDocumentType.PASSPORT,
        id_number="E12345678",
        nationality="USA",
        shanghai_hukou=False,
        hukou_place="",
        sex=Sex.MALE,
        birth_date=datetime.date(1985, 4, 1),
    )
    result = person_facts(applicant, on=ON)
    assert (result.foreign_national, result.shanghai_hukou, result.employed) == (
        True,
        False,
        False,
    )
    assert result.insured == frozenset()


@pytest.mark.django_db
def test_applicant_card_eligibility_uses_today_in_shanghai():
    applicant = ApplicantFactory(shanghai_hukou=True)
    EnrolmentFactory(
        applicant=applicant,
        insurance=Insurance.MEDICAL,
        route=INDIVIDUAL,
        start_date=datetime.date(2024, 1, 1),
        end_date=datetime.date(2025, 5, 31),
    )
    shanghai = datetime.timezone(datetime.timedelta(hours=8))
    # 23:30 on 31 May in Shanghai: the enrolment's last day.
    with time_machine.travel(datetime.datetime(2025, 5, 31, 23, 30, tzinfo=shanghai), tick=False):
        assert applicant_card_eligibility(applicant, MED) == Answer()
    # 00:30 on 1 June in Shanghai, still 31 May in UTC: expired.
    with time_machine.travel(datetime.datetime(2025, 6, 1, 0, 30, tzinfo=shanghai), tick=False):
        answer = applicant_card_eligibility(applicant, MED)
    assert answer.reasons == reasons("not_insured", "no_medical_insurance")
    assert answer.as_details()["reasons"][0] == {
        "code": "not_insured",
        "message": MESSAGES["not_insured"],
    }


@pytest.mark.django_db
def test_applicant_card_eligibility_migrant_employee_gets_a_medical_card_only():
    applicant = ApplicantFactory(shanghai_hukou=False, hukou_place="安徽省合肥市")
    employment = EmploymentFactory(applicant=applicant, start_date=datetime.date(2024, 1, 1))
    for insurance in (Insurance.PENSION, Insurance.MEDICAL):
        EnrolmentFactory(
            applicant=applicant,
            insurance=insurance,
            route=EMPLOYER,
            employment=employment,
            start_date=datetime.date(2024, 1, 1),
        )
    noon = datetime.datetime(2025, 6, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    with time_machine.travel(noon, tick=False):
        assert applicant_card_eligibility(applicant, MED)
        answer = applicant_card_eligibility(applicant, SS)
    assert answer.reasons == reasons("social_security_card_needs_hukou")


# --- Seed 001: apply at the street station of the household registration (off by default) -----


@pytest.fixture
def stations(db):
    from agencies.choices import District, ServicePointKind
    from tests.factories import ServicePointFactory

    station = ServicePointKind.STREET_STATION
    return {
        "xuhui": ServicePointFactory(kind=station, district=District.XUHUI),
        "pudong": ServicePointFactory(kind=station, district=District.PUDONG),
        "pudong_center": ServicePointFactory(
            kind=ServicePointKind.COMMUNITY_CENTER, district=District.PUDONG
        ),
    }


def xuhui_resident():
    from tests.cards.conftest import eligible_person

    return eligible_person(hukou_place="上海市徐汇区漕河泾街道")


def test_the_hukou_station_rule_is_off_by_default(settings, stations):
    assert settings.APPLY_AT_HUKOU_STREET_STATION is False
    person = xuhui_resident()
    assert applicant_card_eligibility(person, SS, point=stations["pudong"])


def test_on_it_sends_the_person_to_a_station_of_their_hukou_district(settings, stations):
    settings.APPLY_AT_HUKOU_STREET_STATION = True
    person = xuhui_resident()
    answer = applicant_card_eligibility(person, SS, point=stations["pudong"])
    assert [r.code for r in answer.reasons] == ["apply_at_hukou_street_station"]
    assert answer.reasons[0].message == (
        "Apply at a street (township) service station in Xuhui, where the household "
        "registration is."
    )
    assert applicant_card_eligibility(person, SS, point=stations["xuhui"])
    # Only street stations are bound; a community center and the medical card are not.
    assert applicant_card_eligibility(person, SS, point=stations["pudong_center"])
    assert not [
        r
        for r in applicant_card_eligibility(person, MED, point=stations["pudong"]).reasons
        if r.code == "apply_at_hukou_street_station"
    ]
    # A household registration place that names no district cannot be judged: not refused.
    person.hukou_place = "上海市"
    assert applicant_card_eligibility(person, SS, point=stations["pudong"])


def test_on_a_counter_application_at_another_district_is_refused_saying_where(settings, stations):
    from cards import services
    from common.errors import ApplicationError
    from tests.cards.conftest import staff_actor
    from tests.factories import PartnerBankFactory, ServicePointFactory

    settings.APPLY_AT_HUKOU_STREET_STATION = True
    bank = PartnerBankFactory(code="BOSC")
    outlet = ServicePointFactory(kind="bank_outlet", bank=bank)
    person = xuhui_resident()
    with pytest.raises(ApplicationError) as exc:
        services.card_submit(
            applicant=person,
            card_type=SS,
            actor=staff_actor(stations["pudong"]),
            bank=bank,
            collection_point=outlet,
        )
    assert exc.value.code == "not_eligible"
    assert "in Xuhui" in exc.value.message
    card = services.card_submit(
        applicant=person,
        card_type=SS,
        actor=staff_actor(stations["xuhui"]),
        bank=bank,
        collection_point=outlet,
    )
    assert card.service_point == stations["xuhui"]


# --- The dataclasses themselves (issue #18: mutation testing) --------------------------------


def test_facts_answers_and_rules_cannot_be_changed_once_made():
    import dataclasses

    for value, field_name in (
        (HUKOU_INDIVIDUAL, "shanghai_hukou"),
        (Answer(), "reasons"),
        (Reason("x", "y"), "code"),
        (CARD_RULES[0], "code"),
        (ENROLMENT_RULES[0], "code"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field_name, None)


def test_facts_without_insurances_are_insured_in_nothing():
    bare = PersonFacts(shanghai_hukou=True, foreign_national=False, employed=False)
    assert bare.insured == frozenset()
    assert card_eligibility(bare, SS).reasons == reasons("not_insured")
    assert Answer().eligible and bool(Answer())


# Every district by the name its household registration places are written with, as a clerk
# reads them off a hukou booklet (written out here, not read from the code's table).
HUKOU_PLACES = {
    "上海市黄浦区": "huangpu",
    "上海市徐汇区": "xuhui",
    "上海市长宁区": "changning",
    "上海市静安区": "jingan",
    "上海市普陀区": "putuo",
    "上海市虹口区": "hongkou",
    "上海市杨浦区": "yangpu",
    "上海市闵行区": "minhang",
    "上海市宝山区": "baoshan",
    "上海市嘉定区": "jiading",
    "上海市浦东新区": "pudong",
    "上海市金山区": "jinshan",
    "上海市松江区": "songjiang",
    "上海市青浦区": "qingpu",
    "上海市奉贤区": "fengxian",
    "上海市崇明区": "chongming",
}


@pytest.mark.parametrize(("place", "district"), HUKOU_PLACES.items())
def test_every_districts_hukou_place_is_recognised(place, district):
    from applicants.policy import hukou_district

    assert hukou_district(place + "某某路1号") == district


def test_a_place_outside_shanghai_names_no_district():
    from applicants.policy import hukou_district

    assert hukou_district("江苏省苏州市姑苏区") is None
    assert hukou_district("") is None
