"""What the page says for a matching pair: every state in plain language with its own next step,
in Chinese and in English; effective states; rejections; collection; replacements; two queries."""

from __future__ import annotations

import datetime
import html

import pytest
import time_machine
from django.utils import timezone

from applicants.models import RegistryRecord
from cards import services
from cards.choices import CardStatus, CardType
from cards.models import Card
from cards.numbers import format_receipt_number
from cards.public.lookup import STATE_GUIDANCE
from tests.cards.conftest import T0, bring_to, eligible_person, submit
from tests.status.conftest import lookup

S = CardStatus

# Written out independently of the code: each state's headline and a phrase of its own next step,
# in English and in Chinese.
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    S.APPLIED: {
        "en": ("We have received your application", "The check usually takes no more than 5 days"),
        "zh-hans": ("您的申请已受理", "核对一般不超过5天"),
    },
    S.VERIFIED: {
        "en": ("Your application is approved and your card is being made", "expect it around"),
        "zh-hans": ("您的申请已审核通过，卡片正在制作", "预计在"),
    },
    S.READY_FOR_COLLECTION: {
        "en": ("Your card is ready to collect", "Collect it at the place below"),
        "zh-hans": ("您的卡已制作完成，可以领取", "请在办公时间内到下列地点领取"),
    },
    S.ISSUED: {
        "en": ("Your card has been issued and can be used", "Keep the card safe"),
        "zh-hans": ("您的卡已发放，可以正常使用", "请妥善保管卡片"),
    },
    S.PHONE_REPORTED_LOST: {
        "en": ("Reported lost by phone: the card is blocked for now", "report the loss in writing"),
        "zh-hans": ("已电话预挂失，卡片暂停使用", "办理书面挂失"),
    },
    S.WRITTEN_LOST: {
        "en": (
            "Reported lost in writing: the card is blocked",
            "the card will be cancelled automatically and can never be used again",
        ),
        "zh-hans": ("已书面挂失，卡片已停用", "自动注销，注销后不能再使用"),
    },
    S.CANCELLED: {
        "en": ("This card is cancelled", "apply for a new one at a service point"),
        "zh-hans": ("此卡已注销", "并说明用于替换此卡"),
    },
    S.REPLACED: {
        "en": (
            "This card has been replaced by a new card",
            "Follow the new card with its own receipt number",
        ),
        "zh-hans": ("此卡已补换新卡", "请用下方新卡的回执编号"),
    },
    S.REJECTED: {
        "en": ("Your application was not approved", "what to correct"),
        "zh-hans": ("您的申请未通过审核", "咨询需要更正的内容"),
    },
    S.WITHDRAWN: {
        "en": ("This application was withdrawn", "If you still need a card, apply again"),
        "zh-hans": ("此申请已撤回", "如仍需办卡"),
    },
}
STATUS_LABELS_ZH = {
    S.APPLIED: "已申请",
    S.READY_FOR_COLLECTION: "待领取",
    S.CANCELLED: "已注销",
}


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_every_state_has_its_own_guidance():
    assert set(STATE_GUIDANCE) == set(CardStatus)
    assert set(EXPECTED) == set(CardStatus)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("state", list(CardStatus))
def test_every_state_is_explained_with_its_own_next_step(client, card_in, state, language):
    card = card_in(state)
    response = lookup(client, card.applicant.id_number, card.receipt_number, language=language)
    assert response.status_code == 200
    page = text(response)
    headline, next_step = EXPECTED[state][language]
    assert f"<h1>{headline}</h1>" in page
    assert next_step in page
    for other, texts in EXPECTED.items():
        if other != state:
            assert f"<h1>{texts[language][0]}</h1>" not in page
    assert card.applicant.name not in page  # the masked name only
    assert card.applicant.name[0] + "*" in page
    assert format_receipt_number(card.receipt_number) in page
    if language == "zh-hans":
        assert '<html lang="zh-Hans">' in page
        assert "社会保障卡" in page and "办理记录" in page and "接下来怎么办" in page
        if state in STATUS_LABELS_ZH:
            assert STATUS_LABELS_ZH[state] in page
    else:
        assert '<html lang="en">' in page
        assert "Social security card" in page and "What happens next" in page


