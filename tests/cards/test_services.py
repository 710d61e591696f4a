"""Each service's happy path and each of its refusal reasons."""

import datetime

import pytest
import time_machine
from django.db import IntegrityError

from applicants.choices import EnrolmentRoute, IdDocumentType, Insurance
from applicants.models import RegistryRecord
from cards import services
from cards.choices import CardStatus, CardType, Channel, TransitionName
from cards.models import Card, CardTransition, OutboxEvent
from cards.services import Agent
from common.errors import ApplicationError
from tests.cards.conftest import T0, bring_to, card_number, eligible_person, submit
from tests.factories import ApplicantFactory, EmploymentFactory, EnrolmentFactory, resident_id

S = CardStatus
T = TransitionName


def refused(code: str, call, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        call(**kwargs)
    assert exc.value.code == code, exc.value.message
    return exc.value


def log_of(card: Card) -> list[tuple[str, str, str]]:
    return list(
        CardTransition.objects.filter(card=card)
        .order_by("id")
        .values_list("name", "from_status", "to_status")
    )


# --- submit ---------------------------------------------------------------------------------


def test_submit_creates_an_applied_card_with_one_log_row_and_event(world, person):
    card = submit(world, person)
    assert card.status == S.APPLIED
    assert card.bank == world.bank and card.collection_point == world.outlet
    assert card.service_point == world.community and card.channel == Channel.COUNTER
    assert len(card.receipt_number) == 13
    assert (card.agent_name, card.agent_id_type, card.agent_id_number) == ("", "", "")
    assert log_of(card) == [(T.SUBMIT, "", S.APPLIED)]
    row = card.transitions.get()
    assert row.actor_user == world.clerk.user and row.service_point == world.community
    assert row.data == {}  # no agent, no card replaced, no online checks
    event = OutboxEvent.objects.get(card=card)
    assert event.bank == world.bank
    assert event.payload["card"] == str(card.public_id)
    assert (event.payload["from"], event.payload["to"]) == ("", S.APPLIED)


def test_submit_refused_by_the_policy_with_every_reason(world):
    outsider = ApplicantFactory(shanghai_hukou=False, hukou_place="江苏省南京市")
    error = refused(
        "not_eligible",
        submit,
        world=world,
        applicant=outsider,
    )
    codes = [r["code"] for r in error.details["reasons"]]
    assert codes == ["not_insured", "non_hukou_needs_employer", "social_security_card_needs_hukou"]
    assert not Card.objects.exists()


def test_a_non_hukou_employee_gets_a_medical_insurance_card(world):
    employee = ApplicantFactory(shanghai_hukou=False, hukou_place="江苏省南京市")
    employment = EmploymentFactory(applicant=employee)
    EnrolmentFactory(
        applicant=employee,
        insurance=Insurance.MEDICAL,
        route=EnrolmentRoute.EMPLOYER,
        employment=employment,
    )
    card = services.card_submit(
        applicant=employee,
        card_type=CardType.MEDICAL_INSURANCE,
        actor=world.street_medical_clerk,
    )
    assert card.status == S.APPLIED and card.bank is None


def online_check(kind: str, **overrides) -> services.OnlineCheckEvidence:
    values = {
        "kind": kind,
        "provider": "Tencent FaceID" if kind == "real_person" else "NIA real-name",
        "reference": f"REF-{kind}-0001",
        "verified_at": T0 - datetime.timedelta(minutes=5),
        "result": "passed",
    }
    return services.OnlineCheckEvidence(**{**values, **overrides})


def test_online_application_needs_the_evidence_of_both_checks(world, person):
    online = {
        "applicant": person,
        "card_type": CardType.SOCIAL_SECURITY,
        "actor": world.bank_actor,
        "channel": Channel.WECHAT,
        "service_point": world.outlet,
    }
    with time_machine.travel(T0, tick=False):
        error = refused(
            "online_verification_required",
            services.card_submit,
            **online,
            online_checks=[online_check("real_person")],
        )
        assert set(error.details) == {"real_name"}
        for bad, problem in (
            ({"result": "failed"}, "did not pass"),
            ({"provider": " "}, "Name the provider"),
            ({"reference": ""}, "Name the provider"),
            ({"verified_at": T0 + datetime.timedelta(seconds=1)}, "within 24 hours"),
            ({"verified_at": T0 - datetime.timedelta(hours=24, seconds=1)}, "within 24 hours"),
        ):
            error = refused(
                "online_verification_required",
                services.card_submit,
                **online,
                online_checks=[online_check("real_person"), online_check("real_name", **bad)],
            )
            assert list(error.details) == ["real_name"]
            assert problem in error.details["real_name"][0]
        assert not Card.objects.exists()
        edge = T0 - datetime.timedelta(hours=24)
        card = services.card_submit(
            **online,
            online_checks=[
                online_check("real_person"),
                online_check("real_name", verified_at=edge),
            ],
        )
    assert card.channel == Channel.WECHAT and card.bank == world.bank
    assert card.liveness_verified and card.real_name_verified
    assert card.transitions.get().bank == world.bank
    evidence = {v.check_kind: v for v in card.online_verifications.all()}
    assert evidence["real_name"].verified_at == edge
    assert evidence["real_person"].provider == "Tencent FaceID"
    logged = card.transitions.get().data["online_checks"]
    assert {c["reference"] for c in logged} == {"REF-real_name-0001", "REF-real_person-0001"}


def test_second_live_card_of_a_type_is_refused_before_the_index(world, person):
    first = submit(world, person)
    error = refused(
        "duplicate_live_card",
        submit,
        world=world,
        applicant=person,
    )
    assert error.details["card"] == str(first.public_id)
    assert error.status == 409


def test_the_partial_unique_index_holds_without_the_service(world, person):
    first = submit(world, person)
    with pytest.raises(IntegrityError):
        Card.objects.create(
            applicant=person,
            card_type=first.card_type,
            bank=world.bank,
            service_point=world.community,
            collection_point=world.outlet,
            channel=Channel.COUNTER,
        )


def test_a_withdrawn_card_frees_the_place_for_a_new_application(world, person):
    first = submit(world, person)
    services.card_withdraw(card=first, actor=world.clerk, reason="Wrong bank.")
    second = submit(world, person)
    assert second.status == S.APPLIED


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bank": None, "collection_point": None}, "bank"),
        ({"collection_point": "community"}, "collection_point"),
        ({"channel": Channel.WECHAT}, "channel"),
    ],
)
def test_submit_input_rules(world, person, kwargs, field):
    call = {
        "applicant": person,
        "card_type": CardType.SOCIAL_SECURITY,
        "actor": world.clerk,
        "bank": world.bank,
        "collection_point": world.outlet,
    }
    call.update(
        {
            k: getattr(world, v) if isinstance(v, str) and hasattr(world, v) else v
            for k, v in kwargs.items()
        }
    )
    error = refused("invalid", services.card_submit, **call)
    assert field in error.details


