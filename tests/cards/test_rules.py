"""The rules in force as configuration (issue #17): named, versioned rule sets (cards/rules.py),
stored per version (cards.models.RuleSet), fixed on each card when it is made; the deadlines,
validity, uncollected period, street collection time and eligibility rows that follow from them;
and that switching the environment's rule set leaves running reports on the rules they began with.
"""

from __future__ import annotations

import dataclasses
import datetime
import time

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import override_settings

from agencies.choices import StaffRole
from applicants.choices import EnrolmentRoute, Insurance
from cards import rules, selectors, services
from cards.choices import (
    CardStatus,
    CardType,
    OverdueKind,
    ReplacementReason,
    TransitionName,
)
from cards.counter.views import collection_advice, state_in_words
from cards.expiry import EXPIRIES, expire_batch
from cards.models import Card, CardCenterNotice, CardTransition, OutboxEvent, RuleSet
from cards.sweeps import due_counts, flag_overdue_work, sweep
from common.errors import ApplicationError
from tests.cards.conftest import (
    T0,
    bring_to,
    card_number,
    eligible_person,
    report_by_phone,
    submit,
)
from tests.conftest import staff_login
from tests.factories import EmploymentFactory, EnrolmentFactory, UserFactory
from tests.locks import lock_timeout, row_held

S = CardStatus
T = TransitionName
SEED = rules.SEED_2019
GEN3 = rules.SHANGHAI_3RD_GEN
US = datetime.timedelta(microseconds=1)
DAY = datetime.timedelta(days=1)


def in_writing(world, card: Card) -> Card:
    return services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number
    )


def issued_under(world, rule_set: str, applicant=None) -> Card:
    with override_settings(RULE_SET=rule_set):
        return bring_to(world, submit(world, applicant or eligible_person()), S.ISSUED)


# --- Rule sets as data ------------------------------------------------------------------------


@pytest.fixture
def stored(db):
    """The rows the data migration writes (written again here: a transactional test's flush
    elsewhere in the run empties the table; recording is idempotent)."""
    rules.record_rule_sets(RuleSet)


def test_every_rule_set_is_stored_once_per_version_with_the_codes_values(stored):
    stored = {(row.name, row.version): row for row in RuleSet.objects.all()}
    assert set(stored) == set(rules.ALL_VERSIONS)
    for key, code in rules.ALL_VERSIONS.items():
        assert stored[key].values == rules.as_values(code)
        assert stored[key].rules == code  # validated back into the dataclass


def test_a_stored_rule_set_with_other_values_is_refused_not_overwritten(stored):
    row = RuleSet.objects.get(name=SEED, version=1)
    row.values = {**row.values, "replacement_fee_fen": 1}
    row.save()
    with pytest.raises(RuntimeError, match="new version"):
        rules.record_rule_sets(RuleSet)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pin_tries": "six"}, "pin_tries"),
        ({"electronic_card": 1}, "electronic_card"),
        ({"phone_report_validity": None}, "phone_report_validity"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_stored_values_are_validated_against_the_dataclass_naming_the_rule(db, change, field):
    values = {**rules.as_values(rules.get(GEN3)), **change}
    with pytest.raises(ValidationError) as refused:
        RuleSet(name="x", version=9, values=values).clean()
    assert field in str(refused.value)


def test_every_eligibility_row_a_rule_set_names_exists():
    from applicants.policy import CARD_RULES

    codes = {rule.code for rule in CARD_RULES}
    for code in rules.ALL_VERSIONS.values():
        assert code.card_eligibility_rows <= codes, code.label


def test_the_two_rule_sets_differ_in_the_issue_s_values():
    seed, gen3 = rules.get(SEED), rules.get(GEN3)
    assert seed.phone_report_validity == datetime.timedelta(hours=24)
    assert seed.written_report_validity == datetime.timedelta(days=30)
    assert gen3.phone_report_validity == datetime.timedelta(days=5)
    assert gen3.written_report_validity is None
    assert (gen3.card_validity_years, gen3.renewal_window_days) == (10, 60)
    assert gen3.uncollected_period_days == 183 and seed.uncollected_period_days is None
    assert rules.in_force().name == SEED  # the default: the seeds define the service
    with pytest.raises(LookupError):
        rules.get(GEN3, 99)


@pytest.mark.parametrize("rule_set", [SEED, GEN3])
def test_a_card_records_the_rule_set_it_was_made_under(world, rule_set):
    with override_settings(RULE_SET=rule_set):
        card = submit(world, eligible_person())
        assert (card.rule_set, card.rule_set_version) == (rule_set, 1)
        old = bring_to(world, submit(world, eligible_person()), S.ISSUED)
    # A replacement is made under the rules in force when it is made.
    with override_settings(RULE_SET=GEN3 if rule_set == SEED else SEED):
        new = services.card_replace(
            card=old,
            actor=world.clerk,
            reason=ReplacementReason.DAMAGED,
            id_number=old.applicant.id_number,
            card_presented=True,
        )
    assert new.rule_set == (GEN3 if rule_set == SEED else SEED)
    old.refresh_from_db()
    assert old.rule_set == rule_set


def test_a_card_written_without_a_rule_set_is_seed_2019_by_the_database_default(world):
    card = submit(world, eligible_person())
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cards_card SET rule_set = DEFAULT, rule_set_version = DEFAULT WHERE id = %s",
            [card.pk],
        )
    card.refresh_from_db()
    assert (card.rule_set, card.rule_set_version) == (SEED, 1)