def test_dates_are_shanghai_time_in_both_languages(client, world, person):
    with time_machine.travel(T0, tick=False):  # 09:30 UTC is 17:30 in Shanghai
        card = bring_to(world, submit(world, person), S.PHONE_REPORTED_LOST)
        zh = text(lookup(client, person.id_number, card.receipt_number))
        en = text(lookup(client, person.id_number, card.receipt_number, language="en"))
    assert "此卡已于2026年3月2日 17:30通过12333电话预挂失" in zh
    assert "电话预挂失失效时间" in zh and "2026年3月3日 17:30" in zh
    assert "March 2, 2026, 5:30 p.m." in en
    assert "This phone report lapses at" in en and "March 3, 2026, 5:30 p.m." in en
    assert "Before March 3, 2026, 5:30 p.m., report the loss in writing" in en


def test_a_lapsed_phone_report_shows_as_lapsed_before_the_scheduler_runs(client, world, person):
    with time_machine.travel(T0, tick=False):
        card = bring_to(world, submit(world, person), S.PHONE_REPORTED_LOST)
    with time_machine.travel(T0 + datetime.timedelta(hours=23, minutes=59), tick=False):
        page = text(lookup(client, person.id_number, card.receipt_number, language="en"))
        assert "<h1>Reported lost by phone: the card is blocked for now</h1>" in page
    with time_machine.travel(T0 + datetime.timedelta(hours=24, minutes=1), tick=False):
        page = text(lookup(client, person.id_number, card.receipt_number, language="en"))
    card.refresh_from_db()
    assert card.status == S.PHONE_REPORTED_LOST  # nothing written: only shown as in force
    assert "<h1>Your card has been issued and can be used</h1>" in page
    assert "Your phone loss report lapsed at March 3, 2026, 5:30 p.m." in page
    assert "Phone report lapsed" in page  # the timeline shows the lapse in force
    assert "This phone report lapses at" not in page


def test_an_expired_written_report_shows_the_card_cancelled(client, world, person):
    with time_machine.travel(T0, tick=False):
        card = bring_to(world, submit(world, person), S.WRITTEN_LOST)
    with time_machine.travel(T0 + datetime.timedelta(days=30, seconds=1), tick=False):
        en = text(lookup(client, person.id_number, card.receipt_number, language="en"))
        zh = text(lookup(client, person.id_number, card.receipt_number))
    card.refresh_from_db()
    assert card.status == S.WRITTEN_LOST
    assert "<h1>This card is cancelled</h1>" in en
    assert "ran out at April 1, 2026, 5:30 p.m." in en
    assert "Cancelled automatically" in en
    assert "<h1>此卡已注销</h1>" in zh and "书面挂失已于2026年4月1日 17:30到期" in zh


def test_a_written_report_names_its_certificate_and_the_exact_cancellation(client, world, person):
    with time_machine.travel(T0, tick=False):
        card = bring_to(world, submit(world, person), S.WRITTEN_LOST)
        page = text(lookup(client, person.id_number, card.receipt_number, language="en"))
    assert card.loss_certificate_number in page
    assert "The card will be cancelled automatically at" in page
    assert "At April 1, 2026, 5:30 p.m. the card will be cancelled automatically" in page
    assert "apply for a replacement" in page


def test_a_rejection_names_the_fields_to_correct_never_the_registry_values(client, world):
    person = eligible_person(name="王小明", hukou_place="上海市徐汇区")
    RegistryRecord.objects.filter(id_number=person.id_number).update(
        name="王晓明", hukou_place="上海市浦东新区"
    )
    card = services.card_verify(card=submit(world, person), actor=world.clerk)
    assert card.status == S.REJECTED
    en = text(lookup(client, person.id_number, card.receipt_number, language="en"))
    zh = text(lookup(client, person.id_number, card.receipt_number))
    assert "What to correct" in en
    assert "Name" in en and "Write your name exactly as on your ID document." in en
    assert "Place of household registration" in en and "household register" in en
    assert "Date of birth" not in en  # only the fields that differ
    assert "需要更正的内容" in zh and "姓名" in zh and "户籍地" in zh
    assert "请在新的申请表上更正以上内容" in zh
    assert world.community.name in en  # where to apply again
    for page in (en, zh):
        for value in ("王晓明", "王小明", "浦东新区", "徐汇区"):
            assert value not in page


