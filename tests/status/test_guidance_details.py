"""What the status page says in the details the state-by-state records (test_guidance_texts.py)
do not reach, word for word: the day of the registry check, the bank making the card in each
language, the "lose it" step in Chinese under each rule set, a street point's collect-by day, a
lapsed or withdrawn loss report, a step the scheduler took, a cancellation read days later, every
field a rejection names, a rejection's listed reason in both languages, a linked card's written
deadline from the one statement, and where the statement may read (issue #18: the status
lookup's mutation survivors)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import override_settings
from django.utils import translation

from cards import rules, services
from cards.choices import (
    CardStatus,
    CardType,
    RejectionReason,
    ReplacementReason,
    TransitionName,
)
from cards.expiry import expire_card_if_due
from cards.public import lookup as public_lookup
from cards.public.lookup import StatusAnswer, status_lookup
from tests.cards.conftest import T0, bring_to, card_number, report_by_phone, submit

S = CardStatus
T = TransitionName
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


def said(card, *, now: datetime.datetime, language: str = "en") -> StatusAnswer:
    with translation.override(language):
        answer = status_lookup(
            id_number=card.applicant.id_number, receipt_number=card.receipt_number, now=now
        )
    assert answer is not None
    return answer


def test_the_check_is_dated_the_day_of_the_verification_not_of_the_application(world, person):
    with time_machine.travel(T0, tick=False):
        card = submit(world, person)
    with time_machine.travel(T0 + 3 * DAY, tick=False):
        card = services.card_verify(card=card, actor=world.clerk)
    answer = said(card, now=T0 + 4 * DAY)
    assert answer.guidance.explanation[0] == (
        "Your details match the municipal registry (checked on March 5, 2026)."
    )


def test_the_bank_making_the_card_is_named_in_the_pages_language(world, person):
    with time_machine.travel(T0, tick=False):
        card = bring_to(world, submit(world, person), S.VERIFIED)
    en = said(card, now=T0 + DAY).guidance.explanation[1]
    zh = said(card, now=T0 + DAY, language="zh-hans").guidance.explanation[1]
    assert en.startswith("Bank of Shanghai is making your card.")
    assert zh.startswith("您的卡由上海银行制作，")


@pytest.mark.parametrize(
    ("rule_set", "step"),
    [
        (
            rules.SEED_2019,
            "如卡片丢失：请立即拨打12333电话预挂失（有效期24小时），并携带居民身份证到"
            "社区事务受理服务中心办理书面挂失。",
        ),
        (
            rules.SHANGHAI_3RD_GEN,
            "如卡片遗失：请立即拨打12333电话预挂失（有效期5天），然后携带居民身份证到"
            "社区事务受理服务中心书面挂失。",
        ),
    ],
)
def test_the_lose_it_step_in_chinese_gives_the_phone_reports_validity(card_in, rule_set, step):
    with override_settings(RULE_SET=rule_set), time_machine.travel(T0, tick=False):
        card = card_in(S.ISSUED)
    assert said(card, now=T0 + DAY, language="zh-hans").guidance.next_steps[1] == step


def test_a_street_points_card_shows_its_collect_by_day(world, person):
    with time_machine.travel(T0, tick=False):
        card = submit(world, person, CardType.MEDICAL_INSURANCE)
        card = services.card_verify(card=card, actor=world.street_medical_clerk)
        card = services.card_mark_ready(
            card=card, actor=world.street_medical_clerk, card_number=card_number()
        )
    guidance = said(card, now=T0 + DAY).guidance
    assert guidance.explanation[1] == "Please collect it by April 1, 2026."
    assert (guidance.deadline_label, guidance.deadline) == ("Collect the card by", "April 1, 2026")


def test_a_phone_report_the_scheduler_lapsed_names_no_place(world, card_in):
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card_in(S.ISSUED))
    later = T0 + 2 * DAY
    with time_machine.travel(later, tick=False):
        assert expire_card_if_due(card, now=later) == T.LAPSE_PHONE_REPORT
    answer = said(card, now=later)
    assert answer.guidance.explanation[1] == (
        "Your phone loss report lapsed at March 3, 2026, 5:30 p.m. because no written report "
        "followed in time: the card can be used again."
    )
    lapse = answer.timeline[-1]
    assert (lapse.label, lapse.place) == (str(T.LAPSE_PHONE_REPORT.label), "")
    assert all(event.place for event in answer.timeline[:-1])  # staff's steps name their place


def test_a_withdrawn_loss_report_is_dated(world, card_in):
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card_in(S.ISSUED))
    with time_machine.travel(T0 + 12 * HOUR, tick=False):  # the next day in Shanghai
        card = services.card_withdraw_loss_report(
            card=card, actor=world.clerk, id_number=card.applicant.id_number, card_presented=True
        )
    assert said(card, now=T0 + 4 * DAY).guidance.explanation[1] == (
        "Your loss report was withdrawn on March 3, 2026: the card can be used again."
    )


def test_a_cancellation_read_days_later_gives_the_day_it_happened(card_in):
    with time_machine.travel(T0, tick=False):
        card = card_in(S.CANCELLED)
    assert said(card, now=T0 + 10 * DAY).guidance.explanation == [
        "The card was cancelled on March 2, 2026."
    ]


FIELDS = ("name", "sex", "birth_date", "nationality", "shanghai_hukou", "hukou_place", "photo")


def test_a_rejection_names_every_field_to_correct_with_its_advice(world, person):
    with time_machine.travel(T0, tick=False):
        card = services.card_reject(
            card=submit(world, person),
            actor=world.clerk,
            reason="Registry check.",
            differences=[{"field": name} for name in FIELDS],
        )
    guidance = said(card, now=T0 + DAY).guidance
    assert [(c.field, c.label, c.advice) for c in guidance.corrections] == [
        ("name", "Name", "Write your name exactly as on your ID document."),
        ("sex", "Sex", "Give the sex shown on your ID document."),
        ("birth_date", "Date of birth", "Write the date of birth on your ID document."),
        (
            "nationality",
            "Nationality",
            "Give the nationality shown on your passport or residence document.",
        ),
        (
            "shanghai_hukou",
            "Shanghai household registration",
            "Say whether your household registration (hukou) is in Shanghai.",
        ),
        (
            "hukou_place",
            "Place of household registration",
            "Write the place exactly as in your household register (hukou booklet).",
        ),
        ("photo", "Another detail", "Ask the service point which detail to correct."),
    ]
    assert guidance.explanation == [
        "On March 2, 2026 the service point found that your form differs from the municipal "
        "registry in the details below."
    ]
    assert guidance.next_steps == [
        "Correct these details on a new application form and apply again at a service point, "
        "for example where you applied (below). Bring your ID document, the photo receipt and "
        "the form.",
        "If your ID document is right and the registry is wrong, ask the service point how to "
        "have the registry corrected.",
    ]


def test_a_rejections_listed_reason_in_the_page_language_and_the_other(world, person):
    with time_machine.travel(T0, tick=False):
        card = services.card_reject(
            card=submit(world, person),
            actor=world.clerk,
            reason_code=RejectionReason.FORM_INCOMPLETE,
        )
    en = said(card, now=T0 + DAY).guidance
    assert en.explanation == [
        "On March 2, 2026 the service point could not approve your application: The "
        "application form was incomplete or not signed.",
        "申请表填写不完整或未签名。",
    ]
    assert en.next_steps == [
        "Apply again at a service point, for example where you applied (below), with what is "
        "listed under “What to bring”."
    ]
    assert en.bring == [
        "The application registration form, filled in completely and signed",
        "Your original identity document",
    ]
    assert en.corrections == []
    zh = said(card, now=T0 + DAY, language="zh-hans").guidance
    assert zh.explanation[1] == "The application form was incomplete or not signed."
    assert zh.bring == ["完整填写并签名的申领登记表", "您的身份证件原件"]


def test_a_linked_cards_written_deadline_comes_from_the_one_statement(
    world, card_in, django_assert_num_queries
):
    """A replaced card whose replacement was issued and then reported lost in writing: after the
    replacement's written deadline, before the scheduler runs, the old card's page shows the new
    one cancelled, read in the one statement (a deadline left out of it would be a second query,
    a deferred field)."""
    with time_machine.travel(T0, tick=False):
        old = card_in(S.ISSUED)
        new = services.card_replace(
            card=old,
            actor=world.clerk,
            reason=ReplacementReason.DAMAGED,
            id_number=old.applicant.id_number,
            card_presented=True,
        )
        assert new.status == S.VERIFIED  # a replacement needs no second registry check
        new = services.card_mark_ready(card=new, actor=world.bank_actor, card_number=card_number())
        new = services.card_hand_over(
            card=new,
            actor=world.bank_actor,
            id_number=new.applicant.id_number,
            receipt_number=new.receipt_number,
        )
        new = services.card_report_lost_in_writing(
            card=new, actor=world.clerk, id_number=new.applicant.id_number
        )
    assert new.written_report_expires_at is not None
    after = new.written_report_expires_at + datetime.timedelta(seconds=1)
    with django_assert_num_queries(1), translation.override("en"):
        answer = status_lookup(
            id_number=old.applicant.id_number, receipt_number=old.receipt_number, now=after
        )
    assert [(link.relation, link.status) for link in answer.linked] == [
        ("Replaced by the new card", S.CANCELLED)
    ]


def test_the_statement_reads_where_the_router_sends_reads(card_in, monkeypatch):
    """The lookup is a read that may go to the replica (common/routers.py read_alias): it asks
    the router, and reads where it is sent."""
    asked = []

    def read_alias() -> str:
        asked.append(True)
        return "default"

    monkeypatch.setattr("common.prepared.read_alias", read_alias)
    card = card_in(S.ISSUED)
    assert said(card, now=T0 + 400 * DAY).status == S.ISSUED
    assert asked == [True]
    assert public_lookup._LOOKUP.replica_ok is True


def test_a_phone_report_is_dated_in_a_sentence_that_ends_once(world, card_in):
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card_in(S.ISSUED))
    assert said(card, now=T0 + HOUR).guidance.explanation == [
        "On March 2, 2026, 5:30 p.m. the card was reported lost by phone (12333)."
    ]
    assert said(card, now=T0 + HOUR, language="zh-hans").guidance.explanation == [
        "此卡已于2026年3月2日 17:30通过12333电话预挂失。"
    ]


@override_settings(LANGUAGE_CODE="en")
def test_the_other_language_is_chinese_whatever_the_sites_default_language(
    world, person, monkeypatch
):
    """The English page's second line is the listed reason in Chinese because it asks for
    Chinese, not because Chinese is the default a translation falls back to. (Django keeps each
    language's catalog, its fallback included, once made: this test starts from none.)"""
    from django.utils.translation import trans_real

    monkeypatch.setattr(trans_real, "_translations", {})
    with time_machine.travel(T0, tick=False):
        card = services.card_reject(
            card=submit(world, person),
            actor=world.clerk,
            reason_code=RejectionReason.FORM_INCOMPLETE,
        )
    assert said(card, now=T0 + DAY).guidance.explanation[1] == "申请表填写不完整或未签名。"