def test_the_system_administrator_sees_the_rule_sets_read_only(client, stored):
    from agencies.services import staff_assign

    user = UserFactory(username="sysadmin-rules")
    staff_assign(user=user, role=StaffRole.SYSTEM_ADMINISTRATOR)
    staff_login(client, user)
    page = client.get("/admin/cards/ruleset/")
    assert page.status_code == 200
    text = page.content.decode()
    assert GEN3 in text and SEED in text
    row = RuleSet.objects.get(name=GEN3)
    detail = client.get(f"/admin/cards/ruleset/{row.pk}/change/").content.decode()
    assert "phone_report_validity" in detail and "432000" in detail  # 5 days, in seconds
    assert client.get("/admin/cards/ruleset/add/").status_code == 403
    assert client.post(f"/admin/cards/ruleset/{row.pk}/delete/").status_code == 403


def test_a_clerk_does_not_see_the_rule_sets(client, world, stored):
    staff_login(client, world.clerk.user)
    assert client.get("/admin/cards/ruleset/").status_code == 403


# --- shanghai-3rd-gen: the phone report lapses after 5 days; a formal report never ends --------


def test_under_3rd_gen_a_phone_report_is_live_until_5_days_and_lapses_at_the_instant(world):
    card = issued_under(world, GEN3)
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card)
    deadline = T0 + 5 * DAY
    assert card.phone_report_expires_at == deadline
    assert card.transitions.order_by("id").last().data["rule_set"] == "shanghai-3rd-gen v1"
    assert card.status_at(deadline - US) == S.PHONE_REPORTED_LOST
    assert card.status_at(deadline) == S.ISSUED
    assert sweep(T.LAPSE_PHONE_REPORT, now=deadline - US).expired == 0
    card.refresh_from_db()
    assert card.status == S.PHONE_REPORTED_LOST
    assert sweep(T.LAPSE_PHONE_REPORT, now=deadline).expired == 1
    card.refresh_from_db()
    assert card.status == S.ISSUED
    assert card.transitions.order_by("id").last().at == deadline