def test_a_rejection_without_a_registry_record_says_so(client, world):
    person = eligible_person()
    RegistryRecord.objects.filter(id_number=person.id_number).delete()
    card = services.card_verify(card=submit(world, person), actor=world.clerk)
    page = text(lookup(client, person.id_number, card.receipt_number, language="en"))
    assert "the municipal registry had no record for your ID number" in page


def test_a_clerks_own_words_are_not_shown(client, world, person):
    card = services.card_reject(
        card=submit(world, person), actor=world.clerk, reason="Applicant rude, call 13912345678"
    )
    page = text(lookup(client, person.id_number, card.receipt_number, language="en"))
    assert "13912345678" not in page and "rude" not in page
    assert "Ask the service point where you applied what to correct" in page


def test_collection_says_where_when_and_what_to_bring(client, world, person):
    world.outlet.opening_hours = "周一至周五 9:00-17:00"
    world.outlet.phone = "021-12345678"
    world.outlet.address = "上海市徐汇区肇嘉浜路1号"
    world.outlet.save()
    card = bring_to(world, submit(world, person), S.READY_FOR_COLLECTION)
    en = text(lookup(client, person.id_number, card.receipt_number, language="en"))
    zh = text(lookup(client, person.id_number, card.receipt_number))
    for page in (en, zh):
        assert world.outlet.name in page
        assert "上海市徐汇区肇嘉浜路1号" in page
        assert 'href="tel:021-12345678"' in page
    # The opening hours in the page's language (#12: the English page said 周一至周五).
    assert "周一至周五 9:00-17:00" in zh
    assert "Mon–Fri 9:00-17:00" in en and "周一" not in en
    assert "Where to collect the card" in en and "What to bring" in en
    assert "Your original ID document" in en and "This application receipt." in en
    assert "领卡地点" in zh and "需要携带" in zh and "身份证件原件" in zh and "本申请回执" in zh


def test_a_medical_card_at_a_street_point_shows_the_promised_day(client, world, person):
    with time_machine.travel(T0, tick=False):  # Monday 2 March 2026
        card = services.card_verify(
            card=submit(world, person, CardType.MEDICAL_INSURANCE), actor=world.street_medical_clerk
        )
        en = text(lookup(client, person.id_number, card.receipt_number, language="en"))
        zh = text(lookup(client, person.id_number, card.receipt_number))
    day = card.ready_promised_by
    assert day is not None
    assert "Medical insurance card" in en
    assert "will finish your card by" in en and "(within 3 working days)" in en
    assert f"{day.year}年{day.month}月{day.day}日前完成制卡（3个工作日内）" in zh
    assert world.street_medical.name in en


def test_a_replacement_shows_both_cards_linked(client, world, person):
    old = bring_to(world, submit(world, person), S.REPLACED)
    new = old.replaced_by
    old_page = text(lookup(client, person.id_number, old.receipt_number, language="en"))
    assert "Replaced by the new card" in old_page
    assert format_receipt_number(new.receipt_number) in old_page
    new_page = text(lookup(client, person.id_number, new.receipt_number, language="en"))
    assert "This card replaces" in new_page
    assert format_receipt_number(old.receipt_number) in new_page
    assert "<h1>Your application is approved and your card is being made</h1>" in new_page
    zh = text(lookup(client, person.id_number, old.receipt_number))
    assert "已由以下新卡替换" in zh and "关联卡片" in zh


def test_a_new_application_after_cancellation_is_linked(client, world, person):
    cancelled = bring_to(world, submit(world, person), S.CANCELLED)
    new = services.card_submit(
        applicant=person,
        card_type=CardType.SOCIAL_SECURITY,
        actor=world.clerk,
        bank=world.bank,
        collection_point=world.outlet,
        replaces=cancelled,
    )
    page = text(lookup(client, person.id_number, cancelled.receipt_number, language="en"))
    assert "A new card has been applied for: see it below." in page
    assert format_receipt_number(new.receipt_number) in page


