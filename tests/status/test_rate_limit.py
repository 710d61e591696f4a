"""The rate limits trip and recover on a frozen clock; the counter is atomic under concurrency."""

from __future__ import annotations

import datetime
import threading

import pytest
import time_machine
from django.test import RequestFactory

from cards.choices import CardStatus
from cards.numbers import format_receipt_number, new_receipt_number
from common import ratelimit
from tests.cards.conftest import T0
from tests.status.conftest import lookup

S = CardStatus
# T0 is 09:30:00 UTC: the start of a 10-minute window and half way through an hour window.
FOUR_MINUTES_IN = T0 + datetime.timedelta(minutes=4)


@pytest.fixture
def limits(settings):
    settings.STATUS_LIMIT_PER_ADDRESS = 3
    settings.STATUS_LIMIT_ADDRESS_WINDOW = datetime.timedelta(minutes=10)
    settings.STATUS_LIMIT_PER_RECEIPT = 2
    settings.STATUS_LIMIT_RECEIPT_WINDOW = datetime.timedelta(hours=1)
    return settings


def test_the_address_limit_trips_and_recovers(client, card_in, limits):
    limits.STATUS_LIMIT_PER_RECEIPT = 100
    card = card_in(S.ISSUED)
    holder = card.applicant.id_number
    with time_machine.travel(FOUR_MINUTES_IN, tick=False):
        for _ in range(3):  # three attempts, each on a different receipt
            assert lookup(client, holder, new_receipt_number()).status_code == 200
        refused = lookup(client, holder, card.receipt_number, language="en")
        assert refused.status_code == 429
        assert refused["Retry-After"] == "360"
        page = refused.content.decode()
        assert "Try again in 6 minutes." in page
        assert "Your card has been issued" not in page  # even the right pair waits
        zh = lookup(client, holder, card.receipt_number).content.decode()
        assert "查询次数过多，请6分钟后再试。" in zh
    with time_machine.travel(T0 + datetime.timedelta(minutes=9, seconds=59), tick=False):
        assert lookup(client, holder, card.receipt_number).status_code == 429
    with time_machine.travel(T0 + datetime.timedelta(minutes=10), tick=False):
        response = lookup(client, holder, card.receipt_number, language="en")
    assert response.status_code == 200
    assert "<h1>Your card has been issued and can be used</h1>" in response.content.decode()


def test_the_receipt_limit_holds_across_addresses(client, card_in, limits):
    card = card_in(S.APPLIED)
    receipt = card.receipt_number
    with time_machine.travel(FOUR_MINUTES_IN, tick=False):
        # Typed two ways, from two addresses: the same receipt number.
        lookup(client, "310104198001010011", receipt, REMOTE_ADDR="198.51.100.1")
        lookup(
            client, "310104198001010011", format_receipt_number(receipt).lower(),
            REMOTE_ADDR="198.51.100.2",
        )  # fmt: skip
        refused = lookup(
            client, card.applicant.id_number, receipt, language="en", REMOTE_ADDR="198.51.100.3"
        )
        assert refused.status_code == 429
        assert "Try again in 26 minutes." in refused.content.decode()  # the hour ends at 10:00
        assert refused["Retry-After"] == str(26 * 60)
        # Another receipt from a fresh address is not held up.
        other = lookup(client, "x", new_receipt_number(), REMOTE_ADDR="198.51.100.4")
        assert other.status_code == 200
    with time_machine.travel(T0 + datetime.timedelta(minutes=30), tick=False):
        response = lookup(client, card.applicant.id_number, receipt, REMOTE_ADDR="198.51.100.5")
    assert response.status_code == 200
    assert "您的申请已受理" in response.content.decode()


