"""The electronic social security card (issue #17): every third-generation card has one, with a
status derived from its card's, synchronised with the national platform.

The status (`electronic_status`), under a rule set with `electronic_card`, of a social security
card:
- `active` while the card is issued;
- `suspended` while the card is reported lost, and while a replacement card is pending (the new
  card from its application until it is handed over);
- `cancelled` once the card is cancelled or replaced (or a pending replacement is withdrawn or
  rejected);
- none before a first card is issued (there is nothing to show yet).

The outbox, like the card-center notices' (cards/cardcenter.py), with the same delivery
machinery (cards/delivery.py: slots, breaker, countdown scheduling, backoff): a transition that
changes the derived status writes an `ElectronicCardEvent` in its own transaction (services
through cards.events, the partner batches through `events_for_changes`, the expiry sweeps through
`events_for_cards`); after the commit a task delivers it, in order per card, retried and never
given up; `redrive_events` (beat, every minute) is the safety net.

The adapter: NATIONAL_PLATFORM_BACKEND names a class with `destination` and
`send(event, body, headers) -> (delivered, what happened)`:
- `cards.electronic.LocalTablePlatform` (default) records each event once per event id in
  `ElectronicCardReceipt`, visible in the admin;
- `cards.electronic.HttpPlatform` POSTs it to NATIONAL_PLATFORM_URL, signed like the bank webhooks
  with NATIONAL_PLATFORM_SECRET (X-Shebao-Event-Id, X-Shebao-Timestamp, X-Shebao-Signature).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from collections.abc import Iterable
from typing import Protocol

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.module_loading import import_string

from cards import delivery, rules
from cards.choices import CardStatus, CardType, ElectronicCardStatus
from cards.models import Card, ElectronicCardEvent, ElectronicCardReceipt

logger = logging.getLogger(__name__)

S = CardStatus
E = ElectronicCardStatus
REDRIVE_BATCH = 500

_PENDING = frozenset({S.APPLIED, S.VERIFIED, S.READY_FOR_COLLECTION})
_LOST = frozenset({S.PHONE_REPORTED_LOST, S.WRITTEN_LOST})
_ENDED = frozenset({S.CANCELLED, S.REPLACED})
_NEVER_ISSUED = frozenset({S.REJECTED, S.WITHDRAWN})


def status_for(card_status: str, *, is_replacement: bool) -> str | None:
    """The electronic card's status for a card in `card_status` (the module's docstring)."""
    if card_status == S.ISSUED:
        return E.ACTIVE
    if card_status in _LOST:
        return E.SUSPENDED
    if card_status in _ENDED:
        return E.CANCELLED
    if is_replacement:
        return E.SUSPENDED if card_status in _PENDING else E.CANCELLED
    return None


def has_electronic_card(card: Card) -> bool:
    return card.card_type == CardType.SOCIAL_SECURITY and rules.for_card(card).electronic_card


def electronic_status(card: Card, now: datetime.datetime | None = None) -> str | None:
    """The electronic card's status now (a passed loss-report deadline counts), or None where
    the card has none (not a social security card, or its rule set has no electronic card)."""
    if not has_electronic_card(card):
        return None
    return status_for(card.status_at(now), is_replacement=card.replaces_id is not None)


# --- Writing events (in the transition's transaction) ------------------------------------------


def _event(
    card: Card, name: str, from_status: str, to_status: str, at
) -> ElectronicCardEvent | None:
    replacement = card.replaces_id is not None
    before = status_for(from_status, is_replacement=replacement) if from_status else None
    after = status_for(to_status, is_replacement=replacement)
    if after is None or before == after:
        return None
    return ElectronicCardEvent(
        card=card,
        transition=name,
        from_status=before or "",
        to_status=after,
        at=at,
        created_at=at,
        next_attempt_at=at,
    )


def event_for_transition(
    *, card: Card, name: str, from_status: str, at: datetime.datetime
) -> ElectronicCardEvent | None:
    """Write the event of one transition just applied to `card`, if it changes its electronic
    card's status; sent after the commit."""
    if not has_electronic_card(card):
        return None
    event = _event(card, name, from_status, card.status, at)
    if event is None:
        return None
    event.save()
    transaction.on_commit(functools.partial(enqueue_delivery, event.pk))
    return event


def events_for_changes(
    changes: Iterable[tuple[Card, str]], *, name: str, at: datetime.datetime
) -> list[ElectronicCardEvent]:
    """The events of a set-based write (a partner batch): (card after it, from_status) pairs."""
    events = [
        event
        for card, from_status in changes
        if has_electronic_card(card)
        and (event := _event(card, name, from_status, card.status, at)) is not None
    ]
    if events:
        events = ElectronicCardEvent.objects.bulk_create(events)
        transaction.on_commit(kick)
    return events


def _rule_sets_with_electronic_card() -> list[str]:
    return [name for name, rule_set in rules.RULE_SETS.items() if rule_set.electronic_card]