def test_a_withdrawn_loss_report_says_the_card_is_usable_again(client, world, person):
    card = bring_to(world, submit(world, person), S.WRITTEN_LOST)
    services.card_withdraw_loss_report(
        card=card, actor=world.clerk, id_number=card.applicant.id_number, card_presented=True
    )
    page = text(lookup(client, person.id_number, card.receipt_number, language="en"))
    assert "<h1>Your card has been issued and can be used</h1>" in page
    assert "Your loss report was withdrawn on" in page
    assert "Loss report withdrawn: card found" in page


def test_a_lookup_is_one_query_match_or_not(client, card_in, django_assert_num_queries):
    card = card_in(S.WRITTEN_LOST)
    with django_assert_num_queries(1):
        response = lookup(client, card.applicant.id_number, card.receipt_number)
    assert "已书面挂失" in response.content.decode()
    with django_assert_num_queries(1):
        lookup(client, "310104198001010011", card.receipt_number)
    with django_assert_num_queries(1):
        lookup(client, "not an id", "not a receipt")


def test_a_replaced_card_and_its_replacement_are_one_query_too(
    client, world, card_in, django_assert_num_queries
):
    """The linked card's state in force comes from the same statement, never from a second
    read."""
    old = card_in(S.WRITTEN_LOST)
    services.card_replace(
        card=old,
        actor=world.clerk,
        reason="lost",
        id_number=old.applicant.id_number,
        card_presented=True,
    )
    with django_assert_num_queries(1):
        response = lookup(client, old.applicant.id_number, old.receipt_number, language="en")
    assert "This card has been replaced by a new card" in text(response)


def test_people_type_numbers_as_they_like(client, world):
    person = eligible_person(id_number="11010519491231002X")
    card = submit(world, person)
    receipt = format_receipt_number(card.receipt_number).lower()
    full_width_id = "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) for c in "110105 19491231 002x"
    )
    for id_number, receipt_number in [
        ("11010519491231002x", receipt),
        (" 110105-19491231-002X ", card.receipt_number.replace("0", "o").replace("1", "l")),
        (full_width_id, " ".join(card.receipt_number)),
    ]:
        page = text(lookup(client, id_number, receipt_number, language="en"))
        assert "<h1>We have received your application</h1>" in page, (id_number, receipt_number)


def test_the_read_returns_what_the_database_holds(world, person):
    """The hand-written statements read the same values as the ORM (guards their column lists)."""
    from cards.public.lookup import CARD_FIELDS, card_public_get

    old = bring_to(world, submit(world, person), S.REPLACED)
    card = old.replaced_by
    found = card_public_get(id_number=person.id_number, receipt_number=card.receipt_number)
    assert isinstance(found.card, Card) and found.card.pk == card.pk
    for name in CARD_FIELDS:
        assert getattr(found.card, name) == getattr(card, name), name
    assert found.card.status_at(timezone.now()) == card.status == S.VERIFIED
    assert found.holder_name == person.name
    assert found.bank.name_zh == world.bank.name_zh
    assert found.collection_point.name == world.outlet.name
    assert found.applied_at.name == card.service_point.name
    assert found.replaces.pk == old.pk and found.replaces.status == S.REPLACED
    assert found.replaced_by is None
    assert [row.name for row in found.history] == ["submit", "verify"]
    assert [row.at for row in found.history] == list(
        card.transitions.order_by("id").values_list("at", flat=True)
    )


def test_what_staff_typed_is_escaped_on_the_page(client, card_in):
    """The pages are Jinja2 templates with autoescaping on: a service point's details, entered
    in the admin, are text on the page, never markup."""
    card = card_in(S.READY_FOR_COLLECTION)
    point = card.collection_point
    point.address = '<script>alert("x")</script> 1号'
    point.save(update_fields=["address"])
    body = lookup(client, card.applicant.id_number, card.receipt_number).content.decode()
    assert "<script>" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; 1号" in body