def test_an_ipv6_client_is_one_network(rf: RequestFactory, settings):
    def address(remote: str, **meta) -> str:
        return ratelimit.client_address(rf.get("/", REMOTE_ADDR=remote, **meta))

    assert address("2001:db8:1:2:aaaa::1") == address("2001:db8:1:2:bbbb::2")
    assert address("2001:db8:1:2::1") != address("2001:db8:1:3::1")
    assert address("::ffff:192.0.2.1") == "192.0.2.1"
    assert address("192.0.2.1", HTTP_X_REAL_IP="192.0.2.99") == "192.0.2.1"  # no proxy trusted
    settings.RATE_LIMIT_CLIENT_ADDRESS_HEADER = "HTTP_X_REAL_IP"
    assert address("10.0.0.1", HTTP_X_REAL_IP="192.0.2.99") == "192.0.2.99"


def test_the_counter_is_atomic_under_concurrent_requests():
    limit = ratelimit.Limit("test-atomic", 100, datetime.timedelta(minutes=10))
    verdicts: list[ratelimit.Verdict] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(25):
            verdict = ratelimit.hit([(limit, "one client")])
            with lock:
                verdicts.append(verdict)

    with time_machine.travel(FOUR_MINUTES_IN, tick=False):
        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(verdicts) == 200
    assert sum(v.allowed for v in verdicts) == 100
    assert {v.retry_after for v in verdicts if not v.allowed} == {360}


def test_windows_follow_djangos_clock_not_redis(settings):
    limit = ratelimit.Limit("test-window", 1, datetime.timedelta(minutes=10))
    with time_machine.travel(T0, tick=False):
        assert ratelimit.hit([(limit, "a")]).allowed
        assert not ratelimit.hit([(limit, "a")]).allowed
        assert ratelimit.hit([(limit, "b")]).allowed  # another identity, its own counter
    # Far in the future by Django's clock: a new window, whatever Redis's clock says.
    with time_machine.travel(T0 + datetime.timedelta(days=3), tick=False):
        assert ratelimit.hit([(limit, "a")]).allowed


def test_every_counter_expires_with_its_window_and_names_no_one(settings):
    """One script counts both limits; each counter gets its TTL (window + slack) when it is
    created and keeps it as it counts; the key is an HMAC, never the address or receipt."""
    client = ratelimit._redis(settings.REDIS_URL)
    short = ratelimit.Limit("test-ttl-short", 5, datetime.timedelta(minutes=10))
    long = ratelimit.Limit("test-ttl-long", 5, datetime.timedelta(hours=1))
    with time_machine.travel(FOUR_MINUTES_IN, tick=False):
        for _ in range(3):
            ratelimit.hit([(short, "203.0.113.9"), (long, "K7QM3X9TPW2RH")])
    pattern = f"{ratelimit.KEY_PREFIX}:test-ttl*"
    keys = sorted(key.decode() for key in client.scan_iter(match=pattern))
    assert len(keys) == 2
    assert not any("203.0.113.9" in key or "K7QM3X9TPW2RH" in key for key in keys)
    ttls = {key.split(":")[2]: client.ttl(key) for key in keys}
    slack = ratelimit.TTL_SLACK_SECONDS
    assert 600 + slack - 5 <= ttls["test-ttl-short"] <= 600 + slack
    assert 3600 + slack - 5 <= ttls["test-ttl-long"] <= 3600 + slack
    assert {int(client.get(key)) for key in keys} == {3}


@pytest.mark.parametrize(
    ("language", "heading", "wait"),
    [
        ("zh-hans", "查询服务暂时不可用", "请1分钟后再试。"),
        ("en", "The lookup is briefly unavailable", "Please try again in 1 minute."),
    ],
)
def test_with_the_limiter_down_no_lookup_is_answered(client, card_in, language, heading, wait):
    """Uncounted lookups would allow enumeration: with Redis unreachable the page says so and
    when to come back (503), shows nothing of the card and echoes nothing typed."""
    from django.test import override_settings

    card = card_in(CardStatus.ISSUED)
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = lookup(client, card.applicant.id_number, card.receipt_number, language=language)
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    body = response.content.decode()
    assert f"<h1>{heading}</h1>" in body
    assert wait in body
    assert card.applicant.id_number not in body
    assert (
        card.receipt_number not in body and format_receipt_number(card.receipt_number) not in body
    )