def events_for_cards(
    card_ids: list[int], *, name: str, from_status: str, to_status: str, at_field: str
) -> None:
    """The events of the expiry sweeps (cards/expiry.py): the cards `card_ids` went from
    `from_status` to `to_status` at their deadline (`at_field`). Reads only the social security
    cards under a rule set with an electronic card, and nothing at all when none can have one."""
    with_ecard = _rule_sets_with_electronic_card()
    if not card_ids or not with_ecard:
        return
    cards = Card.objects.filter(pk__in=card_ids, card_type=CardType.SOCIAL_SECURITY)
    fields = ["id", "card_type", "replaces_id", "status", at_field]
    if any(f.name == "rule_set" for f in Card._meta.concrete_fields):
        cards = cards.filter(rule_set__in=with_ecard)
        fields.append("rule_set")
    elif not rules.in_force().electronic_card:
        return
    events = []
    for card in cards.only(*fields):
        if not has_electronic_card(card):
            continue
        event = _event(card, name, from_status, to_status, getattr(card, at_field))
        if event is not None:
            events.append(event)
    if events:
        ElectronicCardEvent.objects.bulk_create(events)
        transaction.on_commit(kick)


# --- The adapter ---------------------------------------------------------------------------------


class NationalPlatform(Protocol):
    destination: str

    def send(
        self, event: ElectronicCardEvent, body: bytes, headers: dict[str, str]
    ) -> tuple[bool, str]: ...


class LocalTablePlatform:
    """The default backend: the platform is a table here, deduplicating on the event id."""

    destination = "national-platform"

    def send(self, event, body, headers):
        document = json.loads(body)
        try:
            with transaction.atomic():
                ElectronicCardReceipt.objects.create(
                    event_id=event.event_id,
                    status=event.to_status,
                    card_number=event.card.card_number or "",
                    body=document,
                )
        except IntegrityError:
            ElectronicCardReceipt.objects.filter(event_id=event.event_id).update(
                times_received=F("times_received") + 1
            )
        return True, "recorded"


class HttpPlatform:
    """The national platform's endpoint: NATIONAL_PLATFORM_URL, signed."""

    destination = "national-platform"

    def send(self, event, body, headers):
        if not settings.NATIONAL_PLATFORM_URL or not settings.NATIONAL_PLATFORM_SECRET:
            return False, "NATIONAL_PLATFORM_URL or NATIONAL_PLATFORM_SECRET not set"
        return delivery.post_json(
            settings.NATIONAL_PLATFORM_URL,
            body,
            headers,
            connect_timeout=settings.CARD_CENTER_CONNECT_TIMEOUT,
            read_timeout=settings.CARD_CENTER_TIMEOUT,
        )


def get_platform() -> NationalPlatform:
    return import_string(settings.NATIONAL_PLATFORM_BACKEND)()


# --- Delivery ------------------------------------------------------------------------------------


def event_document(event: ElectronicCardEvent) -> dict:
    """The event as the platform receives it. The holder is named by their social security
    number: the platform's key for the person's electronic card."""
    from cards.events import event_time

    card = event.card
    return {
        "id": str(event.event_id),
        "card": str(card.public_id),
        "card_number": card.card_number or None,
        "social_security_number": card.applicant.social_security_number or None,
        "from": event.from_status or None,
        "to": event.to_status,
        "transition": event.transition,
        "at": event_time(event.at),
    }


def event_body(event: ElectronicCardEvent) -> bytes:
    return json.dumps(event_document(event), separators=(",", ":"), ensure_ascii=False).encode()


EVENTS = delivery.InOrderOutbox(
    model=ElectronicCardEvent,
    uid_field="event_id",
    id_header="X-Shebao-Event-Id",
    user_agent="shebao-ecard/1",
    secret_setting="NATIONAL_PLATFORM_SECRET",
    related=("card", "card__applicant"),
    body=lambda event: event_body(event),
    backend=lambda: get_platform(),
    retry_delay=lambda attempts: delivery.retry_delay(
        attempts, base=settings.CARD_CENTER_RETRY_BASE, cap=settings.CARD_CENTER_RETRY_MAX
    ),
    what="electronic card event",
)


def event_deliver(*, event_id: int) -> str:
    """One attempt at one event (delivery.InOrderOutbox, as the card-center notices)."""
    return EVENTS.deliver(event_id)


def enqueue_delivery(event_id: int) -> None:
    try:
        deliver_event.apply_async((event_id,), queue=settings.NATIONAL_PLATFORM_QUEUE)
    except Exception:
        logger.warning("could not queue electronic card event %s", event_id, exc_info=True)


def kick() -> None:
    try:
        redrive_events.apply_async(
            kwargs={"grace_seconds": 0}, queue=settings.NATIONAL_PLATFORM_QUEUE
        )
    except Exception:
        logger.warning("could not queue the electronic card re-drive", exc_info=True)


def event_redrive(
    *, grace: datetime.timedelta | None = None, limit: int = REDRIVE_BATCH
) -> list[int]:
    """Queue a delivery for every due event that is the oldest undelivered of its card."""
    return EVENTS.redrive(grace=grace, limit=limit, enqueue=enqueue_delivery)


@shared_task(name="cards.electronic.deliver_event", acks_late=True, ignore_result=True)
def deliver_event(event_id: int) -> str:
    outcome = event_deliver(event_id=event_id)
    EVENTS.after_attempt(
        deliver_event,
        event_id,
        outcome,
        queue=settings.NATIONAL_PLATFORM_QUEUE,
        enqueue=enqueue_delivery,
    )
    return outcome


@shared_task(
    name="cards.electronic.redrive_events",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=50,
    time_limit=55,
)
def redrive_events(grace_seconds: float | None = None) -> int:
    grace = None if grace_seconds is None else datetime.timedelta(seconds=grace_seconds)
    return len(event_redrive(grace=grace))