def test_a_community_center_does_not_take_medical_card_applications(world, person):
    error = refused(
        "invalid",
        services.card_submit,
        applicant=person,
        card_type=CardType.MEDICAL_INSURANCE,
        actor=world.clerk,
    )
    assert "card_type" in error.details
    kind = world.clerk.service_point.get_kind_display()
    assert error.message == f"A {kind} does not take applications for this card type."


def test_a_hotline_operator_cannot_take_applications(world, person):
    refused(
        "invalid",
        services.card_submit,
        applicant=person,
        card_type=CardType.SOCIAL_SECURITY,
        actor=world.hotline_operator,
        bank=world.bank,
        collection_point=world.outlet,
    )
    assert not Card.objects.exists()


def test_the_agent_is_recorded_and_their_document_validated(world, person):
    bad = Agent(name="李四", id_type=IdDocumentType.RESIDENT_ID, id_number="110105194912310021")
    error = refused(
        "invalid",
        submit,
        world=world,
        applicant=person,
        agent=bad,
    )
    assert "agent_id_number" in error.details
    himself = Agent(name="X", id_type=person.id_type, id_number=person.id_number)
    refused(
        "invalid",
        submit,
        world=world,
        applicant=person,
        agent=himself,
    )
    agent_number = resident_id(901)
    card = submit(
        world,
        person,
        agent=Agent(name=" 李四 ", id_type=IdDocumentType.RESIDENT_ID, id_number=agent_number),
    )
    assert (card.agent_name, card.agent_id_number) == ("李四", agent_number)


