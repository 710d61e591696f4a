"""A clerk's day in real Chromium: find a person, take an application, verify it, mark it ready,
hand it over; the hotline reports it lost by phone; the clerk takes the written report with a
replacement and prints the certificate; a clerk of another point cannot find any of it.
Screenshots of the main pages go to artifacts/screenshots/admin-*.png."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group

from agencies.roles import group_name
from cards.choices import CardStatus, CardType
from cards.models import Card
from tests.browser import screenshot
from tests.cards.conftest import eligible_person
from tests.conftest import browser_login

S = CardStatus
pytestmark = pytest.mark.django_db(transaction=True)


def in_role_groups(*actors) -> None:
    for actor in actors:
        actor.user.groups.add(Group.objects.get(name=group_name(actor.role)))


def log_in(page, username: str) -> None:
    browser_login(page, username, "pw")
    page.wait_for_selector(".counter-search")


def log_out(page) -> None:
    page.click("#logout-form button")
    page.wait_for_url(re.compile(r"/admin/logout/"))


def find(page, query: str) -> None:
    page.fill("#counter-q", query)
    page.click(".counter-search button[type=submit]")
    page.wait_for_load_state()


def open_card(page) -> None:
    """From the visit screen, the card page of its (first) card."""
    page.click(".visit-cards tr.here a")
    page.wait_for_selector(".state-box")


def transition(page, name: str) -> None:
    page.click(f"a[data-transition={name}]")
    page.wait_for_selector(".transition-form")


def submit_transition(page) -> None:
    page.click(".transition-form button[type=submit]")
    page.wait_for_selector(".state-box")


def test_a_clerk_walks_a_card_from_application_to_replacement(browser_page, world):
    page = browser_page
    clerk, hotline, other = world.street_medical_clerk, world.hotline_operator, world.other_clerk
    in_role_groups(clerk, hotline, other)
    holder = eligible_person(name="王小明")

    # The street medical insurance point's clerk finds the person and takes an application.
    log_in(page, clerk.user.username)
    screenshot(page, "admin-dashboard-clerk")
    find(page, holder.id_number.lower())
    assert page.locator(".visit").is_visible()
    assert holder.name not in page.content()  # masked: 王**
    screenshot(page, "admin-counter-person-found")
    page.click(".due-now a.due-action")  # the application, due now
    page.wait_for_selector(".transition-form")
    assert "可以申领" in page.inner_text(".eligibility")  # the answer before submitting
    assert page.is_checked(f"input[name=card_type][value={CardType.MEDICAL_INSURANCE}]")
    screenshot(page, "admin-application-form")
    page.click(".transition-form button[type=submit]")
    page.wait_for_selector(".state-box")
    card = Card.objects.get(applicant=holder)
    assert card.status == S.APPLIED
    assert card.receipt_number_display in page.inner_text(".messagelist")
    screenshot(page, "admin-card-applied")

    # Verify: the registration form beside the registry.
    transition(page, "verify")
    assert page.locator(".comparison tr.same").count() >= 5
    screenshot(page, "admin-verify-side-by-side")
    submit_transition(page)
    card.refresh_from_db()
    assert card.status == S.VERIFIED

    transition(page, "mark_ready")
    page.fill("input[name=card_number]", "MI20260001")
    submit_transition(page)
    card.refresh_from_db()
    assert card.status == S.READY_FOR_COLLECTION

    transition(page, "hand_over")
    # The ID searched at this visit counts as presented: the form asks only for the receipt.
    assert page.locator("input[name=id_number]").count() == 0
    page.fill("input[name=receipt_number]", "K7QM-3X9T-PW2R-H")  # not this card's: refused
    page.click(".transition-form button[type=submit]")
    page.wait_for_selector(".errorlist, .errornote")
    assert "回执号与此卡不符" in page.content()
    page.fill("input[name=receipt_number]", card.receipt_number_display)
    submit_transition(page)
    card.refresh_from_db()
    assert card.status == S.ISSUED
    screenshot(page, "admin-card-issued")
    log_out(page)

    # The hotline takes a phone pre-report, seeing the holder masked.
    log_in(page, hotline.user.username)
    find(page, holder.id_number)
    assert holder.name not in page.content()
    page.click(".due-now a.due-action")
    page.wait_for_selector(".transition-form")
    page.fill("input[name=caller_name]", holder.name)
    page.fill("input[name=contact_phone]", "13900139000")
    page.fill("input[name=home_address]", "上海市徐汇区漕溪北路1号")
    screenshot(page, "admin-hotline-phone-report")
    page.click(".transition-form button[type=submit]")
    page.wait_for_selector(".messagelist")  # back at the search: the hotline has no card page
    card.refresh_from_db()
    assert card.status == S.PHONE_REPORTED_LOST
    assert card.receipt_number_display not in page.content()
    screenshot(page, "admin-card-phone-reported")
    log_out(page)

    # The clerk takes the written report with a replacement in the same step.
    log_in(page, clerk.user.username)
    find(page, card.receipt_number.lower())  # a receipt number opens the holder's visit
    open_card(page)
    transition(page, "report_lost_in_writing")
    page.fill("input[name=id_number]", holder.id_number)  # a receipt search: the ID is asked
    page.check("input[name=request_replacement]")
    screenshot(page, "admin-written-report-form")
    submit_transition(page)
    card.refresh_from_db()
    new = Card.objects.get(replaces=card)
    assert card.status == S.REPLACED and new.status == S.VERIFIED
    assert card.loss_certificate_number in page.inner_text(".messagelist")
    screenshot(page, "admin-replacement-card")

    # Print the certificate (the link opens it in a new tab; here in the same one).
    certificate_url = page.get_attribute(".messagelist a", "href")
    page.goto(certificate_url)
    assert card.loss_certificate_number in page.inner_text(".big-number")
    page.emulate_media(media="print")
    screenshot(page, "admin-certificate-print")
    assert not page.locator(".no-print").is_visible()
    page.emulate_media(media="screen")
    page.goto(f"/admin/cards/card/{new.pk}/receipt/")
    assert page.locator("svg.segno").is_visible()
    screenshot(page, "admin-receipt")
    page.goto("/admin/")
    log_out(page)

    # A clerk of another point finds nothing: not by the ID number, the receipt or the card.
    log_in(page, other.user.username)
    for query in (holder.id_number, card.receipt_number_display, new.receipt_number, "MI20260001"):
        find(page, query)
        assert page.locator(".visit-cards tr.here").count() == 0
        results = page.inner_text("#content-main")
        assert card.receipt_number_display not in results
        assert new.receipt_number_display not in results
        assert page.locator("a[href*='/admin/cards/card/']").filter(has_text="-").count() == 0
    screenshot(page, "admin-other-point-finds-nothing")
    response = page.goto(f"/admin/cards/card/{new.pk}/change/")
    assert response.status == 404


@pytest.mark.browser_locale("en-US")
def test_a_supervisor_dashboard_in_english_switches_to_chinese(browser_page, world, card_in):
    page = browser_page
    in_role_groups(world.supervisor)
    card_in(S.ISSUED)
    card_in(S.APPLIED, eligible_person())
    log_in(page, world.supervisor.user.username)
    assert "Applications per day" in page.content()
    assert page.locator(".bar-chart .bar").count() == 30
    assert page.locator(".state-tiles li").count() == len(S)
    screenshot(page, "admin-dashboard-supervisor-en")
    page.click(".language-switch button[value=zh-hans]")
    page.wait_for_selector(".counter-search")
    assert "近 30 天每日受理量" in page.content()
    page.click(".state-tiles .state-issued a")
    page.wait_for_selector("#changelist")
    assert "1" in page.inner_text(".paginator")
    screenshot(page, "admin-card-list")