def test_under_3rd_gen_a_formal_report_never_expires_and_never_cancels_by_itself(world, client):
    card = issued_under(world, GEN3)
    with time_machine.travel(T0, tick=False):
        card = in_writing(world, card)
    assert card.status == S.WRITTEN_LOST and card.written_report_expires_at is None
    assert card.transitions.order_by("id").last().data["expires_at"] is None
    later = T0 + datetime.timedelta(days=3650)
    assert card.status_at(later) == S.WRITTEN_LOST
    assert due_counts(now=later)[T.EXPIRE_WRITTEN_REPORT] == 0
    assert sweep(T.EXPIRE_WRITTEN_REPORT, now=later).expired == 0
    assert selectors.card_list(now=later).get(pk=card.pk).effective_status == S.WRITTEN_LOST
    with pytest.raises(ApplicationError) as refused:
        services.card_expire_written_report(card=card, actor=world.system)
    assert refused.value.code == "deadline_not_reached"
    card.refresh_from_db()
    assert card.status == S.WRITTEN_LOST
    # The clerk and the holder read "no deadline", and can still act on it.
    assert "No deadline" in state_in_words(card, later)
    from tests.status.conftest import lookup

    with time_machine.travel(later, tick=False):
        page = lookup(client, card.applicant.id_number, card.receipt_number, language="en")
    assert page.status_code == 200
    assert "The report has no deadline" in page.content.decode()
    with time_machine.travel(later, tick=False):
        found = services.card_withdraw_loss_report(
            card=card, actor=world.clerk, id_number=card.applicant.id_number, card_presented=True
        )
    assert found.status == S.ISSUED


def test_the_database_refuses_a_seed_2019_written_report_without_a_deadline(world):
    card = bring_to(world, submit(world, eligible_person()), S.WRITTEN_LOST)
    with pytest.raises(IntegrityError), transaction.atomic():
        Card.objects.filter(pk=card.pk).update(written_report_expires_at=None)
    # A rule set without one: allowed.
    Card.objects.filter(pk=card.pk).update(rule_set=GEN3, written_report_expires_at=None)
    assert Card.objects.filter(pk=card.pk, written_report_expires_at__isnull=True).exists()


# --- Switching the environment's rule set ------------------------------------------------------


def test_switching_the_rule_set_leaves_running_reports_on_the_rules_they_started_with(world):
    seed_card = issued_under(world, SEED)
    gen3_card = issued_under(world, GEN3)
    with time_machine.travel(T0, tick=False):
        seed_written = in_writing(world, seed_card)
        gen3_phone = report_by_phone(world, gen3_card)
    with override_settings(RULE_SET=GEN3):
        # The seed-2019 written report still cancels the card at its 30 days.
        assert seed_written.written_report_expires_at == T0 + 30 * DAY
        assert sweep(T.EXPIRE_WRITTEN_REPORT, now=T0 + 30 * DAY - US).expired == 0
        assert sweep(T.EXPIRE_WRITTEN_REPORT, now=T0 + 30 * DAY).expired == 1
    with override_settings(RULE_SET=SEED):
        # The 3rd-gen phone report keeps its 5 days, though seed-2019 gives 24 hours.
        assert sweep(T.LAPSE_PHONE_REPORT, now=T0 + 2 * DAY).expired == 0
        # And a report made now on the 3rd-gen card follows the card's rules, not the
        # environment's: a formal report without a deadline.
        with time_machine.travel(T0 + 2 * DAY, tick=False):
            gen3_written = in_writing(world, gen3_phone)
        assert gen3_written.written_report_expires_at is None
    seed_card.refresh_from_db()
    assert seed_card.status == S.CANCELLED


# --- Validity and renewal ----------------------------------------------------------------------


def test_under_3rd_gen_a_card_is_valid_10_years_from_hand_over_and_renewed_from_60_days_before(
    world, client
):
    with time_machine.travel(T0, tick=False):
        card = issued_under(world, GEN3)
    assert card.expires_on == datetime.date(2036, 3, 2)
    opens = datetime.datetime(2036, 1, 2, 0, 0, tzinfo=datetime.UTC)  # 60 days before, 08:00 CST
    with time_machine.travel(opens - DAY, tick=False), pytest.raises(ApplicationError) as early:
        services.card_replace(
            card=card,
            actor=world.clerk,
            reason=ReplacementReason.EXPIRED,
            id_number=card.applicant.id_number,
            card_presented=True,
        )
    assert early.value.code == "invalid" and "2036-01-02" in early.value.message
    with time_machine.travel(opens, tick=False):
        new = services.card_replace(
            card=card,
            actor=world.clerk,
            reason=ReplacementReason.EXPIRED,
            id_number=card.applicant.id_number,
            card_presented=True,
        )
    card.refresh_from_db()
    assert card.status == S.REPLACED and new.replaces == card
    assert card.transitions.order_by("id").last().data["replacement_reason"] == "expired"