# --- verify / reject / withdraw -------------------------------------------------------------


def test_verify_with_a_matching_registry_record(world, person):
    card = services.card_verify(card=submit(world, person), actor=world.clerk)
    assert card.status == S.VERIFIED and card.verified_at is not None
    assert log_of(card)[-1] == (T.VERIFY, S.APPLIED, S.VERIFIED)


def test_verify_rejects_with_the_fields_that_differ(world, person):
    RegistryRecord.objects.filter(id_number=person.id_number).update(
        name="王五", hukou_place="上海市黄浦区"
    )
    card = services.card_verify(card=submit(world, person), actor=world.clerk)
    assert card.status == S.REJECTED
    row = card.transitions.order_by("id").last()
    assert row.name == T.REJECT
    assert row.reason == "The form differs from the municipal registry."
    assert row.data["differences"] == [
        {"field": "name", "form": person.name, "registry": "王五"},
        {"field": "hukou_place", "form": "上海市徐汇区", "registry": "上海市黄浦区"},
    ]


def test_verify_rejects_a_person_missing_from_the_registry(world, person):
    RegistryRecord.objects.all().delete()
    card = services.card_verify(card=submit(world, person), actor=world.clerk)
    assert card.status == S.REJECTED
    assert card.transitions.order_by("id").last().reason == "No record in the municipal registry."


def test_a_clerk_of_another_point_cannot_verify(world, person):
    card = submit(world, person)
    error = refused("permission_denied", services.card_verify, card=card, actor=world.other_clerk)
    assert error.status == 403
    assert error.message == "You may not do this here, or not to this card."
    assert error.details == {"transition": T.VERIFY}
    card.refresh_from_db()
    assert card.status == S.APPLIED and card.transitions.count() == 1


def test_an_act_the_state_does_not_allow_is_a_conflict_naming_the_state_and_the_act(world, person):
    card = services.card_verify(card=submit(world, person), actor=world.clerk)
    assert card.status == S.VERIFIED
    error = refused("transition_not_allowed", services.card_verify, card=card, actor=world.clerk)
    assert error.status == 409
    assert error.message == (
        f"Not allowed for a card in the state {S(S.VERIFIED).label}: {T(T.VERIFY).label}."
    )
    assert error.details == {"status": S.VERIFIED, "transition": T.VERIFY}
    assert card.transitions.count() == 2


def test_reject_needs_a_reason(world, person):
    error = refused(
        "invalid", services.card_reject, card=submit(world, person), actor=world.clerk, reason=" "
    )
    assert error.details == {"reason": ["Give the reason or the fields that differ."]}


def test_a_rejection_with_the_fields_that_differ_needs_no_reason(world, person):
    """The fields alone are a rejection's whole account (the status page names them): no reason
    and no listed reason is no error (it raised ValueError: the list has no reason "")."""
    card = services.card_reject(
        card=submit(world, person), actor=world.clerk, differences=[{"field": "name"}]
    )
    assert card.status == S.REJECTED
    row = card.transitions.get(name=T.REJECT)
    assert (row.reason, row.data) == ("", {"differences": [{"field": "name"}]})


def test_a_rejection_keeps_the_reason_the_applicant_reads(world, person):
    from cards.choices import RejectionReason

    card = services.card_reject(
        card=submit(world, person),
        actor=world.clerk,
        reason="the clerk's own note",
        reason_code=RejectionReason.PHOTO_RECEIPT_MISSING,
    )
    row = card.transitions.order_by("id").last()
    assert (row.name, row.reason) == (T.REJECT, "the clerk's own note")
    assert row.data == {"reason_code": RejectionReason.PHOTO_RECEIPT_MISSING}


def test_withdraw_needs_a_reason_and_another_bank_cannot(world, person):
    card = submit(world, person)
    refused("invalid", services.card_withdraw, card=card, actor=world.clerk, reason="")
    refused(
        "permission_denied",
        services.card_withdraw,
        card=card,
        actor=world.other_bank_actor,
        reason="x",
    )
    card = services.card_withdraw(card=card, actor=world.bank_actor, reason="Applicant asked.")
    assert card.status == S.WITHDRAWN and card.closed_at is not None


