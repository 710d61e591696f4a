"""Each kind of visit at the counter, end to end in real Chromium, counting what it costs the clerk:
full page loads (main-frame navigations, the printed papers' tabs included) and typed fields,
from the search box of the logged-in desk to the visit's last paper. One line per visit,
`visit=<name> page_loads=<n> typed_fields=<n>`, and the budgets of issue #12. Screenshots of each
visit's main screen go to artifacts/screenshots/visit-*.png."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group

from agencies.roles import group_name
from applicants.models import Applicant, RegistryRecord
from cards import services
from cards.choices import CardStatus, CardType
from cards.models import Card
from tests.browser import screenshot
from tests.cards.conftest import bring_to, card_number, eligible_person, submit
from tests.conftest import browser_login
from tests.factories import resident_id

S = CardStatus
pytestmark = pytest.mark.django_db(transaction=True)

BUDGETS = {
    "new_local_applicant": 6,
    "hand_over_at_outlet": 3,
    "county_issue_on_the_spot": 4,
    "written_report_with_replacement": 4,
    "phone_report_by_hotline": 3,
}


@dataclass
class Meter:
    """Counts the main-frame navigations of the pages it watches and the fields typed."""

    name: str
    page_loads: int = 0
    typed_fields: int = 0
    pages: list = field(default_factory=list)

    def watch(self, page) -> None:
        def navigated(frame) -> None:
            if frame == page.main_frame:
                self.page_loads += 1

        page.on("framenavigated", navigated)
        self.pages.append(page)

    def type(self, page, selector: str, value: str) -> None:
        page.fill(selector, value)
        self.typed_fields += 1

    def report(self) -> None:
        print(f"visit={self.name} page_loads={self.page_loads} typed_fields={self.typed_fields}")
        assert self.page_loads <= BUDGETS[self.name], self
        assert self.page_loads > 0  # the meter saw the visit (a test that cannot fail is none)


def log_in(page, actor) -> None:
    actor.user.groups.add(Group.objects.get(name=group_name(actor.role)))
    page.context.clear_cookies()
    browser_login(page, actor.user.username, "pw")
    page.wait_for_selector(".counter-search")


def start(page, actor, name: str) -> Meter:
    """Log in (not counted: the clerk is at the desk already), then count from the search box."""
    log_in(page, actor)
    meter = Meter(name)
    meter.watch(page)
    return meter


def search(page, meter: Meter, number: str) -> None:
    meter.type(page, "#counter-q", number)
    page.click(".counter-search button[type=submit]")
    page.wait_for_selector(".visit, .new-person, .counter-refusal")


def due_now(page, key: str) -> None:
    assert page.get_attribute(".due-now .due-action", "data-action") == key
    page.click(".due-now .due-action")
    page.wait_for_selector(".transition-form")


def submit_form(page) -> None:
    page.click(".transition-form button[type=submit]")
    page.wait_for_load_state()


def print_in_new_tab(page, meter: Meter):
    """Follow the print link of the last message: the paper opens in a tab of its own, one page
    load."""
    with page.context.expect_page() as opened:
        page.click(".messagelist a.print-link")
    paper = opened.value
    paper.wait_for_load_state()
    meter.page_loads += 1
    return paper


def test_each_visit_fits_its_budget(browser_page, world):
    page = browser_page
    page.set_default_timeout(10_000)

    # --- A new local applicant at a community center: search, one form, print, verify.
    number = resident_id(5150)
    RegistryRecord.objects.create(
        name="李新",
        id_type="resident_id",
        id_number=number,
        nationality="CHN",
        shanghai_hukou=True,
        hukou_place="上海市徐汇区",
    )
    meter = start(page, world.clerk, "new_local_applicant")
    search(page, meter, number)
    assert page.locator(".registration-form input[name=birth_date][type=date]").count() == 1
    meter.type(page, "input[name=name]", "李新")
    page.check("input[name=shanghai_hukou]")
    meter.type(page, "input[name=hukou_place]", "上海市徐汇区")
    meter.type(page, "input[name=phone]", "13800138000")
    page.select_option("select[name=collection_point]", str(world.outlet.pk))
    meter.type(page, "input[name=photo_receipt_number]", "PS-20260001")
    screenshot(page, "visit-new-local-applicant-form")
    page.click(".registration-form button[type=submit]")
    page.wait_for_selector(".visit")
    person = Applicant.objects.get(id_number=number)
    card = Card.objects.get(applicant=person)
    assert card.status == S.APPLIED and person.enrolments.count() == 2
    assert card.receipt_number_display in page.inner_text(".messagelist")
    screenshot(page, "visit-new-local-applicant")
    receipt = print_in_new_tab(page, meter)
    assert receipt.locator("svg.segno").is_visible()
    assert "https://status.shebao.example/status/" in receipt.content()
    receipt.close()
    due_now(page, "verify")
    submit_form(page)
    card.refresh_from_db()
    assert card.status == S.VERIFIED
    meter.report()

    # --- Hand-over at the bank outlet: the ID searched is not typed again; the receipt is.
    holder = eligible_person(name="王小明")
    waiting = bring_to(world, submit(world, holder), S.READY_FOR_COLLECTION)
    meter = start(page, world.outlet_clerk, "hand_over_at_outlet")
    search(page, meter, holder.id_number)
    assert holder.name not in page.content()  # masked
    assert "受理" not in page.inner_text(".due-now")  # not "take an application": the card waits
    screenshot(page, "visit-hand-over-at-outlet")
    due_now(page, "hand_over")
    assert page.locator("input[name=id_number]").count() == 0
    meter.type(page, "input[name=receipt_number]", waiting.receipt_number_display)
    submit_form(page)
    waiting.refresh_from_db()
    assert waiting.status == S.ISSUED
    meter.report()

    # --- A county medical insurance center: apply, verify and issue, one confirmation.
    insured = eligible_person(name="赵医保")
    meter = start(page, world.county_clerk, "county_issue_on_the_spot")
    search(page, meter, insured.id_number)
    screenshot(page, "visit-county-issue-on-the-spot")
    page.click(".due-now .due-action")
    page.wait_for_selector(".transition-form")
    assert "开户" not in page.inner_text(".documents")  # no bank forms at a medical center
    meter.type(page, "input[name=card_number]", card_number())
    submit_form(page)
    page.wait_for_selector(".visit")
    medical = Card.objects.get(applicant=insured, card_type=CardType.MEDICAL_INSURANCE)
    assert medical.status == S.ISSUED
    meter.report()

    # --- The hotline takes a phone pre-report: the ID the caller gave is the search.
    lost = bring_to(world, submit(world, eligible_person(name="钱丢卡")), S.ISSUED)
    caller = lost.applicant
    meter = start(page, world.hotline_operator, "phone_report_by_hotline")
    search(page, meter, caller.id_number)
    assert caller.name not in page.content()
    screenshot(page, "visit-phone-report-by-hotline")
    due_now(page, "report_lost_by_phone")
    assert page.locator("input[name=caller_id_number]").count() == 0
    meter.type(page, "input[name=caller_name]", caller.name)
    meter.type(page, "input[name=contact_phone]", "13900139000")
    meter.type(page, "input[name=home_address]", "上海市徐汇区漕溪北路1号")
    submit_form(page)
    page.wait_for_selector(".messagelist")
    lost.refresh_from_db()
    assert lost.status == S.PHONE_REPORTED_LOST
    meter.report()

    # --- The written report follows at a community center, with a replacement in the same step.
    meter = start(page, world.clerk, "written_report_with_replacement")
    search(page, meter, caller.id_number)
    screenshot(page, "visit-written-report-with-replacement")
    due_now(page, "report_lost_in_writing")
    assert page.locator("input[name=id_number]").count() == 0
    page.check("input[name=request_replacement]")
    submit_form(page)
    page.wait_for_selector(".visit")
    lost.refresh_from_db()
    new = Card.objects.get(replaces=lost)
    assert lost.status == S.REPLACED
    papers = print_in_new_tab(page, meter)
    assert lost.loss_certificate_number in papers.inner_text(".big-number >> nth=0")
    assert new.receipt_number_display in papers.inner_text(".new-receipt")
    screenshot(papers, "visit-written-report-papers")
    papers.close()
    meter.report()

    # The card list's deadline column is in view on a 1366 px counter screen.
    services.card_report_lost_in_writing(
        card=waiting, actor=world.clerk, id_number=holder.id_number
    )
    page.goto("/admin/cards/card/")
    column = page.locator("th.column-next_deadline").bounding_box()
    assert column is not None and column["x"] + column["width"] <= 1366, column
    row = page.locator("td.field-next_deadline .deadline").first.bounding_box()
    assert row is not None and row["x"] + row["width"] <= 1366, row
    assert re.search(r"\d\d-\d\d \d\d:\d\d", page.inner_text("td.field-next_deadline .deadline"))
    screenshot(page, "visit-card-list-1366")