def test_under_seed_2019_a_card_has_no_expiry_and_no_renewal(world):
    card = issued_under(world, SEED)
    assert card.expires_on is None and not card.is_expired(datetime.date(2100, 1, 1))
    with pytest.raises(ApplicationError) as refused:
        services.card_replace(
            card=card,
            actor=world.clerk,
            reason=ReplacementReason.EXPIRED,
            id_number=card.applicant.id_number,
            card_presented=True,
        )
    assert refused.value.details == {"reason": ["Cards under this card's rule set do not expire."]}


def test_an_expired_card_shows_as_expired_to_the_clerk_and_the_holder(world, client):
    with time_machine.travel(T0, tick=False):
        card = issued_under(world, GEN3)
    day_before = datetime.datetime(2036, 3, 1, 12, tzinfo=datetime.UTC)
    on_the_day = datetime.datetime(2036, 3, 1, 16, tzinfo=datetime.UTC)  # 00:00 on 2 March CST
    assert "valid until 2036-03-02" in state_in_words(card, day_before)
    assert "Expired on 2036-03-02" in state_in_words(card, on_the_day)
    from tests.status.conftest import lookup

    with time_machine.travel(on_the_day, tick=False):
        page = lookup(client, card.applicant.id_number, card.receipt_number, language="en")
    text = page.content.decode()
    assert "Your card has expired" in text and "Expired" in text


def test_the_supervisor_list_of_cards_expiring_next_month(world):
    with time_machine.travel(datetime.datetime(2026, 4, 15, 2, tzinfo=datetime.UTC), tick=False):
        april = issued_under(world, GEN3)  # expires 2036-04-15
    with time_machine.travel(datetime.datetime(2026, 5, 1, 2, tzinfo=datetime.UTC), tick=False):
        issued_under(world, GEN3)  # expires 2036-05-01
    assert list(selectors.expiring_next_month(on=datetime.date(2036, 3, 31))) == [april]
    assert list(selectors.expiring_next_month(on=datetime.date(2036, 4, 1))) != [april]
    with time_machine.travel(datetime.datetime(2036, 3, 10, 2, tzinfo=datetime.UTC)):
        point = april.collection_point_id
        assert list(selectors.overdue_list("expiring_next_month", point_id=point)) == [april]
    assert flag_overdue_work(day=datetime.date(2036, 3, 10))[OverdueKind.EXPIRING] == 1


# --- Uncollected cards -------------------------------------------------------------------------


def ready_under(world, rule_set: str) -> Card:
    with override_settings(RULE_SET=rule_set), time_machine.travel(T0, tick=False):
        return bring_to(world, submit(world, eligible_person()), S.READY_FOR_COLLECTION)


def test_an_uncollected_card_is_cancelled_at_its_deadline_with_log_event_and_notice(world):
    card = ready_under(world, GEN3)
    deadline = T0 + 183 * DAY
    assert card.uncollected_cancels_at == deadline
    assert card.status_at(deadline - US) == S.READY_FOR_COLLECTION
    assert card.status_at(deadline) == S.CANCELLED
    assert sweep(T.CANCEL_UNCOLLECTED, now=deadline - US).expired == 0
    later = deadline + 3 * DAY  # a late sweep still dates it at the deadline
    assert sweep(T.CANCEL_UNCOLLECTED, now=later).expired == 1
    card.refresh_from_db()
    assert card.status == S.CANCELLED and card.closed_at == deadline
    row = card.transitions.order_by("id").last()
    assert (row.name, row.from_status, row.to_status, row.at, row.recorded_at) == (
        T.CANCEL_UNCOLLECTED,
        S.READY_FOR_COLLECTION,
        S.CANCELLED,
        deadline,
        later,
    )
    event = OutboxEvent.objects.filter(card=card).order_by("id").last()
    assert event.payload["transition"] == T.CANCEL_UNCOLLECTED
    notice = CardCenterNotice.objects.filter(card=card).order_by("id").last()
    assert (notice.kind, notice.to_status, notice.at) == (
        T.CANCEL_UNCOLLECTED,
        S.CANCELLED,
        deadline,
    )
    assert sweep(T.CANCEL_UNCOLLECTED, now=later).expired == 0  # a rerun changes nothing


