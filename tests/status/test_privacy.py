"""Against enumeration and scraping: every kind of mismatch looks the same; nothing of another
person's card can be reached; no personal data in URLs, logs or caches; headers; CSRF."""

from __future__ import annotations

import logging
import re

import pytest
import redis
from django.conf import settings
from django.test import Client

from cards.choices import CardStatus
from cards.models import Card
from cards.numbers import ALPHABET, format_receipt_number, new_receipt_number
from common.ratelimit import KEY_PREFIX
from tests.cards.conftest import bring_to, eligible_person, submit
from tests.factories import resident_id
from tests.status.conftest import body_without_csrf, lookup

S = CardStatus


def _bad_check_character(receipt: str) -> str:
    wrong = next(c for c in ALPHABET if c != receipt[-1])
    return receipt[:-1] + wrong


@pytest.fixture
def two_people(world):
    alice = eligible_person(name="李爱丽")
    bob = eligible_person(name="赵宝宝")
    alice_card = bring_to(world, submit(world, alice), S.READY_FOR_COLLECTION)
    bob_card = bring_to(world, submit(world, bob), S.WRITTEN_LOST)
    return alice, alice_card, bob, bob_card


def _mismatches(alice, alice_card, bob, bob_card) -> dict[str, tuple[str, str]]:
    unknown_receipt = new_receipt_number()
    assert not Card.objects.filter(receipt_number=unknown_receipt).exists()
    return {
        "unknown ID number": (resident_id(9_999), alice_card.receipt_number),
        "unknown receipt number": (alice.id_number, unknown_receipt),
        "a pair that does not belong together": (alice.id_number, bob_card.receipt_number),
        "the other way round": (bob.id_number, alice_card.receipt_number),
        "receipt with a wrong check character": (
            alice.id_number,
            _bad_check_character(alice_card.receipt_number),
        ),
        "malformed ID number": ("12", alice_card.receipt_number),
        "ID number as receipt and receipt as ID": (alice_card.receipt_number, alice.id_number),
        "both empty": ("", ""),
        "too long": ("3" * 300, "K" * 300),
        "markup": ("<script>alert(1)</script>", "' OR 1=1 --"),
    }


def _stable_headers(response) -> list[tuple[str, str]]:
    """The headers, but the clock's (Expires, from never_cache) and the request's own id (a new
    one for every request, whatever it asked: common/requestid.py)."""
    varying = ("Expires", "Date", "X-Request-ID")
    return sorted((k, v) for k, v in response.headers.items() if k not in varying)


def test_every_kind_of_mismatch_gives_the_identical_answer(client, two_people):
    responses = {
        kind: lookup(client, id_number, receipt)
        for kind, (id_number, receipt) in _mismatches(*two_people).items()
    }
    first_kind, first = next(iter(responses.items()))
    assert first.status_code == 200
    assert "没有找到与这两个号码对应的卡片" in first.content.decode()
    for kind, response in responses.items():
        assert response.status_code == first.status_code, kind
        assert body_without_csrf(response) == body_without_csrf(first), (kind, first_kind)
        assert _stable_headers(response) == _stable_headers(first), kind


def test_mismatches_are_identical_in_english_too(client, two_people):
    bodies = {
        body_without_csrf(lookup(client, id_number, receipt, language="en"))
        for id_number, receipt in _mismatches(*two_people).values()
    }
    assert len(bodies) == 1
    assert b"We could not find a card with these two numbers" in bodies.pop()


def test_a_mismatch_shows_nothing_of_either_card(client, two_people):
    alice, alice_card, bob, bob_card = two_people
    page = lookup(client, alice.id_number, bob_card.receipt_number).content.decode()
    for secret in (
        alice.name[0] + "*",
        bob.name[0] + "*",
        format_receipt_number(bob_card.receipt_number),
        format_receipt_number(alice_card.receipt_number),
        alice.id_number,
        bob.id_number,
        bob_card.loss_certificate_number,
        "已书面挂失",
        "待领取",
    ):
        assert secret not in page


def test_a_match_shows_only_the_holders_own_card(client, world, two_people):
    alice, alice_card, bob, bob_card = two_people
    page = lookup(client, alice.id_number, alice_card.receipt_number).content.decode()
    assert "您的卡已制作完成，可以领取" in page
    for secret in (
        bob.name[0] + "*",
        format_receipt_number(bob_card.receipt_number),
        bob_card.loss_certificate_number,
        alice.id_number,  # not even the holder's own full number
        alice.name,
        alice.phone,
        alice.address,
        alice_card.card_number,
        world.clerk.user.username,
        world.supervisor.user.username,
    ):
        assert secret not in page