@pytest.mark.parametrize("state", list(CardStatus))
def test_the_prepared_statement_and_the_orm_give_the_same_answer(card_in, state):
    """On PostgreSQL one prepared statement reads the card; elsewhere (`make run` on SQLite) the
    ORM does. Both give the same answer, timeline and linked cards included."""
    from cards.public.lookup import _card_public_get_orm, card_public_get, status_answer

    card = card_in(state)
    if state == S.REJECTED:
        assert card.transitions.filter(name="reject").exists()
    pair = {"id_number": card.applicant.id_number, "receipt_number": card.receipt_number}
    fast, orm = card_public_get(**pair), _card_public_get_orm(**pair)
    assert fast.history == orm.history
    now = timezone.now()
    assert status_answer(found=fast, now=now) == status_answer(found=orm, now=now)


def test_the_orm_read_links_a_replacement_both_ways(world, card_in):
    from cards.choices import ReplacementReason
    from cards.public.lookup import _card_public_get_orm, card_public_get, status_answer

    old = card_in(S.ISSUED)
    new = services.card_replace(
        card=old,
        actor=world.clerk,
        reason=ReplacementReason.DAMAGED,
        id_number=old.applicant.id_number,
        card_presented=True,
    )
    now = timezone.now()
    for card in (old, new):
        pair = {"id_number": card.applicant.id_number, "receipt_number": card.receipt_number}
        fast, orm = card_public_get(**pair), _card_public_get_orm(**pair)
        assert status_answer(found=fast, now=now) == status_answer(found=orm, now=now)
        assert len(status_answer(found=orm, now=now).linked) == 1


def test_the_two_paths_agree_on_a_rejections_differences_and_its_reason(world, person):
    """The rejection row's data (the fields that differ, the reason's code) reaches the page on
    both paths; the ORM's is the one `make run` shows."""
    from cards.choices import RejectionReason
    from cards.public.lookup import _card_public_get_orm, card_public_get, status_answer

    RegistryRecord.objects.filter(id_number=person.id_number).update(name="王五")
    differing = services.card_verify(card=submit(world, person), actor=world.clerk)
    coded = services.card_reject(
        card=submit(world, eligible_person()),
        actor=world.clerk,
        reason_code=RejectionReason.PHOTO_RECEIPT_MISSING,
    )
    now = timezone.now()
    for card in (differing, coded):
        pair = {"id_number": card.applicant.id_number, "receipt_number": card.receipt_number}
        fast, orm = card_public_get(**pair), _card_public_get_orm(**pair)
        assert status_answer(found=fast, now=now) == status_answer(found=orm, now=now)
    submitted, rejected = _card_public_get_orm(
        id_number=differing.applicant.id_number, receipt_number=differing.receipt_number
    ).history
    assert submitted.differences is None
    assert [d["field"] for d in rejected.differences] == ["name"]
    rejected = _card_public_get_orm(
        id_number=coded.applicant.id_number, receipt_number=coded.receipt_number
    ).history[-1]
    assert rejected.reason_code == RejectionReason.PHOTO_RECEIPT_MISSING


def test_the_two_paths_give_a_rejections_differing_fields_by_name_only(world, person):
    """The log seals the form's and the registry's values of a differing field: the prepared
    statement reads them still encrypted, the ORM opens them. Both paths return the same history,
    the fields' names and nothing of their values."""
    from cards.public.lookup import _card_public_get_orm, card_public_get

    RegistryRecord.objects.filter(id_number=person.id_number).update(name="王五", hukou_place="X市")
    card = services.card_verify(card=submit(world, person), actor=world.clerk)
    stored = card.transitions.get(name="reject").data["differences"]
    assert {d["field"] for d in stored} == {"name", "hukou_place"} and "registry" in stored[0]
    pair = {"id_number": person.id_number, "receipt_number": card.receipt_number}
    fast, orm = card_public_get(**pair), _card_public_get_orm(**pair)
    assert fast.history == orm.history
    assert [sorted(d["field"] for d in fast.history[-1].differences)] == [["hukou_place", "name"]]
    assert all(set(d) == {"field"} for d in fast.history[-1].differences)
    for read in (fast, orm):
        assert "王五" not in repr(read.history) and "X市" not in repr(read.history)