def test_under_seed_2019_an_uncollected_card_is_only_flagged_never_cancelled(world):
    card = ready_under(world, SEED)
    assert card.uncollected_cancels_at is None
    assert sweep(T.CANCEL_UNCOLLECTED, now=T0 + 3650 * DAY).expired == 0
    card.refresh_from_db()
    assert card.status == S.READY_FOR_COLLECTION


def test_a_clerk_acting_after_the_uncollected_deadline_is_told_the_card_was_cancelled(world):
    card = ready_under(world, GEN3)
    with time_machine.travel(T0 + 183 * DAY, tick=False), pytest.raises(ApplicationError) as exc:
        services.card_hand_over(
            card=card,
            actor=world.bank_actor,
            id_number=card.applicant.id_number,
            receipt_number=card.receipt_number,
        )
    assert exc.value.code == "deadline_passed"
    card.refresh_from_db()
    assert card.status == S.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_the_uncollected_sweep_skips_a_card_a_clerk_holds(world):
    held, other = ready_under(world, GEN3), ready_under(world, GEN3)
    now = T0 + 200 * DAY
    with row_held(Card, held.pk, "FOR UPDATE"), lock_timeout(2000):
        started = time.monotonic()
        assert expire_batch(EXPIRIES[T.CANCEL_UNCOLLECTED], now=now, limit=10) == [other.pk]
        assert time.monotonic() - started < 1.5
    assert Card.objects.get(pk=held.pk).status == S.READY_FOR_COLLECTION
    assert sweep(T.CANCEL_UNCOLLECTED, now=now).expired == 1
    assert CardTransition.objects.filter(name=T.CANCEL_UNCOLLECTED).count() == 2


# --- The street medical point's collection deadline (seed 001) ---------------------------------


def test_a_street_medical_point_card_has_a_collect_by_day_shown_and_flagged_when_passed(
    world, client
):
    with time_machine.travel(T0, tick=False):
        card = submit(world, eligible_person(), CardType.MEDICAL_INSURANCE)
        card = services.card_verify(card=card, actor=world.street_medical_clerk)
        card = services.card_mark_ready(
            card=card, actor=world.street_medical_clerk, card_number=card_number()
        )
    collect_by = datetime.date(2026, 4, 1)  # 30 days from 2 March
    assert card.collect_by == collect_by
    assert "Collect it by 2026-04-01." in collection_advice(card)[0]
    assert "To be collected by 2026-04-01." in state_in_words(card, T0)
    from tests.status.conftest import lookup

    with time_machine.travel(T0, tick=False):
        page = lookup(client, card.applicant.id_number, card.receipt_number, language="en")
    assert "Please collect it by" in page.content.decode()
    assert not selectors.overdue_street_collection(on=collect_by).exists()
    assert list(selectors.overdue_street_collection(on=collect_by + DAY)) == [card]
    assert flag_overdue_work(day=collect_by + DAY)[OverdueKind.STREET_COLLECTION] == 1
    # A social security card has no such day.
    social = bring_to(world, submit(world, eligible_person()), S.READY_FOR_COLLECTION)
    assert social.collect_by is None


# --- Eligibility from the rule set -------------------------------------------------------------


def non_hukou_employee():
    person = eligible_person(shanghai_hukou=False, hukou_place="江苏省南京市")
    person.enrolments.all().delete()
    employment = EmploymentFactory(applicant=person)
    for insurance in (Insurance.PENSION, Insurance.MEDICAL):
        EnrolmentFactory(
            applicant=person,
            insurance=insurance,
            route=EnrolmentRoute.EMPLOYER,
            employment=employment,
        )
    return person


@pytest.mark.parametrize(("rule_set", "allowed"), [(SEED, False), (GEN3, True)])
def test_a_non_hukou_insured_person_gets_a_social_security_card_only_under_3rd_gen(
    world, rule_set, allowed
):
    person = non_hukou_employee()
    with override_settings(RULE_SET=rule_set):
        if allowed:
            card = submit(world, person)
            assert card.status == S.APPLIED and card.rule_set == GEN3
        else:
            with pytest.raises(ApplicationError) as refused:
                submit(world, person)
            codes = [r["code"] for r in refused.value.details["reasons"]]
            assert codes == ["social_security_card_needs_hukou"]