# --- mark ready / issue / hand over ------------------------------------------------------------


def test_mark_ready_validates_the_card_number(world, card_in):
    card = card_in(S.VERIFIED)
    error = refused(
        "invalid", services.card_mark_ready, card=card, actor=world.bank_actor, card_number="ab"
    )
    assert "card_number" in error.details
    other = bring_to(world, submit(world, eligible_person()), S.READY_FOR_COLLECTION)
    taken = refused(
        "card_number_taken",
        services.card_mark_ready,
        card=card,
        actor=world.bank_actor,
        card_number=other.card_number,
    )
    assert taken.status == 409 and "card_number" in taken.details
    refused(
        "permission_denied",
        services.card_mark_ready,
        card=card,
        actor=world.other_bank_actor,
        card_number=card_number(),
    )
    card = services.card_mark_ready(card=card, actor=world.bank_actor, card_number=" sc-1234567 ")
    assert card.status == S.READY_FOR_COLLECTION and card.card_number == "SC1234567"


def medical_card_at_street_point(world):
    card = submit(world, eligible_person(), CardType.MEDICAL_INSURANCE)
    return services.card_verify(card=card, actor=world.street_medical_clerk)


def test_street_medical_point_promise_of_three_working_days_kept(world):
    # Friday 2026-09-25: three working days are Mon 28, Tue 29, Wed 30 September.
    with time_machine.travel(datetime.datetime(2026, 9, 25, 10, tzinfo=datetime.UTC), tick=False):
        card = medical_card_at_street_point(world)
    assert card.ready_promised_by == datetime.date(2026, 9, 30)
    with time_machine.travel(datetime.datetime(2026, 9, 30, 8, tzinfo=datetime.UTC), tick=False):
        card = services.card_mark_ready(
            card=card, actor=world.street_medical_clerk, card_number=card_number()
        )
    assert card.ready_promise_kept is True
    assert card.transitions.order_by("id").last().data["promise_kept"] is True


def test_street_medical_point_promise_broken(world):
    with time_machine.travel(datetime.datetime(2026, 9, 25, 10, tzinfo=datetime.UTC), tick=False):
        card = medical_card_at_street_point(world)
    with time_machine.travel(datetime.datetime(2026, 10, 9, 8, tzinfo=datetime.UTC), tick=False):
        card = services.card_mark_ready(
            card=card, actor=world.street_medical_clerk, card_number=card_number()
        )
    assert card.ready_promise_kept is False


def test_issue_on_the_spot_only_at_a_county_center_and_only_medical_cards(world, card_in):
    from django_fsm import can_proceed

    ssc = card_in(S.VERIFIED)
    assert not can_proceed(ssc.issue_on_the_spot)  # the model's guard: medical cards only
    refused(
        "permission_denied",
        services.card_issue_on_the_spot,
        card=ssc,
        actor=world.county_clerk,
        card_number=card_number(),
    )
    medical = services.card_submit(
        applicant=eligible_person(),
        card_type=CardType.MEDICAL_INSURANCE,
        actor=world.county_clerk,
    )
    medical = services.card_verify(card=medical, actor=world.county_clerk)
    refused(
        "permission_denied",
        services.card_issue_on_the_spot,
        card=medical,
        actor=world.street_medical_clerk,
        card_number=card_number(),
    )
    medical = services.card_issue_on_the_spot(
        card=medical, actor=world.county_clerk, card_number=card_number()
    )
    assert medical.status == S.ISSUED and medical.issued_at is not None