def test_a_link_to_another_persons_card_is_never_followed(client, world, two_people):
    alice, alice_card, bob, bob_card = two_people
    # Services never link two people's cards; if the data ever did, the page must not follow.
    Card.objects.filter(pk=alice_card.pk).update(replaces=bob_card)
    page = lookup(client, alice.id_number, alice_card.receipt_number).content.decode()
    assert "您的卡已制作完成，可以领取" in page
    assert format_receipt_number(bob_card.receipt_number) not in page
    assert "关联卡片" not in page
    bob_page = lookup(client, bob.id_number, bob_card.receipt_number).content.decode()
    assert format_receipt_number(alice_card.receipt_number) not in bob_page


def test_the_qr_code_fills_in_the_receipt_and_shows_nothing_else(client, two_people):
    alice, alice_card, _bob, _bob_card = two_people
    response = client.get(f"/status/?receipt_number={alice_card.receipt_number}")
    page = response.content.decode()
    assert response.status_code == 200
    assert f'value="{format_receipt_number(alice_card.receipt_number)}"' in page
    assert alice.name[0] + "*" not in page and "待领取" not in page
    # An ID number in the address is never echoed; junk in the receipt parameter neither.
    page = client.get(
        f"/status/?id_number={alice.id_number}&receipt_number=%3Cb%3Ejunk"
    ).content.decode()
    assert alice.id_number not in page and "junk" not in page


def test_the_form_posts_so_no_number_lands_in_an_address(client):
    page = client.get("/status/").content.decode()
    form = re.search(r'<form class="lookup" method="post" action="([^"]*)">', page)
    assert form is not None and form.group(1) == "/status/"
    assert 'name="id_number"' in page and 'autocomplete="off"' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_security_headers_on_every_response(client, two_people, settings):
    alice, alice_card, _bob, _bob_card = two_people
    settings.STATUS_LIMIT_PER_ADDRESS = 3
    responses = [
        client.get("/status/"),
        lookup(client, alice.id_number, alice_card.receipt_number),
        lookup(client, "nobody", "nothing"),
        lookup(client, "nobody", "nothing"),
        lookup(client, "nobody", "nothing"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    for response in responses:
        csp = response["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp  # no script allowed at all
        assert "form-action 'self'" in csp
        # same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the
        # form's POST and Django's CSRF check refuses it (the browser test proves the form works).
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


def test_the_form_needs_its_csrf_token(two_people):
    alice, alice_card, _bob, _bob_card = two_people
    browser = Client(enforce_csrf_checks=True)
    data = {"id_number": alice.id_number, "receipt_number": alice_card.receipt_number}
    assert browser.post("/status/", data).status_code == 403
    page = browser.get("/status/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post("/status/", {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "您的卡已制作完成，可以领取" in response.content.decode()


def test_nothing_personal_is_logged(client, two_people, caplog, settings):
    alice, alice_card, bob, bob_card = two_people
    settings.STATUS_LIMIT_PER_RECEIPT = 2
    with caplog.at_level(logging.DEBUG):
        lookup(client, alice.id_number, alice_card.receipt_number)
        lookup(client, alice.id_number, bob_card.receipt_number)
        lookup(client, bob.id_number, bob_card.receipt_number)
        assert lookup(client, bob.id_number, bob_card.receipt_number).status_code == 429
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "rate limit" in logged  # something was logged, and it names no one
    for secret in (
        alice.id_number,
        bob.id_number,
        alice_card.receipt_number,
        bob_card.receipt_number,
        format_receipt_number(bob_card.receipt_number),
        alice.name,
        "127.0.0.1",
    ):
        assert secret not in logged


def test_the_rate_limit_counters_hold_no_receipt_number_or_address(client, two_people):
    alice, alice_card, _bob, _bob_card = two_people
    lookup(client, alice.id_number, alice_card.receipt_number, REMOTE_ADDR="203.0.113.7")
    keys = [
        key.decode()
        for key in redis.Redis.from_url(settings.REDIS_URL).scan_iter(match=f"{KEY_PREFIX}:*")
    ]
    assert len(keys) == 2
    for key in keys:
        assert alice_card.receipt_number not in key and "203.0.113.7" not in key
        assert alice.id_number not in key