def test_a_non_hukou_student_insured_individually_gets_a_card_under_3rd_gen(world):
    from applicants.policy import PersonFacts, card_eligibility

    student = PersonFacts(
        shanghai_hukou=False,
        foreign_national=False,
        employed=False,
        insured_individually=frozenset({Insurance.MEDICAL}),
    )
    assert card_eligibility(student, CardType.SOCIAL_SECURITY, rules=rules.get(GEN3))
    seed = card_eligibility(student, CardType.SOCIAL_SECURITY, rules=rules.get(SEED))
    assert {r.code for r in seed.reasons} == {
        "non_hukou_needs_employer",
        "social_security_card_needs_hukou",
    }
    foreigner = dataclasses.replace(
        student,
        foreign_national=True,
        insured_individually=frozenset(),
        insured_via_employer=frozenset({Insurance.MEDICAL}),
    )
    assert card_eligibility(foreigner, CardType.SOCIAL_SECURITY, rules=rules.get(GEN3))
    assert not card_eligibility(foreigner, CardType.SOCIAL_SECURITY, rules=rules.get(SEED))


# --- Partner batches give the same dates as the one-card services ------------------------------


def test_a_partner_batch_sets_the_rule_set_s_deadlines_as_the_services_do(world):
    from cards.batch import BatchItem, cards_hand_over_batch, cards_mark_ready_batch

    with override_settings(RULE_SET=GEN3), time_machine.travel(T0, tick=False):
        card = bring_to(world, submit(world, eligible_person()), S.VERIFIED)
        (ready,) = cards_mark_ready_batch(
            bank=world.bank,
            actor=world.bank_actor,
            items=[BatchItem(card.public_id, {"card_number": card_number()})],
        )
        assert ready.error is None
        card.refresh_from_db()
        assert card.uncollected_cancels_at == T0 + 183 * DAY
        (handed,) = cards_hand_over_batch(
            bank=world.bank,
            actor=world.bank_actor,
            items=[
                BatchItem(
                    card.public_id,
                    {"id_number": card.applicant.id_number, "receipt_number": card.receipt_number},
                )
            ],
        )
        assert handed.error is None
    card.refresh_from_db()
    assert card.status == S.ISSUED and card.expires_on == datetime.date(2036, 3, 2)


def test_the_clerk_pages_show_a_formal_report_without_deadline(world):
    card = issued_under(world, GEN3)
    card = in_writing(world, card)
    from tests.admin.conftest import login

    client = login(world.clerk)
    page = client.get(f"/admin/cards/card/{card.pk}/change/")
    assert page.status_code == 200
    assert "No deadline" in page.content.decode()
    listed = client.get("/admin/cards/card/?state=written_lost")
    assert listed.status_code == 200
    assert card.receipt_number_display in listed.content.decode()
    assert "no deadline" in listed.content.decode()
    certificate = client.get(f"/admin/cards/card/{card.pk}/certificate/")
    assert certificate.status_code == 200
    assert "does not cancel the card by itself" in certificate.content.decode()


# --- The values themselves: the README's table (issue #18) -------------------------------------

ALL_SIX_ROWS = [
    "apply_at_hukou_street_station",
    "foreign_national_needs_employer",
    "no_medical_insurance",
    "non_hukou_needs_employer",
    "not_insured",
    "social_security_card_needs_hukou",
]