def test_hand_over_checks_the_id_and_the_receipt(world, card_in):
    card = card_in(S.READY_FOR_COLLECTION)
    holder = card.applicant
    # Someone else's number (the factories' sequence may have given the holder 777's).
    other = next(resident_id(n) for n in (777, 778) if resident_id(n) != holder.id_number)
    error = refused(
        "invalid",
        services.card_hand_over,
        card=card,
        actor=world.outlet_clerk,
        id_number=other,
        receipt_number=card.receipt_number,
    )
    assert "id_number" in error.details
    error = refused(
        "invalid",
        services.card_hand_over,
        card=card,
        actor=world.outlet_clerk,
        id_number=holder.id_number,
        receipt_number="0000-0000-0000-0",
    )
    assert "receipt_number" in error.details
    refused(
        "permission_denied",
        services.card_hand_over,
        card=card,
        actor=world.clerk,  # not the collection point
        id_number=holder.id_number,
        receipt_number=card.receipt_number,
    )
    card = services.card_hand_over(
        card=card,
        actor=world.outlet_clerk,
        id_number=holder.id_number.lower(),
        receipt_number=card.receipt_number_display.lower(),
    )
    assert card.status == S.ISSUED


# --- loss reports -------------------------------------------------------------------------------


def phone(world, card, **overrides):
    holder = card.applicant
    kwargs = {
        "card": card,
        "actor": world.hotline_operator,
        "caller_name": holder.name,
        "caller_id_number": holder.id_number,
        "contact_phone": "13900139000",
        "home_address": "上海市徐汇区",
    }
    kwargs.update(overrides)
    return services.card_report_lost_by_phone(**kwargs)


def test_phone_report_must_name_the_holder(world, card_in):
    card = card_in(S.ISSUED)
    error = refused("invalid", phone, world=world, card=card, caller_name="李四")
    assert "caller_name" in error.details
    error = refused("invalid", phone, world=world, card=card, caller_id_number=resident_id(555))
    assert "caller_id_number" in error.details
    error = refused("invalid", phone, world=world, card=card, contact_phone=" ")
    assert "contact_phone" in error.details
    refused("permission_denied", phone, world=world, card=card, actor=world.clerk)
    with time_machine.travel(T0, tick=False):
        card = phone(world, card)
    assert card.status == S.PHONE_REPORTED_LOST
    assert card.phone_report_expires_at == T0 + datetime.timedelta(hours=24)
    row = card.transitions.order_by("id").last()
    assert row.data["contact_phone"] == "13900139000"


@pytest.mark.parametrize("typed", ["😀", "call me", "1", "1" * 40, "138\u200b00138000"])
def test_a_phone_report_with_a_contact_phone_no_one_can_call_is_refused(world, card_in, typed):
    """The hotline's only way back to the caller: digits (a leading +, spaces and dashes allowed),
    5 to 20 of them, as the API's phone. Found from outside: an emoji was taken and logged."""
    card = card_in(S.ISSUED)
    error = refused("invalid", phone, world=world, card=card, contact_phone=typed)
    assert list(error.details) == ["contact_phone"]
    assert "5 to 20 digits" in str(error.details["contact_phone"][0])
    card.refresh_from_db()
    assert card.status == S.ISSUED
    assert not card.transitions.filter(name="report_lost_by_phone").exists()


def test_a_phone_report_takes_full_width_digits_and_stores_them_folded(world, card_in):
    card = phone(world, card_in(S.ISSUED), contact_phone="＋86 １３９-0013-9000")
    row = card.transitions.order_by("id").last()
    assert row.data["contact_phone"] == "+86 139-0013-9000"


def test_written_report_issues_numbered_certificates(world, card_in):
    first = card_in(S.ISSUED)
    second = card_in(S.ISSUED, applicant=eligible_person())
    with time_machine.travel(T0, tick=False):
        error = refused(
            "invalid",
            services.card_report_lost_in_writing,
            card=first,
            actor=world.clerk,
            id_number=resident_id(321),
        )
        assert "id_number" in error.details
        first = services.card_report_lost_in_writing(
            card=first, actor=world.clerk, id_number=first.applicant.id_number
        )
        second = services.card_report_lost_in_writing(
            card=second, actor=world.clerk, id_number=second.applicant.id_number
        )
    assert first.loss_certificate_number == "LR-CC01-20260302-0001"
    assert second.loss_certificate_number == "LR-CC01-20260302-0002"
    assert first.written_report_expires_at == T0 + datetime.timedelta(days=30)
    assert first.transitions.order_by("id").last().data["certificate_number"] == (
        "LR-CC01-20260302-0001"
    )


