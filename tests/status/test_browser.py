"""The status page in real headless Chromium on a phone: a person lands from the receipt's QR code,
types their ID number, submits, and reads the answer; in Chinese and, after switching, English.
axe-core runs in the page and must find no serious or critical violation. Screenshots are saved
to artifacts/screenshots/status-*.png."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from cards.choices import CardStatus
from cards.numbers import format_receipt_number
from tests.browser import screenshot
from tests.cards.conftest import bring_to, eligible_person, submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.viewport("phone")]
S = CardStatus


def assert_accessible(page) -> None:
    results = Axe().run(page)
    serious = [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious


@pytest.fixture
def console_errors(browser_page):
    """Errors the page logs, CSP refusals included (our own stylesheet must never be blocked)."""
    errors: list[str] = []
    browser_page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


@pytest.fixture
def collectable(world):
    world.outlet.name = "上海银行徐汇支行"
    world.outlet.address = "上海市徐汇区漕溪北路88号"
    world.outlet.opening_hours = "周一至周五 9:00-17:00"
    world.outlet.phone = "021-64000000"
    world.outlet.save()
    person = eligible_person(name="陈美华")
    return person, bring_to(world, submit(world, person), S.READY_FOR_COLLECTION)


def test_from_the_qr_code_through_a_typo_to_the_answer_in_chinese(
    browser_page, collectable, console_errors
):
    page = browser_page
    person, card = collectable
    page.goto(f"/status/?receipt_number={card.receipt_number}")
    expect(page.locator("h1")).to_have_text("社保卡、医保卡办理进度查询")
    receipt_field = page.get_by_label("回执编号")
    expect(receipt_field).to_have_value(format_receipt_number(card.receipt_number))
    assert_accessible(page)
    screenshot(page, "status-form-zh")

    # A typo in the ID number: the same notice as for any mismatch, naming neither number.
    typo = person.id_number[:-2] + ("1" if person.id_number[-2] != "1" else "2") + "X"
    page.get_by_label("身份证件号码").click()
    page.keyboard.type(typo)
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("没有找到与这两个号码对应的卡片")
    expect(alert).to_contain_text("我们不提示是哪一个号码有误")
    expect(page.get_by_label("身份证件号码")).to_have_value("")  # nothing typed is echoed
    expect(receipt_field).to_have_value(format_receipt_number(card.receipt_number))  # QR kept
    assert_accessible(page)
    screenshot(page, "status-no-match-zh")

    page.get_by_label("身份证件号码").click()
    page.keyboard.type(person.id_number.lower())  # a small x, as people type it
    page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("您的卡已制作完成，可以领取")
    assert page.url.endswith(
        f"/status/?receipt_number={format_receipt_number(card.receipt_number)}"
    )
    assert person.id_number not in page.url
    summary = page.locator("dl.summary")
    expect(summary).to_contain_text("陈**")
    expect(summary).to_contain_text("待领取")
    expect(page.locator(".place")).to_contain_text("上海市徐汇区漕溪北路88号")
    expect(page.locator(".bring")).to_contain_text("本申请回执")
    expect(page.locator(".timeline li")).to_have_count(3)
    assert_accessible(page)
    screenshot(page, "status-answer-zh")
    assert console_errors == []


def test_switching_to_english_and_typing_both_numbers(browser_page, world, console_errors):
    page = browser_page
    person = eligible_person(name="Maria Garcia Lopez")
    card = bring_to(world, submit(world, person), S.WRITTEN_LOST)
    page.goto("/status/")
    page.get_by_role("button", name="English").click()  # a plain form: no script needed
    expect(page.locator("h1")).to_have_text(
        "Check your social security card or medical insurance card"
    )
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert_accessible(page)
    screenshot(page, "status-form-en")

    page.get_by_label("ID document number").click()
    page.keyboard.type(person.id_number)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Receipt number")).to_be_focused()
    page.keyboard.type(format_receipt_number(card.receipt_number))
    page.get_by_role("button", name="Look up").click()

    expect(page.locator("h1")).to_have_text("Reported lost in writing: the card is blocked")
    expect(page.locator(".deadline")).to_contain_text("The card will be cancelled automatically at")
    expect(page.locator("dl.summary")).to_contain_text("M**** G***** L****")
    assert_accessible(page)
    screenshot(page, "status-answer-en")
    assert console_errors == []


def test_a_rejection_lists_what_to_correct(browser_page, world, console_errors):
    from applicants.models import RegistryRecord
    from cards import services

    page = browser_page
    person = eligible_person(name="周建国")
    RegistryRecord.objects.filter(id_number=person.id_number).update(hukou_place="上海市黄浦区")
    card = services.card_verify(card=submit(world, person), actor=world.clerk)
    page.goto(f"/status/?receipt_number={card.receipt_number}")
    page.get_by_label("身份证件号码").fill(person.id_number)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("h1")).to_have_text("您的申请未通过审核")
    expect(page.locator(".corrections")).to_contain_text("户籍地")
    assert "黄浦区" not in page.content()
    assert_accessible(page)
    screenshot(page, "status-rejected-zh")
    assert console_errors == []
