"""Incremental sync under concurrent updates, on real separate connections: a bank following
GET /cards or GET /events never misses a change and never gets one twice, although transactions
commit in another order than they stamp their rows (cards/api/sync.py)."""

from __future__ import annotations

import datetime
import random
import threading
import time

import pytest
from django.db import connection, transaction

from cards import services
from cards.actors import Actor
from cards.api.sync import decode_cursor
from cards.choices import CardStatus
from cards.models import Card, OutboxEvent
from tests.api.conftest import BankApi
from tests.cards.conftest import card_number, eligible_person

S = CardStatus
pytestmark = pytest.mark.django_db(transaction=True)
MARGIN = datetime.timedelta(milliseconds=150)


@pytest.fixture(autouse=True)
def _margin(settings, _api_settings):
    settings.API_SYNC_MARGIN = MARGIN
    settings.API_FEED_SETTLE_WAIT = 0.05


def drain_cards(api: BankApi, cursor: str | None, limit: int = 4) -> tuple[list[dict], str | None]:
    rows = []
    while True:
        body = api.get("/cards", {"limit": limit, **({"cursor": cursor} if cursor else {})}).json()
        rows += body["results"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return rows, cursor


def drain_events(api: BankApi, after: int, limit: int = 4) -> tuple[list[dict], int]:
    rows = []
    while True:
        body = api.get("/events", {"after": after, "limit": limit}).json()
        rows += body["results"]
        after = body["next_after"]
        if not body["has_more"]:
            return rows, after


class SlowCommit(threading.Thread):
    """Marks a card ready in a transaction that stays open until released."""

    def __init__(self, card: Card, actor: Actor) -> None:
        super().__init__()
        self.card, self.actor = card, actor
        self.written, self.release = threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic():
                services.card_mark_ready(
                    card=self.card, actor=self.actor, card_number=card_number()
                )
                self.written.set()
                self.release.wait(10)
        finally:
            connection.close()


def test_a_change_committed_after_a_later_one_is_not_skipped(world, bank_key, card_in):
    api = BankApi(bank_key)
    cards = [card_in(S.VERIFIED, applicant=eligible_person()) for _ in range(3)]
    time.sleep(MARGIN.total_seconds() * 2)
    first_sync, cursor = drain_cards(api, None)
    assert {row["id"] for row in first_sync} == {str(c.public_id) for c in cards}

    slow = SlowCommit(cards[0], world.bank_actor)
    slow.start()
    assert slow.written.wait(10)
    stamped_first = datetime.datetime.now(datetime.UTC)
    # A later change of another card commits first.
    services.card_mark_ready(card=cards[1], actor=world.bank_actor, card_number=card_number())
    time.sleep(MARGIN.total_seconds() * 2)
    last_seen, _id = decode_cursor(cursor)
    naive = list(
        Card.objects.filter(bank=world.bank, updated_at__gt=last_seen).values_list(
            "public_id", flat=True
        )
    )
    assert naive == [cards[1].public_id]  # a plain cursor would move past cards[0] for good
    during, cursor_during = drain_cards(api, cursor)
    assert during == [] and cursor_during == cursor  # held back while cards[0] may commit

    slow.release.set()
    slow.join(10)
    time.sleep(MARGIN.total_seconds() * 2)
    after, _cursor = drain_cards(api, cursor)
    assert [row["id"] for row in after] == [str(cards[0].public_id), str(cards[1].public_id)]
    assert [row["status"] for row in after] == [S.READY_FOR_COLLECTION] * 2
    # cards[0] was stamped before cards[1] and committed after it.
    assert datetime.datetime.fromisoformat(after[0]["updated_at"]) < stamped_first


def test_the_feed_waits_for_an_event_committed_after_a_later_one(world, bank_key, card_in):
    api = BankApi(bank_key)
    cards = [card_in(S.VERIFIED, applicant=eligible_person()) for _ in range(2)]
    before, after_id = drain_events(api, 0)
    assert len(before) == 4  # submitted and verified, twice
    slow = SlowCommit(cards[0], world.bank_actor)
    slow.start()
    assert slow.written.wait(10)
    services.card_mark_ready(card=cards[1], actor=world.bank_actor, card_number=card_number())
    later = OutboxEvent.objects.filter(card=cards[1]).order_by("id").last()
    assert later.id > after_id
    during, after_during = drain_events(api, after_id)
    assert during == [] and after_during == after_id  # the earlier id is not settled yet
    slow.release.set()
    slow.join(10)
    rows, _after = drain_events(api, after_id)
    assert [(row["card"], row["to"]) for row in rows] == [
        (str(cards[0].public_id), S.READY_FOR_COLLECTION),
        (str(cards[1].public_id), S.READY_FOR_COLLECTION),
    ]
    assert rows[0]["id"] < rows[1]["id"]


def test_syncing_while_many_transactions_commit_out_of_order(world, bank_key, card_in):
    """Writers on 4 connections walk 20 cards through two transitions each, every transaction
    sleeping a random while before its commit; a bank syncs the list and the feed all along.
    Each change is served exactly once, and the last version of every card is served."""
    cards = [card_in(S.VERIFIED, applicant=eligible_person()) for _ in range(20)]
    api = BankApi(bank_key)
    time.sleep(MARGIN.total_seconds() * 2)
    _rows, cursor = drain_cards(api, None)
    _events, after = drain_events(api, 0)
    rng = random.Random(5)
    plans = [cards[i::4] for i in range(4)]
    sleeps = [[rng.uniform(0, 0.06) for _ in range(len(p) * 2)] for p in plans]
    done = threading.Event()
    failures: list[BaseException] = []

    def writer(plan: list[Card], naps: list[float]) -> None:
        try:
            for card, nap in zip(plan, naps, strict=False):
                with transaction.atomic():
                    services.card_mark_ready(
                        card=card, actor=world.bank_actor, card_number=card_number()
                    )
                    time.sleep(nap)
            for card, nap in zip(plan, naps[len(plan) :], strict=False):
                with transaction.atomic():
                    card = Card.objects.get(pk=card.pk)
                    services.card_hand_over(
                        card=card,
                        actor=world.bank_actor,
                        id_number=card.applicant.id_number,
                        receipt_number=card.receipt_number,
                    )
                    time.sleep(nap)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    served_cards: list[dict] = []
    served_events: list[dict] = []

    def reader() -> None:
        nonlocal cursor, after
        reader_api = BankApi(bank_key)
        try:
            while not done.is_set():
                rows, cursor = drain_cards(reader_api, cursor, limit=3)
                served_cards.extend(rows)
                events, after = drain_events(reader_api, after, limit=3)
                served_events.extend(events)
                time.sleep(0.01)
        finally:
            connection.close()

    writers = [
        threading.Thread(target=writer, args=(p, s)) for p, s in zip(plans, sleeps, strict=True)
    ]
    sync = threading.Thread(target=reader)
    sync.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(60)
    done.set()
    sync.join(60)
    assert not failures, failures
    time.sleep(MARGIN.total_seconds() * 2)
    rows, cursor = drain_cards(api, cursor)
    served_cards += rows
    events, after = drain_events(api, after)
    served_events += events

    versions = [(row["id"], row["updated_at"]) for row in served_cards]
    assert len(versions) == len(set(versions)), "a change was served twice"
    stamps = [row["updated_at"] for row in served_cards]
    assert stamps == sorted(stamps)
    last_served = {row["id"]: row for row in served_cards}
    for card in Card.objects.filter(pk__in=[c.pk for c in cards]):
        row = last_served[str(card.public_id)]
        assert row["status"] == card.status == S.ISSUED
        assert datetime.datetime.fromisoformat(row["updated_at"]) == card.updated_at

    ids = [event["id"] for event in served_events]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    expected = list(
        OutboxEvent.objects.filter(card__in=cards, id__gt=_events[-1]["id"])
        .order_by("id")
        .values_list("id", flat=True)
    )
    assert ids == expected and len(expected) == 40