def test_written_report_by_an_agent_validates_the_agents_document(world, card_in):
    card = card_in(S.PHONE_REPORTED_LOST)
    error = refused(
        "invalid",
        services.card_report_lost_in_writing,
        card=card,
        actor=world.clerk,
        id_number=card.applicant.id_number,
        agent=Agent(name="李四", id_type=IdDocumentType.PASSPORT, id_number="?"),
    )
    assert "agent_id_number" in error.details
    card.refresh_from_db()
    assert card.status == S.PHONE_REPORTED_LOST
    card = services.card_report_lost_in_writing(
        card=card,
        actor=world.other_clerk,  # the nearest service center, not the one applied at
        id_number=card.applicant.id_number,
        agent=Agent(name="李四", id_type=IdDocumentType.RESIDENT_ID, id_number=resident_id(902)),
    )
    assert card.status == S.WRITTEN_LOST
    assert log_of(card)[-2:] == [
        (T.REPORT_LOST_BY_PHONE, S.ISSUED, S.PHONE_REPORTED_LOST),
        (T.REPORT_LOST_IN_WRITING, S.PHONE_REPORTED_LOST, S.WRITTEN_LOST),
    ]


def test_replace_reason_must_fit_the_state(world, card_in):
    issued = card_in(S.ISSUED)
    refused(
        "invalid",
        services.card_replace,
        card=issued,
        actor=world.clerk,
        reason="lost",
        id_number=issued.applicant.id_number,
    )
    issued.refresh_from_db()
    assert issued.status == S.ISSUED and Card.objects.count() == 1


def test_cancel_is_for_supervisors_with_a_reason(world, card_in):
    card = card_in(S.ISSUED)
    refused("permission_denied", services.card_cancel, card=card, actor=world.clerk, reason="x")
    refused("invalid", services.card_cancel, card=card, actor=world.supervisor, reason="")
    card = services.card_cancel(card=card, actor=world.supervisor, reason="Holder deceased.")
    assert card.status == S.CANCELLED
    assert card.transitions.order_by("id").last().reason == "Holder deceased."


def test_only_the_system_lapses_or_expires_reports(world, card_in):
    card = card_in(S.PHONE_REPORTED_LOST)
    refused("permission_denied", services.card_lapse_phone_report, card=card, actor=world.clerk)
    refused("deadline_not_reached", services.card_lapse_phone_report, card=card, actor=world.system)
    written = card_in(S.WRITTEN_LOST, applicant=eligible_person())
    refused(
        "permission_denied",
        services.card_expire_written_report,
        card=written,
        actor=world.supervisor,
    )
    refused(
        "deadline_not_reached",
        services.card_expire_written_report,
        card=written,
        actor=world.system,
    )


# --- the model -----------------------------------------------------------------------------------


def test_the_status_cannot_be_assigned_directly(world, person):
    card = submit(world, person)
    with pytest.raises(AttributeError):
        card.status = S.ISSUED
    card.refresh_from_db()
    assert card.status == S.APPLIED


def test_the_log_is_append_only(world, person):
    card = submit(world, person)
    row = card.transitions.get()
    with pytest.raises(RuntimeError):
        row.save()
    with pytest.raises(RuntimeError):
        row.delete()
    from django.db import DatabaseError, transaction

    # The service role the tests run as may not even try (no UPDATE or DELETE privilege); the
    # trigger stops the owner (tests/security/test_db_roles.py).
    refused = "append-only|permission denied"
    with pytest.raises(DatabaseError, match=refused), transaction.atomic():
        CardTransition.objects.filter(pk=row.pk).update(reason="edited")
    with pytest.raises(DatabaseError, match=refused), transaction.atomic():
        CardTransition.objects.filter(pk=row.pk).delete()
    assert CardTransition.objects.get(pk=row.pk).reason == ""


def test_receipt_numbers_are_unguessable_and_checked(world):
    from cards.numbers import is_valid_receipt_number

    numbers = {submit(world, eligible_person()).receipt_number for _ in range(5)}
    assert len(numbers) == 5
    for number in numbers:
        assert is_valid_receipt_number(number)
        typo = number[:-2] + ("0" if number[-2] != "0" else "1") + number[-1]
        assert not is_valid_receipt_number(typo)