def test_each_rule_set_holds_the_values_of_the_readme_table():
    """A changed value is a decision (and a new version): it must change this table too."""
    day = 24 * 3600
    assert rules.as_values(rules.get(rules.SEED_2019)) == {
        "phone_report_validity": day,
        "written_report_validity": 30 * day,
        "card_validity_years": None,
        "renewal_window_days": 60,
        "first_issue_fee_fen": 0,
        "replacement_fee_fen": 0,
        "uncollected_period_days": None,
        "street_collection_days": 30,
        "financial_function": False,
        "electronic_card": False,
        "social_security_card_for_non_hukou": False,
        "one_person_one_card": False,
        "assign_social_security_numbers": False,
        "pin_tries": 6,
        "card_eligibility_rows": ALL_SIX_ROWS,
    }
    assert rules.as_values(rules.get(rules.SHANGHAI_3RD_GEN)) == {
        "phone_report_validity": 5 * day,
        "written_report_validity": None,
        "card_validity_years": 10,
        "renewal_window_days": 60,
        "first_issue_fee_fen": 0,
        "replacement_fee_fen": 2000,
        "uncollected_period_days": 183,
        "street_collection_days": 30,
        "financial_function": True,
        "electronic_card": True,
        "social_security_card_for_non_hukou": True,
        "one_person_one_card": True,
        "assign_social_security_numbers": True,
        "pin_tries": 6,
        "card_eligibility_rows": [
            row
            for row in ALL_SIX_ROWS
            if row not in ("non_hukou_needs_employer", "social_security_card_needs_hukou")
        ],
    }
    assert [(r.name, r.version) for r in rules.RULE_SETS.values()] == [
        (rules.SEED_2019, 1),
        (rules.SHANGHAI_3RD_GEN, 1),
    ]


def test_an_unknown_rule_set_is_refused_naming_the_known_ones():
    with pytest.raises(LookupError) as exc:
        rules.get("shanghai-4th-gen")
    assert str(exc.value) == (
        "No rule set 'shanghai-4th-gen' vNone; known: seed-2019 v1, shanghai-3rd-gen v1"
    )


def test_a_card_keeps_the_version_it_was_made_under_when_a_new_one_is_in_force(
    monkeypatch, world, card_in
):
    card = card_in(S.ISSUED)
    assert (card.rule_set, card.rule_set_version) == (rules.SEED_2019, 1)
    old = rules.get(rules.SEED_2019, 1)
    new = dataclasses.replace(old, version=2, pin_tries=3)
    monkeypatch.setitem(rules.RULE_SETS, rules.SEED_2019, new)
    monkeypatch.setitem(rules.ALL_VERSIONS, (rules.SEED_2019, 2), new)
    assert rules.in_force().pin_tries == 3
    assert rules.for_card(card) == old


def test_stored_values_are_refused_naming_the_missing_or_unknown_rule():
    values = rules.as_values(rules.get(rules.SEED_2019))
    with pytest.raises(ValueError) as exc:
        rules.from_values("x", 1, {**values, "pin_tries_max": 3, "a_fee": 1})
    assert str(exc.value) == "unknown rule(s): a_fee, pin_tries_max"
    with pytest.raises(ValueError) as exc:
        rules.from_values("x", 1, {k: v for k, v in values.items() if k != "pin_tries"})
    assert str(exc.value) == "pin_tries: missing"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phone_report_validity": True}, "phone_report_validity: a positive number of seconds"),
        ({"phone_report_validity": "24h"}, "phone_report_validity: a positive number of seconds"),
        ({"phone_report_validity": 0}, "phone_report_validity: a positive number of seconds"),
        ({"electronic_card": 1}, "electronic_card: true or false"),
        ({"pin_tries": True}, "pin_tries: a whole number, 0 or more"),
        ({"pin_tries": -1}, "pin_tries: a whole number, 0 or more"),
        ({"card_eligibility_rows": "not_insured"}, "card_eligibility_rows: a list of row codes"),
        ({"pin_tries": None}, "pin_tries: required"),
    ],
)
def test_each_kind_of_stored_value_is_refused_with_its_own_rule(change, message):
    values = {**rules.as_values(rules.get(GEN3)), **change}
    with pytest.raises(ValueError) as refused:
        rules.from_values("x", 9, values)
    assert str(refused.value) == message


def test_a_card_issued_on_29_february_is_valid_until_28_february():
    gen3 = rules.get(GEN3)
    assert rules.card_expires_on(gen3, datetime.date(2028, 2, 29)) == datetime.date(2038, 2, 28)
    assert rules.card_expires_on(gen3, datetime.date(2028, 3, 1)) == datetime.date(2038, 3, 1)
    assert rules.card_expires_on(rules.get(SEED), datetime.date(2028, 2, 29)) is None
    assert rules.renewal_opens_on(gen3, datetime.date(2038, 3, 1)) == datetime.date(2037, 12, 31)
    assert rules.renewal_opens_on(gen3, None) is None
