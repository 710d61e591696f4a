"""What every transition writes besides the card: one log row, one outbox event for the partner
bank, and, when the card becomes usable or unusable, one notice for the municipal information
service center (cards/cardcenter.py).

Both expiry paths (a service touching a due card, the sweep) and every other service build their
rows here, so the log and the events look the same whichever path wrote them.
"""

from __future__ import annotations

import datetime
import functools
import logging
from typing import Any

from django.db import transaction

from cards import cardcenter, metrics, webhooks
from cards.actors import Actor
from cards.choices import OutboxEventKind
from cards.models import Card, CardTransition, OutboxEvent

logger = logging.getLogger("cards.transitions")

UTC = datetime.UTC
# The one timestamp format of events (PostgreSQL's expiry SQL writes the same).
EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def event_time(at: datetime.datetime) -> str:
    return at.astimezone(UTC).strftime(EVENT_TIME_FORMAT)


def event_payload(
    *, public_id: str, name: str, from_status: str, to_status: str, at: datetime.datetime
) -> dict[str, str]:
    return {
        "event": OutboxEventKind.CARD_STATUS_CHANGED,
        "card": str(public_id),
        "transition": name,
        "from": from_status,
        "to": to_status,
        "at": event_time(at),
    }


def record_transition(
    *,
    card: Card,
    name: str,
    from_status: str,
    actor: Actor,
    now: datetime.datetime,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> CardTransition:
    """Append the log row, the outbox event and the card-center notice (if any) of one transition
    made at `now`; log a line after commit. (The expiry sweep writes these rows in bulk, dated at
    the deadline: cards/expiry.py.)"""
    row = CardTransition.objects.create(
        card=card,
        name=name,
        from_status=from_status,
        to_status=card.status,
        at=now,
        recorded_at=now,
        actor_kind=actor.kind,
        actor_user=actor.user,
        bank=actor.bank,
        service_point=actor.service_point,
        channel=actor.channel,
        reason=reason,
        data=data or {},
    )
    event = OutboxEvent.objects.create(
        kind=OutboxEventKind.CARD_STATUS_CHANGED,
        card=card,
        bank_id=card.bank_id,
        payload=event_payload(
            public_id=card.public_id,
            name=name,
            from_status=from_status,
            to_status=card.status,
            at=now,
        ),
        created_at=now,
        next_attempt_at=webhooks.first_attempt_at(card.bank_id, now),
    )
    metrics.transition_recorded(name, actor.kind)  # counted once the transaction commits
    if event.next_attempt_at is not None:  # the bank has a webhook: send it after the commit
        transaction.on_commit(functools.partial(webhooks.enqueue_delivery, event.pk))
    cardcenter.notice_for_transition(card=card, name=name, from_status=from_status, at=now)
    if not from_status and card.replaces_id is not None:
        cardcenter.new_card_recorded(card)
    # Side effects wait for the commit; the line names no person (PIPL).
    card_id, to_status, who = card.public_id, card.status, actor.describe()
    transaction.on_commit(
        lambda: logger.info(
            "card %s %s: %s -> %s by %s", card_id, name, from_status or "-", to_status, who
        )
    )
    return row