# --- verify: the registry is asked before the card is locked ------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_hanging_registry_answers_a_retryable_refusal_and_never_holds_the_card(
    world, person, settings
):
    """While the registry hangs, another connection can lock the card at once (NOWAIT): the call
    is made before the lock. After the timeout: 503 registry_unavailable, the card unchanged."""
    import threading

    from django.db import connections

    from tests.registry_server import hanging_registry

    card = submit(world, person)
    seen_while_waiting: list[str] = []

    def try_the_card() -> None:
        def attempt() -> None:
            try:
                from django.db import transaction

                with transaction.atomic():
                    Card.objects.select_for_update(nowait=True).get(pk=card.pk)
                seen_while_waiting.append("free")
            except Exception as exc:  # a lock held by the verifier: the bug
                seen_while_waiting.append(type(exc).__name__)
            finally:
                connections["default"].close()

        thread = threading.Thread(target=attempt)
        thread.start()
        thread.join(timeout=5)

    settings.REGISTRY_BACKEND = "applicants.registry.HttpRegistry"
    settings.REGISTRY_TIMEOUT = 0.5
    with hanging_registry(on_request=try_the_card) as url:
        settings.REGISTRY_URL = url
        error = refused("registry_unavailable", services.card_verify, card=card, actor=world.clerk)
    assert seen_while_waiting == ["free"]
    assert error.status == 503 and error.details == {"retryable": True}
    assert "try again" in error.message
    card.refresh_from_db()
    assert card.status == S.APPLIED
    assert log_of(card) == [(T.SUBMIT, "", S.APPLIED)]


def test_a_closed_registry_port_is_the_same_retryable_refusal(world, person, settings):
    from tests.registry_server import CLOSED_PORT

    card = submit(world, person)
    settings.REGISTRY_BACKEND = "applicants.registry.HttpRegistry"
    settings.REGISTRY_URL = f"http://127.0.0.1:{CLOSED_PORT}"
    refused("registry_unavailable", services.card_verify, card=card, actor=world.clerk)
    card.refresh_from_db()
    assert card.status == S.APPLIED


def test_a_replacement_taken_while_the_registry_is_out_waits_for_verification(
    world, card_in, settings
):
    from tests.registry_server import CLOSED_PORT

    old = card_in(S.ISSUED)
    settings.REGISTRY_BACKEND = "applicants.registry.HttpRegistry"
    settings.REGISTRY_URL = f"http://127.0.0.1:{CLOSED_PORT}"
    new = services.card_replace(
        card=old,
        actor=world.clerk,
        reason="damaged",
        id_number=old.applicant.id_number,
        card_presented=True,
    )
    assert new.status == S.APPLIED and new.replaces_id == old.pk


@pytest.mark.parametrize("invisible", ["\u200b", "\u200e\u200f", "\ufeff ", "\u3000"])
def test_a_required_reason_of_invisible_characters_is_refused_naming_it(world, card_in, invisible):
    """Found from outside: a supervisor's cancellation with a zero-width space as its reason was
    taken (it is not white space to str.strip())."""
    card = card_in(S.ISSUED)
    error = refused(
        "invalid", services.card_cancel, card=card, actor=world.supervisor, reason=invisible
    )
    assert list(error.details) == ["reason"]
    error = refused("invalid", phone, world=world, card=card, home_address=invisible)
    assert list(error.details) == ["home_address"]
    card.refresh_from_db()
    assert card.status == S.ISSUED
    applied = card_in(S.APPLIED, applicant=eligible_person())
    error = refused(
        "invalid", services.card_withdraw, card=applied, actor=world.clerk, reason=invisible
    )
    assert list(error.details) == ["reason"]


def test_staff_without_a_service_point_are_told_to_name_one(world, person):
    from cards.actors import Actor

    nowhere = Actor(kind=world.clerk.kind, user=world.clerk.user, staff=world.clerk.staff)
    error = refused(
        "invalid",
        services.card_submit,
        applicant=person,
        card_type=CardType.SOCIAL_SECURITY,
        actor=nowhere,
        bank=world.bank,
    )
    assert error.details == {
        "service_point": ["Name the service point (outlet) of the application."]
    }
